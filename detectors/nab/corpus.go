// Package nab scores anomaly detectors on the Numenta Anomaly Benchmark
// (NAB) the way NAB itself does (NAB commit ea702d7): anomaly windows,
// probationary period, scaled-sigmoid weighting, the three application
// profiles, an exact corpus-wide threshold sweep and normalisation against
// the null and perfect detectors. It also streams NAB's files through a
// detector (Run) and writes/reads NAB's results CSV layout.
//
// The rules implemented here, with their formulas and how they were checked
// against NAB's own numbers, are in docs/nab.md.
package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the timestamp layout of NAB's data and results files.
// Label timestamps carry a fractional part (".000000"), which parsing accepts.
const TimeLayout = "2006-01-02 15:04:05"

// ProbationPercent is NAB's default probationary fraction (run.py's
// --probationaryPercent default).
const ProbationPercent = 0.15

// NAB's profile names as they appear in config/profiles.json.
const (
	ProfileStandard    = "standard"
	ProfileRewardLowFP = "reward_low_FP_rate"
	ProfileRewardLowFN = "reward_low_FN_rate"
)

// Profile is one application profile's cost matrix.
type Profile struct {
	TP, FP, FN, TN float64
}

// DefaultProfiles returns NAB's three profiles (config/profiles.json).
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		ProfileStandard:    {TP: 1, FP: 0.11, FN: 1, TN: 1},
		ProfileRewardLowFP: {TP: 1, FP: 0.22, FN: 1, TN: 1},
		ProfileRewardLowFN: {TP: 1, FP: 0.11, FN: 2, TN: 1},
	}
}

// Window is one labelled anomaly window of a file. First and Last are the
// (inclusive) row indices of its start and end timestamps.
type Window struct {
	Start, End  time.Time
	First, Last int
}

// File is one NAB series: its rows in file order (the order NAB streams
// and scores them; NAB's raw files hold a few duplicate and one backward
// timestamp, which NAB keeps as they are) and its anomaly windows.
type File struct {
	Name    string // "<category>/<file>.csv", as keyed in NAB's labels
	Times   []time.Time
	Values  []float64
	Windows []Window
	// Probation is the number of leading rows in the probationary period:
	// rows with index < Probation are ignored by the scorer.
	Probation int
}

// Corpus is a set of NAB files with their labels and scoring profiles.
type Corpus struct {
	Dir      string
	Files    []*File // LoadCorpus sorts them by Name
	Profiles map[string]Profile
}

// File returns the file with the given name, or nil.
func (c *Corpus) File(name string) *File {
	for _, f := range c.Files {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Rows returns the total number of rows in the corpus.
func (c *Corpus) Rows() int {
	n := 0
	for _, f := range c.Files {
		n += len(f.Times)
	}
	return n
}

// ProbationLength is NAB's probationary period for a file of n rows:
// min(floor(0.15*n), 0.15*5000), i.e. at most 750 rows. Rows whose index
// is below it are probationary; the returned count is the number of them.
func ProbationLength(n int) int {
	l := math.Min(math.Floor(ProbationPercent*float64(n)), ProbationPercent*5000)
	// NAB tests `i >= probationaryLength` with a float length.
	return int(math.Ceil(l))
}

// NewFile builds a File from its rows and window limits ([start, end]
// pairs, inclusive), resolving each window to row indices the way NAB does:
// a window starts at the first row whose timestamp equals its start and
// ends at the first row whose timestamp equals its end. Window limits that
// are not row timestamps, inverted or overlapping windows are errors (NAB
// cannot score them either).
func NewFile(name string, times []time.Time, values []float64, windows [][2]time.Time) (*File, error) {
	if len(times) != len(values) {
		return nil, fmt.Errorf("nab: %s: %d timestamps but %d values", name, len(times), len(values))
	}
	f := &File{Name: name, Times: times, Values: values, Probation: ProbationLength(len(times))}
	first := make(map[int64]int, len(times))
	for i := len(times) - 1; i >= 0; i-- {
		first[times[i].UnixNano()] = i
	}
	ws := append([][2]time.Time(nil), windows...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i][0].Before(ws[j][0]) })
	for _, w := range ws {
		a, okA := first[w[0].UnixNano()]
		b, okB := first[w[1].UnixNano()]
		switch {
		case !okA:
			return nil, fmt.Errorf("nab: %s: window start %s is not a timestamp of the file", name, w[0].Format(TimeLayout))
		case !okB:
			return nil, fmt.Errorf("nab: %s: window end %s is not a timestamp of the file", name, w[1].Format(TimeLayout))
		case b < a:
			return nil, fmt.Errorf("nab: %s: window [%s, %s] ends before it starts", name, w[0].Format(TimeLayout), w[1].Format(TimeLayout))
		}
		if n := len(f.Windows); n > 0 && a <= f.Windows[n-1].Last {
			return nil, fmt.Errorf("nab: %s: window starting %s overlaps the previous window", name, w[0].Format(TimeLayout))
		}
		f.Windows = append(f.Windows, Window{Start: w[0], End: w[1], First: a, Last: b})
	}
	return f, nil
}

