package logpatterns

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LoghubSystems are the 16 systems of Loghub-2k, in the benchmark's order.
var LoghubSystems = []string{"HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
	"Linux", "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac"}

// Scores are one system's figures (or the mean of them).
type Scores struct {
	// GroupingAccuracy: share of lines whose predicted group holds exactly
	// the lines of their ground-truth group (Loghub's GA).
	GroupingAccuracy float64 `json:"grouping_accuracy"`
	// ParsingAccuracy: share of lines whose predicted template equals the
	// ground truth after NormalizeTemplate (Loghub-2.0's PA).
	ParsingAccuracy float64 `json:"parsing_accuracy"`
	// TemplateF1: Loghub-2.0's FTA, the F1 of template accuracy: a
	// predicted template is correct when its group is exactly a
	// ground-truth group and its text equals that group's template.
	TemplateF1 float64 `json:"template_f1"`
	// LinesPerSec: header split plus mining, one goroutine (systems only).
	LinesPerSec float64 `json:"lines_per_sec,omitempty"`

	// Not in the JSON: group-level F1 (Loghub-2.0's FGA), template counts.
	GroupF1       float64 `json:"-"`
	Lines         int     `json:"-"`
	Templates     int     `json:"-"`
	TruthTemplate int     `json:"-"`
}

// Result is a Loghub run: per-system scores and their mean.
type Result struct {
	Systems map[string]*Scores
	Mean    Scores
	// Config is the one configuration every system ran with.
	Config Config
}

// Evaluation compares predicted groups and templates with the truth, line
// by line.
func Evaluate(predGroup []int, predTemplate []string, truthTemplate []string) Scores {
	n := len(truthTemplate)
	s := Scores{Lines: n}
	if n == 0 {
		return s
	}
	truthIdx := map[string]int{}
	truth := make([]int, n)
	for i, t := range truthTemplate {
		k, ok := truthIdx[t]
		if !ok {
			k = len(truthIdx)
			truthIdx[t] = k
		}
		truth[i] = k
	}
	truthSize := make([]int, len(truthIdx))
	for _, k := range truth {
		truthSize[k]++
	}
	type group struct {
		size, truth int
		pure        bool
		line        int
	}
	groups := map[int]*group{}
	for i, p := range predGroup {
		g := groups[p]
		if g == nil {
			g = &group{truth: truth[i], pure: true, line: i}
			groups[p] = g
		}
		g.size++
		if truth[i] != g.truth {
			g.pure = false
		}
	}
	correctLines, correctGroups, correctTemplates := 0, 0, 0
	for _, g := range groups {
		if !g.pure || g.size != truthSize[g.truth] {
			continue
		}
		correctLines += g.size
		correctGroups++
		if NormalizeTemplate(predTemplate[g.line]) == NormalizeTemplate(truthTemplate[g.line]) {
			correctTemplates++
		}
	}
	parsed := 0
	for i := range truthTemplate {
		if NormalizeTemplate(predTemplate[i]) == NormalizeTemplate(truthTemplate[i]) {
			parsed++
		}
	}
	f1 := func(correct int) float64 {
		if correct == 0 {
			return 0
		}
		p := float64(correct) / float64(len(groups))
		r := float64(correct) / float64(len(truthSize))
		return 2 * p * r / (p + r)
	}
	s.GroupingAccuracy = float64(correctLines) / float64(n)
	s.ParsingAccuracy = float64(parsed) / float64(n)
	s.TemplateF1 = f1(correctTemplates)
	s.GroupF1 = f1(correctGroups)
	s.Templates = len(groups)
	s.TruthTemplate = len(truthSize)
	return s
}

// NormalizeTemplate makes template texts comparable: blanks collapse to
// one space, and wildcards joined by nothing or by a dot ("<*><*>",
// "<*>.<*>") become one, as in Loghub-2.0's template correction.
func NormalizeTemplate(t string) string {
	t = strings.Join(strings.Fields(t), " ")
	for {
		u := strings.ReplaceAll(t, "<*><*>", Wildcard)
		u = strings.ReplaceAll(u, "<*>.<*>", Wildcard)
		if u == t {
			return t
		}
		t = u
	}
}

