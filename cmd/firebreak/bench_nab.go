package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/detectors/nab"
)

// cmdBenchNAB streams every NAB file through the service's detector (one
// configuration for all files) and scores it with the Go NAB scorer.
func cmdBenchNAB(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench nab", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak bench nab: score the detector on the Numenta Anomaly Benchmark (docs/nab.md).")
	data := fs.String("data", "", "NAB directory with data/<category>/*.csv, labels/combined_windows.json, config/profiles.json (e.g. ../shared/datasets/nab)")
	jsonOut := fs.Bool("json", false, "print the results as one JSON object on the last line")
	out := fs.String("out", "", "also write OUT/<category>/firebreak_<file>.csv (timestamp,value,anomaly_score), NAB's results layout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("bench nab: --data DIR is required (a NAB checkout or ../shared/datasets/nab)")
	}
	began := time.Now()
	c, err := nab.LoadCorpus(*data)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench nab: %d files from %s; streaming them through the detector\n", len(c.Files), *data)
	r, err := nab.Run(c, func(string) nab.PointScorer { return detectorScorer{anomaly.NewDetector(anomaly.DefaultConfig())} })
	if err != nil {
		return err
	}
	if *out != "" {
		if err := nab.WriteResultsCSV(*out, c, r.Scores); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench nab: wrote per-file scores under %s\n", *out)
	}
	fmt.Print(r.Summary())
	fmt.Fprintf(os.Stderr, "bench nab: done in %v\n", time.Since(began).Round(time.Millisecond))
	if *jsonOut {
		b, err := r.JSON()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}

// detectorScorer adapts the service's detector to NAB's PointScorer.
type detectorScorer struct{ d *anomaly.Detector }

func (s detectorScorer) Score(t time.Time, v float64) float64 {
	return s.d.Update(t.UnixMilli(), v).Score
}
