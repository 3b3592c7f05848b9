package nab

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ResultsDetector is the detector name WriteResultsCSV uses in file names.
const ResultsDetector = "firebreak"

// WriteResultsCSV writes, for every corpus file, OUT/<category>/
// firebreak_<file>.csv with the columns timestamp,value,anomaly_score
// (NAB's results layout; put OUT at NAB's results/firebreak to have NAB's
// own scorer check these scores).
func WriteResultsCSV(outDir string, c *Corpus, scores map[string][]float64) error {
	for _, f := range c.Files {
		s, ok := scores[f.Name]
		if !ok {
			return fmt.Errorf("nab: no scores for %s", f.Name)
		}
		if len(s) != len(f.Times) {
			return fmt.Errorf("nab: %s: %d scores for %d rows", f.Name, len(s), len(f.Times))
		}
		p := ResultsPath(outDir, ResultsDetector, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("nab: %w", err)
		}
		if err := writeScores(p, f, s); err != nil {
			return err
		}
	}
	return nil
}

// ResultsPath is NAB's results file for a detector and a corpus file:
// DIR/<category>/<detector>_<file>.csv.
func ResultsPath(dir, detector, file string) string {
	cat, base := path.Split(file)
	return filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(cat, "/")), detector+"_"+base)
}

func writeScores(p string, f *File, s []float64) error {
	fh, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("nab: %w", err)
	}
	w := bufio.NewWriter(fh)
	w.WriteString("timestamp,value,anomaly_score\n")
	var buf []byte
	for i, t := range f.Times {
		buf = t.AppendFormat(buf[:0], TimeLayout)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, f.Values[i], 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, s[i], 'g', -1, 64)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("nab: writing %s: %w", p, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("nab: writing %s: %w", p, err)
	}
	return nil
}

// LoadScoresCSV reads the anomaly_score column of a NAB results file
// (header row, then one row per data row).
func LoadScoresCSV(path string) ([]float64, error) {
	var out []float64
	err := csvTable(path, []string{"anomaly_score"}, func(_ int, rec []string, cols []int) error {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[cols[0]]), 64)
		if err != nil {
			return fmt.Errorf("bad anomaly_score %q", rec[cols[0]])
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// LoadDetectorResults reads a detector's NAB results directory
// (DIR/<category>/<detector>_<file>.csv) for every corpus file, checking
// that each has one score per data row with the data row's timestamp.
func LoadDetectorResults(dir, detector string, c *Corpus) (map[string][]float64, error) {
	out := make(map[string][]float64, len(c.Files))
	for _, f := range c.Files {
		p := ResultsPath(dir, detector, f.Name)
		i := 0
		var s []float64
		err := csvTable(p, []string{"timestamp", "anomaly_score"}, func(_ int, rec []string, cols []int) error {
			t, err := ParseTime(rec[cols[0]])
			if err != nil {
				return err
			}
			if i >= len(f.Times) {
				return fmt.Errorf("more rows than the %d of data/%s", len(f.Times), f.Name)
			}
			if !t.Equal(f.Times[i]) {
				return fmt.Errorf("timestamp %s, data/%s has %s", rec[cols[0]], f.Name, f.Times[i].Format(TimeLayout))
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[cols[1]]), 64)
			if err != nil {
				return fmt.Errorf("bad anomaly_score %q", rec[cols[1]])
			}
			s = append(s, v)
			i++
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(s) != len(f.Times) {
			return nil, fmt.Errorf("nab: %s: %d rows, data/%s has %d", p, len(s), f.Name, len(f.Times))
		}
		out[f.Name] = s
	}
	return out, nil
}