// LoghubSystem is one system's lines and ground truth.
type LoghubSystem struct {
	Name     string
	Lines    []string // raw lines
	Content  []string // ground-truth Content column
	Template []string // ground-truth EventTemplate column
}

// LoadLoghubSystem reads DIR/<sys>/<sys>_2k.log and its corrected ground
// truth (<sys>_2k.log_structured_corrected.csv, or the original
// _structured.csv when there is no corrected one).
func LoadLoghubSystem(dir, sys string) (*LoghubSystem, error) {
	base := filepath.Join(dir, sys, sys+"_2k.log")
	raw, err := os.ReadFile(base)
	if err != nil {
		return nil, err
	}
	s := &LoghubSystem{Name: sys}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		s.Lines = append(s.Lines, line)
	}
	truthPath := base + "_structured_corrected.csv"
	f, err := os.Open(truthPath)
	if os.IsNotExist(err) {
		truthPath = base + "_structured.csv"
		f, err = os.Open(truthPath)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: ground truth: %w", sys, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", truthPath, err)
	}
	col := func(name string) int {
		for i, h := range head {
			if strings.TrimPrefix(h, "\ufeff") == name {
				return i
			}
		}
		return -1
	}
	ci, ti := col("Content"), col("EventTemplate")
	if ci < 0 || ti < 0 {
		return nil, fmt.Errorf("%s: no Content or EventTemplate column", truthPath)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", truthPath, err)
		}
		if len(rec) <= max(ci, ti) {
			return nil, fmt.Errorf("%s: short record %q", truthPath, rec)
		}
		s.Content = append(s.Content, rec[ci])
		s.Template = append(s.Template, rec[ti])
	}
	if len(s.Content) != len(s.Lines) {
		return nil, fmt.Errorf("%s: %d log lines but %d ground-truth rows", sys, len(s.Lines), len(s.Content))
	}
	return s, nil
}

// Parse runs the lines through a fresh miner and returns each line's final
// group (the cluster it ended in) and the final template of that group.
func (s *LoghubSystem) Parse(cfg Config, h *HeaderFormat) (group []int, template []string, err error) {
	m := NewMiner(cfg)
	group = make([]int, len(s.Lines))
	for i, line := range s.Lines {
		content, ok := h.Content(line)
		if !ok {
			return nil, nil, fmt.Errorf("%s line %d does not match the log format %q: %q", s.Name, i+1, h, line)
		}
		group[i] = m.Add(content).Cluster
	}
	template = make([]string, len(s.Lines))
	final := m.finalClusters()
	for i, g := range group {
		group[i] = final[g]
		template[i] = m.clusters[group[i]].text
	}
	return group, template, nil
}

// RunLoghub runs every DIR/<Sys>/<Sys>_2k.log present (of LoghubSystems)
// with DefaultConfig and scores it against its ground truth. Progress
// lines go to progress (may be nil).
func RunLoghub(dir string, progress io.Writer) (*Result, error) {
	return RunLoghubConfig(dir, DefaultConfig(), progress)
}

// RunLoghubConfig is RunLoghub with a given configuration.
func RunLoghubConfig(dir string, cfg Config, progress io.Writer) (*Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	res := &Result{Systems: map[string]*Scores{}, Config: cfg.withDefaults()}
	for _, sys := range LoghubSystems {
		if _, err := os.Stat(filepath.Join(dir, sys, sys+"_2k.log")); err != nil {
			continue
		}
		s, err := LoadLoghubSystem(dir, sys)
		if err != nil {
			return nil, err
		}
		h := MustHeaderFormat(LoghubFormats[sys])
		group, tmpl, err := s.Parse(cfg, h)
		if err != nil {
			return nil, err
		}
		sc := Evaluate(group, tmpl, s.Template)
		sc.LinesPerSec = s.throughput(cfg, h)
		res.Systems[sys] = &sc
		fmt.Fprintf(progress, "loghub %s: GA %.3f PA %.3f FTA %.3f (%d templates, truth %d), %.0f lines/s\n",
			sys, sc.GroupingAccuracy, sc.ParsingAccuracy, sc.TemplateF1, sc.Templates, sc.TruthTemplate, sc.LinesPerSec)
	}
	if len(res.Systems) == 0 {
		return nil, fmt.Errorf("no Loghub-2k system found under %s (want %s/<Sys>/<Sys>_2k.log)", dir, dir)
	}
	for _, sc := range res.Systems {
		res.Mean.GroupingAccuracy += sc.GroupingAccuracy
		res.Mean.ParsingAccuracy += sc.ParsingAccuracy
		res.Mean.TemplateF1 += sc.TemplateF1
		res.Mean.GroupF1 += sc.GroupF1
		res.Mean.LinesPerSec += sc.LinesPerSec
		res.Mean.Lines += sc.Lines
	}
	n := float64(len(res.Systems))
	res.Mean.GroupingAccuracy /= n
	res.Mean.ParsingAccuracy /= n
	res.Mean.TemplateF1 /= n
	res.Mean.GroupF1 /= n
	res.Mean.LinesPerSec /= n
	return res, nil
}

