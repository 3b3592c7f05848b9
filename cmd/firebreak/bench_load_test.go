package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// TestLoadBenchmarks runs `firebreak bench ingest` and `firebreak bench
// logs` (every target) for two seconds each against one firebreak, with
// --verify-sql: what they report acked must be stored exactly once, and
// their JSON must hold the figures BENCHMARKS.md and
// scripts/bench-ingest.sh read.
func TestLoadBenchmarks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts firebreak and loads it")
	}
	p := start(t, t.TempDir(), "", "")
	runs := []struct {
		name  string
		args  []string
		unit  string // the JSON's name for what a request carries
		table string
	}{
		{"ingest", []string{"ingest", "--url", p.base + "/api/v1/write", "--series", "4000", "--samples-per-request", "500"}, "samples", "samples_data"},
		{"logs loki", []string{"logs", "--target", "loki", "--url", p.base + "/loki/api/v1/push", "--lines-per-request", "500"}, "lines", "logs"},
		{"logs otlp", []string{"logs", "--target", "otlp", "--url", p.base + "/v1/logs", "--lines-per-request", "500"}, "lines", "logs"},
		{"logs syslog", []string{"logs", "--target", "syslog", "--url", p.syslog, "--lines-per-request", "500"}, "lines", "logs"},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			args := append([]string{"bench"}, r.args...)
			args = append(args, "--duration", "2s", "--concurrency", "2", "--verify-sql", p.base, "--verify-timeout", "2m", "--json")
			var res map[string]any
			out, stderr := runBench(t, &res, args...)
			acked, _ := res["acked_"+r.unit].(float64)
			verify, _ := res["verify"].(map[string]any)
			if acked <= 0 || res["failed_"+r.unit] != 0.0 || res["acked_"+r.unit+"_per_second"].(float64) <= 0 || res["latency_p99_ms"] == nil || res["send_seconds"].(float64) < 1.5 {
				t.Fatalf("sending side: %s", out)
			}
			if verify == nil || verify["caught_up"] != true || verify["stored_rows"] != acked || verify["distinct_rows"] != acked {
				t.Fatalf("%s: %v %s acked, but verify says %v", r.table, acked, r.unit, verify)
			}
			if !strings.Contains(stderr, "waiting up to 2m0s") {
				t.Errorf("no progress line about the wait for the store:\n%s", stderr)
			}
			t.Logf("%s: %.0f %s acked in %.1f s, %.0f/s stored end to end", r.name, acked, r.unit, res["send_seconds"], verify["e2e_stored_samples_per_second"])
		})
	}
}

// TestAlertLatencyBenchmark runs `firebreak bench alert-latency` against a
// firebreak paging a real Alertmanager: every spike must reach it, each
// series as an alert of its own.
func TestAlertLatencyBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("starts firebreak and Alertmanager")
	}
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) // Alertmanager wants a receiver
	defer hook.Close()
	am := testkit.StartAlertmanager(t, hook.URL)
	p := start(t, t.TempDir(), "", "", "--alertmanager-url", am)
	args := []string{"bench", "alert-latency", "--url", p.base, "--alertmanager", am, "--series", "5", "--json"}
	var res struct {
		Series, Seen, Missing int
		P99Ms                 float64 `json:"p99_ms"`
	}
	out, stderr := runBench(t, &res, args...)
	if res.Series != 5 || res.Seen != 5 || res.Missing != 0 || res.P99Ms <= 0 {
		t.Fatalf("alert latency: %s\n%s", out, stderr)
	}
	t.Logf("5 spikes, alert in Alertmanager after p99 %.0f ms", res.P99Ms)
}

// runBench runs the built firebreak with args (a bench with --json) and
// decodes its JSON result into res; it fails the test, with what the
// command printed, if the command fails or its output is not that JSON.
func runBench(t *testing.T, res any, args ...string) (stdout []byte, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("firebreak %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if err := json.Unmarshal(out, res); err != nil {
		t.Fatalf("the JSON result: %v\n%s", err, out)
	}
	return out, errOut.String()
}
