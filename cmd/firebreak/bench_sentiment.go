package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/support/sentiment"
)

// cmdBenchSentiment evaluates a sentiment model (the embedded one by
// default) on the rows of a data directory it never saw, and measures how
// many messages one goroutine scores per second.
func cmdBenchSentiment(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench sentiment", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak bench sentiment: accuracy and macro-F1 of the sentiment model per set and language, on rows it\n"+
		"never trained or tuned on, and its speed (collectors/support/sentiment/model/README.md).")
	data := fs.String("data", "", "directory with one folder per labelled set, as for train sentiment (e.g. ../shared/datasets/sentiment)")
	modelPath := fs.String("model", "", "model file (default: the model embedded in firebreak)")
	baseline := fs.Bool("baseline", false, "also report the lexicon baseline on the same rows")
	speed := fs.Duration("speed", 2*time.Second, "how long to measure scoring speed on the data's texts (0: skip)")
	jsonOut := fs.Bool("json", false, "print the model's results as one JSON object on the last line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("bench sentiment: --data DIR is required (e.g. ../shared/datasets/sentiment)")
	}
	var (
		m    *sentiment.Model
		size int64
		name = "embedded model"
		err  error
	)
	if *modelPath == "" {
		m, err = sentiment.EmbeddedModel()
		size = int64(sentiment.EmbeddedModelSize())
	} else {
		name = *modelPath
		m, err = sentiment.LoadModel(*modelPath)
		if st, serr := os.Stat(*modelPath); serr == nil {
			size = st.Size()
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench sentiment: %s (%d bytes, neutral band %.2f); evaluating on %s\n", name, size, m.NeutralBand(), *data)
	began := time.Now()
	rep, err := sentiment.Evaluate(m, *data)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench sentiment: evaluated in %v\n", time.Since(began).Round(time.Millisecond))
	fmt.Printf("%s, %d bytes:\n%s", name, size, rep.Table())
	if *baseline {
		b, err := sentiment.EvaluateScorer(sentiment.NewBaseline(), *data, m)
		if err != nil {
			return err
		}
		fmt.Printf("\nlexicon baseline on the same rows:\n%s", b.Table())
	}
	if *speed > 0 {
		ex, err := sentiment.Examples(*data)
		if err != nil {
			return err
		}
		n, wall, cpu := scoringSpeed(m, ex, *speed)
		fmt.Printf("\nspeed: %d messages (mean %d bytes) in %v on one goroutine: %.0f messages/s, %.0f messages per CPU second\n",
			n, meanBytes(ex), wall.Round(time.Millisecond), float64(n)/wall.Seconds(), float64(n)/cpu.Seconds())
	}
	if *jsonOut {
		b, err := rep.JSON()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}

// scoringSpeed scores the texts in turn for at least d and returns the
// count, the wall time and the process CPU time it took.
func scoringSpeed(s sentiment.Scorer, ex []sentiment.Example, d time.Duration) (int, time.Duration, time.Duration) {
	if len(ex) == 0 {
		return 0, 1, 1
	}
	cpu0 := processCPU()
	began := time.Now()
	n := 0
	for time.Since(began) < d {
		for range 1000 {
			s.Score(ex[n%len(ex)].Text, "")
			n++
		}
	}
	wall := time.Since(began)
	cpu := processCPU() - cpu0
	if cpu <= 0 {
		cpu = wall
	}
	return n, wall, cpu
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func meanBytes(ex []sentiment.Example) int {
	if len(ex) == 0 {
		return 0
	}
	n := 0
	for _, e := range ex {
		n += len(e.Text)
	}
	return n / len(ex)
}
