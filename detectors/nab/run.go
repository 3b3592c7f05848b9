package nab

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// PointScorer scores one series as it streams; a fresh one per file.
type PointScorer interface {
	// Score consumes one point and returns its anomaly score in [0,1].
	Score(t time.Time, v float64) float64
}

// Factory returns a fresh PointScorer for the named file
// ("<category>/<file>.csv"). Run calls it from several goroutines (one
// file each); every PointScorer it returns is used by one goroutine only.
type Factory func(file string) PointScorer

// Run streams every file of the corpus through a fresh scorer from f, row
// by row in file order (NAB's order, which is the timestamp order of the
// files), collects the scores and scores them with ScoreResults. Files are
// streamed concurrently. Results.Scores holds the scores, for
// WriteResultsCSV.
func Run(c *Corpus, f Factory) (*Results, error) {
	scores, err := Stream(c, f)
	if err != nil {
		return nil, err
	}
	return ScoreResults(c, scores)
}

// Stream runs the detector over every file like Run and returns the
// per-row scores without scoring them. A score outside [0,1] (or NaN) and
// a panicking scorer are errors naming the file and row.
func Stream(c *Corpus, f Factory) (map[string][]float64, error) {
	out := make(map[string][]float64, len(c.Files))
	errs := make([]error, len(c.Files))
	res := make([][]float64, len(c.Files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(c.Files))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fi := range jobs {
				res[fi], errs[fi] = streamFile(c.Files[fi], f)
			}
		}()
	}
	for fi := range c.Files {
		jobs <- fi
	}
	close(jobs)
	wg.Wait()
	for fi, file := range c.Files {
		if errs[fi] != nil {
			return nil, errs[fi]
		}
		out[file.Name] = res[fi]
	}
	return out, nil
}

func streamFile(file *File, f Factory) (scores []float64, err error) {
	row := -1
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("nab: %s: row %d: detector panicked: %v", file.Name, row, p)
		}
	}()
	s := f(file.Name)
	if s == nil {
		return nil, fmt.Errorf("nab: %s: factory returned no scorer", file.Name)
	}
	scores = make([]float64, len(file.Times))
	for row = range file.Times {
		v := s.Score(file.Times[row], file.Values[row])
		if math.IsNaN(v) || v < 0 || v > 1 {
			return nil, fmt.Errorf("nab: %s: row %d (%s): anomaly score %v outside [0,1]",
				file.Name, row, file.Times[row].Format(TimeLayout), v)
		}
		scores[row] = v
	}
	return scores, nil
}
