package nab

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// synthFile is a file of n one-minute rows with windows given as
// inclusive row ranges.
func synthFile(t *testing.T, name string, n int, windows ...[2]int) *File {
	t.Helper()
	times := make([]time.Time, n)
	values := make([]float64, n)
	for i := range times {
		times[i] = t0.Add(time.Duration(i) * time.Minute)
		values[i] = float64(i % 7)
	}
	var ws [][2]time.Time
	for _, w := range windows {
		ws = append(ws, [2]time.Time{times[w[0]], times[w[1]]})
	}
	f, err := NewFile(name, times, values, ws)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func synthCorpus(files ...*File) *Corpus {
	c := &Corpus{Files: files, Profiles: DefaultProfiles()}
	slices.SortFunc(c.Files, func(a, b *File) int { return strings.Compare(a.Name, b.Name) })
	return c
}

// detections returns n scores that are 1 at the given rows, 0 elsewhere.
func detections(n int, rows ...int) []float64 {
	s := make([]float64, n)
	for _, r := range rows {
		s[r] = 1
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestProbationLength(t *testing.T) {
	// min(floor(0.15*n), 0.15*5000)
	for n, want := range map[int]int{1: 0, 6: 0, 7: 1, 20: 3, 100: 15, 1127: 169, 4032: 604, 5000: 750, 5315: 750, 22695: 750} {
		if got := ProbationLength(n); got != want {
			t.Errorf("ProbationLength(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestScaledSigmoid(t *testing.T) {
	// 2*sigmoid(-5y) - 1 == tanh(-5y/2); -1 beyond y = 3.
	for _, y := range []float64{-1, -0.5, -0.1, 0, 0.1, 1, 3} {
		if got, want := ScaledSigmoid(y), math.Tanh(-2.5*y); !near(got, want) {
			t.Errorf("ScaledSigmoid(%v) = %v, want %v", y, got, want)
		}
	}
	if got := ScaledSigmoid(3.0001); got != -1 {
		t.Errorf("ScaledSigmoid(3.0001) = %v, want -1", got)
	}
}

// The hand-computed cases. One file of 100 rows: the probationary period is
// floor(0.15*100) = 15 rows (0..14); one window covers rows 40..49 (width
// w = 10). With scaledSigmoid(y) = 2*sigmoid(-5y) - 1 = tanh(-5y/2):
//
//	maxTP = scaledSigmoid(-1) = tanh(2.5) = 0.98661429815143
//	row i in the window: y = -(49-i+1)/10, weight = tpW * scaledSigmoid(y) / maxTP
//	  row 40: y = -1   -> 1 (exactly)
//	  row 45: y = -0.5 -> tanh(1.25)/tanh(2.5) = 0.84828363995751/0.98661429815143 = 0.85979256690978
//	  row 49: y = -0.1 -> tanh(0.25)/tanh(2.5) = 0.24491866240371/0.98661429815143 = 0.24824154977543
//	row i after the window: y = (i-49)/(10-1), weight = fpW * scaledSigmoid(y)
//	  row 50: y = 1/9  -> tanh(-5/18) = -0.27084711851672; *0.11 = -0.02979318303684
//	  row 90: y = 41/9 > 3 -> -1; *0.11 = -0.11
//	row i before any window (after probation): -1 * fpW = -0.11
//	a window without detection: -fnW.
func TestHandComputedFileScores(t *testing.T) {
	f := synthFile(t, "cat/f.csv", 100, [2]int{40, 49})
	if f.Probation != 15 {
		t.Fatalf("probation = %d, want 15", f.Probation)
	}
	c := synthCorpus(f)
	p := prepare(c)
	std, lowFP, lowFN := c.Profiles[ProfileStandard], c.Profiles[ProfileRewardLowFP], c.Profiles[ProfileRewardLowFN]
	for _, tc := range []struct {
		name       string
		rows       []int
		pr         Profile
		raw        float64
		tp, fp, fn int
	}{
		{"TP at window start", []int{40}, std, 1, 1, 0, 0},
		{"TP mid-window", []int{45}, std, 0.85979256690978, 1, 0, 0},
		{"late TP (last row)", []int{49}, std, 0.24824154977543, 1, 0, 0},
		{"only the first detection in a window counts", []int{45, 47, 49}, std, 0.85979256690978, 1, 0, 0},
		{"FN", nil, std, -1, 0, 0, 1},
		{"FN under reward_low_FN", nil, lowFN, -2, 0, 0, 1},
		{"FP right after the window, window missed", []int{50}, std, -1 - 0.02979318303684, 0, 1, 1},
		{"FP right after the window, reward_low_FP", []int{50}, lowFP, -1 - 2*0.02979318303684, 0, 1, 1},
		{"TP then FP right after", []int{40, 50}, std, 1 - 0.02979318303684, 1, 1, 0},
		{"FP far after the window", []int{40, 90}, std, 1 - 0.11, 1, 1, 0},
		{"FP before any window", []int{20}, std, -1 - 0.11, 0, 1, 1},
		{"detections in the probationary period are ignored", []int{3, 14}, std, -1, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.scoreFile(0, detections(100, tc.rows...), 0.5, tc.pr)
			if !near(got.raw, tc.raw) || got.tp != tc.tp || got.fp != tc.fp || got.fn != tc.fn {
				t.Errorf("got raw %.14f tp %d fp %d fn %d, want raw %.14f tp %d fp %d fn %d",
					got.raw, got.tp, got.fp, got.fn, tc.raw, tc.tp, tc.fp, tc.fn)
			}
		})
	}
}

// A window partly inside the probationary period: detections in its
// probationary rows are ignored, its later rows score with positions
// relative to the whole window. A window entirely inside probation is not
// scored at all (but still counts in the perfect score, as in NAB).
func TestProbationaryWindows(t *testing.T) {
	// 100 rows, probation 0..14; window A rows 2..5 (inside probation),
	// window B rows 10..19 (straddles it).
	f := synthFile(t, "cat/p.csv", 100, [2]int{2, 5}, [2]int{10, 19})
	p := prepare(synthCorpus(f))
	std := DefaultProfiles()[ProfileStandard]
	// Nothing detected: only B is a FN.
	if got := p.scoreFile(0, detections(100), 0.5, std); got.raw != -1 || got.fn != 1 {
		t.Errorf("no detections: %+v, want raw -1 with 1 FN", got)
	}
	// Detection at row 12 (probation) ignored; row 15: y = -(19-15+1)/10 = -0.5.
	got := p.scoreFile(0, detections(100, 3, 12, 15), 0.5, std)
	if want := 0.85979256690978; !near(got.raw, want) || got.tp != 1 || got.fn != 0 || got.fp != 0 {
		t.Errorf("got %+v, want raw %.14f, 1 TP", got, want)
	}
}

// Two files, each with one window at rows 40..49 of 100. Detector: 0.9 at
// the start of file a's window, 0 everywhere else. Candidate thresholds:
// none (1.1): S = -2; 0.9: a's window detected at its start (+1), b's
// missed (-1): S = 0; 0: every row detected, FPs everywhere: far below.
// So S = 0, S_null = -2 (both windows missed), S_perfect = 2:
// standard = 100*(0+2)/(2+2) = 50; reward_low_FN: S = 1-2 = -1,
// S_null = -4, S_perfect = 2: 100*(-1+4)/(2+4) = 50.
func TestHandComputedCorpusScore(t *testing.T) {
	a := synthFile(t, "cat/a.csv", 100, [2]int{40, 49})
	b := synthFile(t, "cat/b.csv", 100, [2]int{40, 49})
	c := synthCorpus(a, b)
	sa := make([]float64, 100)
	sa[40] = 0.9
	r, err := ScoreResults(c, map[string][]float64{"cat/a.csv": sa, "cat/b.csv": make([]float64, 100)})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []float64{r.Standard, r.RewardLowFP, r.RewardLowFN} {
		if !near(got, 50) {
			t.Errorf("scores %v %v %v, want 50 each", r.Standard, r.RewardLowFP, r.RewardLowFN)
		}
	}
	if r.Thresholds[KeyStandard] != 0.9 || r.Null[KeyRewardLowFN] != -4 || r.Perfect[KeyStandard] != 2 {
		t.Errorf("threshold %v, null(low FN) %v, perfect %v", r.Thresholds[KeyStandard], r.Null[KeyRewardLowFN], r.Perfect[KeyStandard])
	}
	want := map[string]FileResult{"cat/a.csv": {TP: 1, RawStandard: 1}, "cat/b.csv": {FN: 1, RawStandard: -1}}
	for name, w := range want {
		if got := r.Files[name]; got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
	}
}

// The incremental sweep must find the same optimum as scoring every
// candidate threshold from scratch.
func TestSweepMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		var files []*File
		for fi := range 1 + rng.IntN(4) {
			n := 10 + rng.IntN(300)
			var ws [][2]int
			for at := rng.IntN(n/3 + 1); at < n-1 && rng.IntN(4) > 0; {
				end := min(n-1, at+1+rng.IntN(40))
				ws = append(ws, [2]int{at, end})
				at = end + 1 + rng.IntN(n/2+1)
			}
			files = append(files, synthFile(t, "c/f"+string(rune('a'+fi))+".csv", n, ws...))
		}
		c := synthCorpus(files...)
		p := prepare(c)
		levels := 2 + rng.IntN(30)
		flat := make([]float64, c.Rows())
		for i := range flat {
			flat[i] = float64(rng.IntN(levels)) / float64(levels-1)
		}
		order := descending(flat)
		for _, pr := range DefaultProfiles() {
			th, best := p.sweep(flat, order, pr)
			total := func(th float64) float64 {
				s := 0.0
				for fi := range c.Files {
					s += p.scoreFile(fi, flat, th, pr).raw
				}
				return s
			}
			cands := append(slices.Clone(flat), noDetections)
			slices.Sort(cands)
			cands = slices.Compact(cands)
			bruteBest := math.Inf(-1)
			for _, x := range cands {
				bruteBest = max(bruteBest, total(x))
			}
			if !near(best, bruteBest) || !near(total(th), bruteBest) {
				t.Fatalf("iter %d %+v: sweep threshold %v best %v (rescored %v), brute force best %v",
					iter, pr, th, best, total(th), bruteBest)
			}
		}
	}
}

func TestLoadCorpusSynthetic(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config/profiles.json", `{
"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
"reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
"reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}}
}`)
	var rows strings.Builder
	rows.WriteString("timestamp,value\n")
	for i := range 40 {
		rows.WriteString(t0.Add(time.Duration(i)*5*time.Minute).Format(TimeLayout) + ",1.5\n")
	}
	write("data/catA/a.csv", rows.String())
	write("labels/combined_windows.json", `{
  "catA/a.csv": [["2024-01-01 01:00:00.000000", "2024-01-01 01:30:00.000000"]],
  "catB/absent.csv": [["2024-01-01 01:00:00.000000", "2024-01-01 01:30:00.000000"]]
}`)
	c, err := LoadCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 1 || c.Files[0].Name != "catA/a.csv" {
		t.Fatalf("files %v, want only catA/a.csv (label entries for absent files are ignored)", c.Files)
	}
	f := c.Files[0]
	if len(f.Times) != 40 || f.Values[3] != 1.5 || f.Probation != 6 {
		t.Errorf("rows %d, value %v, probation %d", len(f.Times), f.Values[3], f.Probation)
	}
	if len(f.Windows) != 1 || f.Windows[0].First != 12 || f.Windows[0].Last != 18 {
		t.Errorf("windows %+v, want rows 12..18", f.Windows)
	}
	if c.Profiles[ProfileRewardLowFN] != (Profile{TP: 1, FP: 0.11, FN: 2, TN: 1}) {
		t.Errorf("profiles %+v", c.Profiles)
	}

	// Errors name the file (and line).
	write("labels/combined_windows.json", `{"catA/a.csv": [], "catA/b.csv": []}`)
	write("data/catA/b.csv", "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,x\n")
	if _, err := LoadCorpus(dir); err == nil || !strings.Contains(err.Error(), "catA/b.csv:3") || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad value: %v", err)
	}
	write("data/catA/b.csv", "timestamp,value\n2024-01-01 00:00:00,1\n2024-13-01 00:05:00,1\n")
	if _, err := LoadCorpus(dir); err == nil || !strings.Contains(err.Error(), "catA/b.csv:3") {
		t.Errorf("bad timestamp: %v", err)
	}
	write("labels/combined_windows.json", `{"catA/a.csv": []}`)
	write("data/catA/b.csv", "timestamp,value\n2024-01-01 00:00:00,1\n")
	if _, err := LoadCorpus(dir); err == nil || !strings.Contains(err.Error(), "catA/b.csv") || !strings.Contains(err.Error(), "no entry") {
		t.Errorf("file without labels: %v", err)
	}
	os.Remove(filepath.Join(dir, "data/catA/b.csv"))
	write("labels/combined_windows.json", `{"catA/a.csv": [["2024-01-01 01:01:00", "2024-01-01 01:30:00"]]}`)
	if _, err := LoadCorpus(dir); err == nil || !strings.Contains(err.Error(), "catA/a.csv") || !strings.Contains(err.Error(), "not a timestamp") {
		t.Errorf("window off the rows: %v", err)
	}
}

type fnScorer func(t time.Time, v float64) float64

func (f fnScorer) Score(t time.Time, v float64) float64 { return f(t, v) }

func TestRunJSONAndResultsCSV(t *testing.T) {
	a := synthFile(t, "cat/a.csv", 100, [2]int{40, 49})
	b := synthFile(t, "dog/b.csv", 120, [2]int{70, 79})
	c := synthCorpus(a, b)
	// A detector that fires at the start of each window and, in a, once
	// far from it: standard S = 1 + 1 - 0.11.
	fire := map[string]map[time.Time]bool{
		"cat/a.csv": {a.Times[40]: true, a.Times[95]: true},
		"dog/b.csv": {b.Times[70]: true},
	}
	r, err := Run(c, func(file string) PointScorer {
		return fnScorer(func(t time.Time, _ float64) float64 {
			if fire[file][t] {
				return 1
			}
			return 0.25
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// S = 1.89, null -2, perfect 2: 100*3.89/4 = 97.25.
	if !near(r.Standard, 97.25) {
		t.Errorf("standard = %v, want 97.25", r.Standard)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]json.RawMessage
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range decoded {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"files", "reward_low_FN", "reward_low_FP", "standard"}) {
		t.Errorf("JSON keys %v", keys)
	}
	var files map[string]map[string]float64
	if err := json.Unmarshal(decoded["files"], &files); err != nil {
		t.Fatal(err)
	}
	if fa := files["cat/a.csv"]; fa["tp"] != 1 || fa["fp"] != 1 || fa["fn"] != 0 || !near(fa["raw_standard"], 0.89) {
		t.Errorf("files[cat/a.csv] = %v (JSON %s)", fa, js)
	}

	out := t.TempDir()
	if err := WriteResultsCSV(out, c, r.Scores); err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Files {
		p := ResultsPath(out, "firebreak", f.Name)
		got, err := LoadScoresCSV(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, r.Scores[f.Name]) {
			t.Errorf("%s: scores do not round-trip", p)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "dog", "firebreak_b.csv")); err != nil {
		t.Error(err)
	}
	back, err := LoadDetectorResults(out, "firebreak", c)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := ScoreResults(c, back)
	if err != nil || r2.Standard != r.Standard {
		t.Errorf("rescored from CSV: %v, %v", r2, err)
	}

	// A score outside [0,1] and a panicking detector are errors naming the file.
	if _, err := Run(c, func(string) PointScorer {
		return fnScorer(func(time.Time, float64) float64 { return 1.5 })
	}); err == nil || !strings.Contains(err.Error(), "cat/a.csv") {
		t.Errorf("score 1.5: %v", err)
	}
	if _, err := Run(c, func(file string) PointScorer {
		return fnScorer(func(time.Time, float64) float64 {
			if file == "dog/b.csv" {
				panic("boom")
			}
			return 0
		})
	}); err == nil || !strings.Contains(err.Error(), "dog/b.csv") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic: %v", err)
	}
}

func TestScoreResultsRejectsBadInput(t *testing.T) {
	c := synthCorpus(synthFile(t, "cat/a.csv", 100, [2]int{40, 49}))
	for name, scores := range map[string]map[string][]float64{
		"missing file": {},
		"short":        {"cat/a.csv": make([]float64, 99)},
		"unknown file": {"cat/a.csv": make([]float64, 100), "cat/zzz.csv": nil},
		"NaN":          {"cat/a.csv": append(make([]float64, 99), math.NaN())},
	} {
		if _, err := ScoreResults(c, scores); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
