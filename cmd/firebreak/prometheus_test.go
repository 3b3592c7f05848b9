package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// Debian's Prometheus scrapes firebreak's own /metrics and remote-writes
// the result back to it: a real remote_write sender, end to end.
func TestPrometheusScrapesAndRemoteWrites(t *testing.T) {
	promBin := testkit.Tool(t, "prometheus", "prometheus")
	p := start(t, t.TempDir(), "", "")
	dir := t.TempDir()
	target := strings.TrimPrefix(p.base, "http://")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: firebreak
    static_configs:
      - targets: [%q]
remote_write:
  - url: %s/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
`, target, p.base)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd := exec.Command(promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+freeAddr(t))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", tail(string(b), 3000))
		}
	}()

	// Prometheus sends its first samples after WAL replay (~7 s here).
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, r := p.sql(t, `SELECT count() FROM samples WHERE metric_name = 'firebreak_collector_accepted_total' AND labels['job'] = 'firebreak'`)
		if code == 200 && len(r.Rows) == 1 && string(r.Rows[0][0]) != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scraped firebreak metric arrived through Prometheus' remote_write in 60 s (last: %d %s %v)", code, r.Error, r.Rows)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The counter Prometheus scraped counts what Prometheus itself sent:
	// the loop closes, and 'up' arrived too.
	code, r := p.sql(t, `SELECT max(value) FROM samples WHERE metric_name = 'up' AND labels['job'] = 'firebreak'`)
	if code != 200 || string(r.Rows[0][0]) != "1" {
		t.Fatalf("up{job=firebreak}: %d %s %v", code, r.Error, r.Rows)
	}
}