// LoadCorpus reads a NAB directory: DIR/data/<category>/*.csv,
// DIR/labels/combined_windows.json and DIR/config/profiles.json. Only the
// files present under data/ are loaded; label entries for absent files are
// ignored, and a data file without a label entry is an error.
func LoadCorpus(dir string) (*Corpus, error) {
	profiles, err := loadProfiles(filepath.Join(dir, "config", "profiles.json"))
	if err != nil {
		return nil, err
	}
	labelsPath := filepath.Join(dir, "labels", "combined_windows.json")
	labels, err := loadWindows(labelsPath)
	if err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "data", "*", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("nab: listing %s: %w", filepath.Join(dir, "data"), err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("nab: no data files in %s (expected data/<category>/*.csv)", filepath.Join(dir, "data"))
	}
	c := &Corpus{Dir: dir, Profiles: profiles}
	for _, p := range paths {
		name := filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p)
		ws, ok := labels[name]
		if !ok {
			return nil, fmt.Errorf("nab: %s: no entry %q in %s", p, name, labelsPath)
		}
		times, values, err := readDataCSV(p)
		if err != nil {
			return nil, err
		}
		f, err := NewFile(name, times, values, ws)
		if err != nil {
			return nil, fmt.Errorf("%w (labels in %s)", err, labelsPath)
		}
		c.Files = append(c.Files, f)
	}
	sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].Name < c.Files[j].Name })
	return c, nil
}

func loadProfiles(path string) (map[string]Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	var raw map[string]struct {
		CostMatrix *struct {
			TP *float64 `json:"tpWeight"`
			FN *float64 `json:"fnWeight"`
			FP *float64 `json:"fpWeight"`
			TN *float64 `json:"tnWeight"`
		} `json:"CostMatrix"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("nab: %s: %w", path, err)
	}
	out := make(map[string]Profile, len(raw))
	for name, p := range raw {
		m := p.CostMatrix
		if m == nil || m.TP == nil || m.FN == nil || m.FP == nil {
			return nil, fmt.Errorf("nab: %s: profile %q lacks CostMatrix tpWeight/fpWeight/fnWeight", path, name)
		}
		pr := Profile{TP: *m.TP, FP: *m.FP, FN: *m.FN}
		if m.TN != nil {
			pr.TN = *m.TN
		}
		out[name] = pr
	}
	for _, name := range []string{ProfileStandard, ProfileRewardLowFP, ProfileRewardLowFN} {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("nab: %s: profile %q missing", path, name)
		}
	}
	return out, nil
}

func loadWindows(path string) (map[string][][2]time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nab: %w", err)
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("nab: %s: %w", path, err)
	}
	out := make(map[string][][2]time.Time, len(raw))
	for name, ws := range raw {
		for i, w := range ws {
			if len(w) != 2 {
				return nil, fmt.Errorf("nab: %s: %s: window %d has %d limits, want 2", path, name, i, len(w))
			}
			var lim [2]time.Time
			for j, s := range w {
				t, err := ParseTime(s)
				if err != nil {
					return nil, fmt.Errorf("nab: %s: %s: window %d: %w", path, name, i, err)
				}
				lim[j] = t
			}
			out[name] = append(out[name], lim)
		}
		if _, ok := out[name]; !ok {
			out[name] = nil
		}
	}
	return out, nil
}

// ParseTime parses a NAB timestamp ("YYYY-MM-DD HH:MM:SS", optionally with
// fractional seconds) as UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q (want YYYY-MM-DD HH:MM:SS)", s)
	}
	return t, nil
}

// csvTable reads a CSV with a header and calls row for every data row with
// the record and its line number.
func csvTable(path string, want []string, row func(line int, rec []string, cols []int) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("nab: %w", err)
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	hdr, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("nab: %s: empty file", path)
		}
		return fmt.Errorf("nab: %s: %w", path, err)
	}
	cols := make([]int, len(want))
	for i, w := range want {
		cols[i] = -1
		for j, h := range hdr {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), w) {
				cols[i] = j
				break
			}
		}
		if cols[i] < 0 {
			return fmt.Errorf("nab: %s:1: no %q column in header %q", path, w, strings.Join(hdr, ","))
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("nab: %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		for _, c := range cols {
			if c >= len(rec) {
				return fmt.Errorf("nab: %s:%d: %d fields, want at least %d", path, line, len(rec), c+1)
			}
		}
		if err := row(line, rec, cols); err != nil {
			return fmt.Errorf("nab: %s:%d: %w", path, line, err)
		}
	}
}

func readDataCSV(path string) ([]time.Time, []float64, error) {
	var times []time.Time
	var values []float64
	err := csvTable(path, []string{"timestamp", "value"}, func(_ int, rec []string, cols []int) error {
		t, err := ParseTime(rec[cols[0]])
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[cols[1]]), 64)
		if err != nil {
			return fmt.Errorf("bad value %q", rec[cols[1]])
		}
		times = append(times, t)
		values = append(values, v)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(times) == 0 {
		return nil, nil, fmt.Errorf("nab: %s: no rows", path)
	}
	return times, values, nil
}
