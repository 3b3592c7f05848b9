package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/logpatterns"
)

// cmdBenchLoghub mines the templates of every Loghub-2k system present
// (one configuration for all) and scores them against the corrected
// ground truth (docs/log-patterns.md).
func cmdBenchLoghub(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench loghub", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak bench loghub: score the log template miner on Loghub-2k (grouping accuracy, parsing accuracy, template F1; docs/log-patterns.md).")
	data := fs.String("data", "", "Loghub-2k directory with <Sys>/<Sys>_2k.log and <Sys>_2k.log_structured_corrected.csv (e.g. ../shared/datasets/loghub2k); systems absent are skipped")
	jsonOut := fs.Bool("json", false, "print the results as one JSON object on the last line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("bench loghub: --data DIR is required (a Loghub-2k folder such as ../shared/datasets/loghub2k)")
	}
	began := time.Now()
	fmt.Fprintf(os.Stderr, "bench loghub: mining the Loghub-2k systems under %s with the default configuration\n", *data)
	r, err := logpatterns.RunLoghub(*data, os.Stderr)
	if err != nil {
		return fmt.Errorf("bench loghub: %w", err)
	}
	fmt.Print(r.Summary())
	fmt.Fprintf(os.Stderr, "bench loghub: %d systems in %v\n", len(r.Systems), time.Since(began).Round(time.Millisecond))
	if *jsonOut {
		b, err := r.JSON()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}