// throughput is the best of at least three timed passes (fresh miner
// each, and passes until 0.2 s were spent) of header split plus Add over
// the system's lines, on one goroutine.
func (s *LoghubSystem) throughput(cfg Config, h *HeaderFormat) float64 {
	best := time.Duration(math.MaxInt64)
	var spent time.Duration
	for pass := 0; pass < 3 || (spent < 200*time.Millisecond && pass < 100); pass++ {
		m := NewMiner(cfg)
		t0 := time.Now()
		for _, line := range s.Lines {
			if c, ok := h.Content(line); ok {
				m.Add(c)
			}
		}
		d := time.Since(t0)
		best = min(best, d)
		spent += d
	}
	if best <= 0 {
		return 0
	}
	return float64(len(s.Lines)) / best.Seconds()
}

// Names lists the systems scored, in LoghubSystems order.
func (r *Result) Names() []string {
	var out []string
	for _, s := range LoghubSystems {
		if r.Systems[s] != nil {
			out = append(out, s)
		}
	}
	return out
}

// JSON renders {"systems": {...}, "mean": {...}}: per system
// grouping_accuracy, parsing_accuracy, template_f1, lines_per_sec; the
// mean without lines_per_sec.
func (r *Result) JSON() ([]byte, error) {
	var b bytes.Buffer
	num := func(v float64) string { return strconv.FormatFloat(round4(v), 'f', -1, 64) }
	b.WriteString(`{"systems": {`)
	for i, name := range r.Names() {
		s := r.Systems[name]
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(name)
		fmt.Fprintf(&b, `%s: {"grouping_accuracy": %s, "parsing_accuracy": %s, "template_f1": %s, "lines_per_sec": %s}`,
			k, num(s.GroupingAccuracy), num(s.ParsingAccuracy), num(s.TemplateF1), strconv.FormatFloat(math.Round(s.LinesPerSec), 'f', -1, 64))
	}
	fmt.Fprintf(&b, `}, "mean": {"grouping_accuracy": %s, "parsing_accuracy": %s, "template_f1": %s}}`,
		num(r.Mean.GroupingAccuracy), num(r.Mean.ParsingAccuracy), num(r.Mean.TemplateF1))
	return b.Bytes(), nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// Summary renders the per-system table.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %6s %6s %6s %6s %5s %5s %10s\n", "system", "GA", "PA", "FTA", "FGA", "tmpl", "truth", "lines/s")
	for _, name := range r.Names() {
		s := r.Systems[name]
		fmt.Fprintf(&b, "%-12s %6.3f %6.3f %6.3f %6.3f %5d %5d %10.0f\n", name, s.GroupingAccuracy, s.ParsingAccuracy,
			s.TemplateF1, s.GroupF1, s.Templates, s.TruthTemplate, s.LinesPerSec)
	}
	fmt.Fprintf(&b, "%-12s %6.3f %6.3f %6.3f %6.3f %5s %5s %10.0f\n", fmt.Sprintf("mean (%d)", len(r.Systems)), r.Mean.GroupingAccuracy,
		r.Mean.ParsingAccuracy, r.Mean.TemplateF1, r.Mean.GroupF1, "", "", r.Mean.LinesPerSec)
	return b.String()
}
