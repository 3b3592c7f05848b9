package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlagsEnvAndFilePrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "firebreak.yaml")
	os.WriteFile(file, []byte("partitions: 16\nretention-days: 90\nhttp-addr: 0.0.0.0:1\nkafka-brokers: [a:9092, b:9092]\n"), 0o644)
	t.Setenv("FIREBREAK_RETENTION_DAYS", "7")
	t.Setenv("FIREBREAK_BATCH_WAIT", "2s")

	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg runConfig
	cfg.register(fs, false)
	if err := parseFlags(fs, []string{"--config", file, "--http-addr", "127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	if cfg.httpAddr != "127.0.0.1:9" {
		t.Errorf("command line must win: http-addr %q", cfg.httpAddr)
	}
	if cfg.retentionDays != 7 {
		t.Errorf("env must beat the file: retention-days %d", cfg.retentionDays)
	}
	if cfg.partitions != 16 || cfg.batchWait != 2*time.Second {
		t.Errorf("file/env values not applied: partitions %d batch-wait %v", cfg.partitions, cfg.batchWait)
	}
	if len(cfg.kafkaBrokers) != 2 || cfg.kafkaBrokers[1] != "b:9092" {
		t.Errorf("YAML list not applied: %v", cfg.kafkaBrokers)
	}
	if cfg.dataDir != "firebreak-data" {
		t.Errorf("default lost: data-dir %q", cfg.dataDir)
	}
}

func TestConfigErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	os.WriteFile(file, []byte("partitons: 16\n"), 0o644)
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg runConfig
	cfg.register(fs, false)
	err := parseFlags(fs, []string{"--config", file})
	if err == nil || !contains(err.Error(), "unknown keys [partitons]") {
		t.Fatalf("misspelt key: %v", err)
	}

	fs = flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.register(fs, false)
	t.Setenv("FIREBREAK_PARTITIONS", "many")
	if err := parseFlags(fs, nil); err == nil || !contains(err.Error(), "FIREBREAK_PARTITIONS") {
		t.Fatalf("bad env value: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
