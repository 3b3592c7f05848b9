package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/support/sentiment"
)

// cmdTrainSentiment trains the zh/en sentiment model of the support
// collector and writes the model file (collectors/support/sentiment/model).
func cmdTrainSentiment(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("train sentiment", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak train sentiment: train the support collector's zh/en sentiment model on labelled texts\n"+
		"and report it on the rows it never saw (collectors/support/sentiment/model/README.md).")
	data := fs.String("data", "", "directory with one folder per labelled set: .csv/.tsv files with a label column (label, sentiment, score…: 1/0 or positive/negative/neutral) and a text column (text, review, sentence, content); train.tsv/dev.tsv/test.tsv are a set's own split, other files are split by text (e.g. ../shared/datasets/sentiment)")
	out := fs.String("out", "", "model file to write (the shipped one is collectors/support/sentiment/model/sentiment-zh-en.fbsm)")
	seed := fs.Uint64("seed", 1, "seed of the split, the held-back rows and the training order: same data and seed, same model file")
	testFraction := fs.Float64("test-fraction", 0.2, "share of each file without its own split kept out of training for evaluation")
	bits := fs.Int("bits", 21, "2^bits weights (2 bytes each in the file before gzip)")
	epochs := fs.Int("epochs", 6, "passes over the training rows")
	nbSmoothing := fs.Float64("nb-smoothing", 1, "smoothing of the naive-Bayes log-count ratios that scale the features during training (negative: no scaling)")
	setBalance := fs.Float64("set-balance", 0.5, "a row of a set with n training rows weighs (rows of the largest set / n)^this (negative: every row weighs 1)")
	sets := fs.String("sets", "", "comma-separated set folders to use (default: all under --data)")
	maxRows := fs.Int("max-rows-per-set", 0, "train on at most this many rows of each set (0: all); for quick trials")
	jsonOut := fs.Bool("json", false, "print the evaluation as one JSON object on the last line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return errors.New("train sentiment: --data DIR and --out FILE are required")
	}
	opts := sentiment.TrainOptions{Seed: *seed, TestFraction: *testFraction, Bits: *bits, Epochs: *epochs,
		NBSmoothing: *nbSmoothing, SetBalance: *setBalance, MaxRowsPerSet: *maxRows}
	if *sets != "" {
		opts.Sets = strings.Split(*sets, ",")
	}
	began := time.Now()
	m, rep, err := sentiment.Train(*data, opts, os.Stderr)
	if err != nil {
		return err
	}
	size, err := m.Save(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "train sentiment: wrote %s (%d bytes, %.2f MB) in %v\n", *out, size, float64(size)/1e6, time.Since(began).Round(time.Millisecond))
	fmt.Printf("model %s: %d bytes; neutral band %.2f\n", *out, size, m.NeutralBand())
	fmt.Print(rep.Table())
	if *jsonOut {
		b, err := rep.JSON()
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}
