package alerter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// webhookMessage is the part of Alertmanager's webhook payload we check.
type webhookMessage struct {
	Status string `json:"status"`
	Alerts []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
}

// gettableAlert is the part of GET /api/v2/alerts we check.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startAlertmanager runs Debian's Alertmanager on loopback with one webhook
// receiver and returns its base URL.
func startAlertmanager(t *testing.T, webhook string) string {
	t.Helper()
	bin := testkit.Tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: firebreak-test
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: firebreak-test
    webhook_configs:
      - url: %s
        send_resolved: true
`, webhook)
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "alertmanager.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("alertmanager log:\n%s", b)
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready on %s after 30 s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func activeAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %s %s", resp.Status, b)
	}
	var out []gettableAlert
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET /api/v2/alerts: %v: %s", err, b)
	}
	return out
}

// The Alerter's Alertmanager path (Engine → Notifications → client) against
// the real Debian Alertmanager: the alert shows with our labels and
// annotations, a re-send keeps it active, and the webhook receiver gets the
// firing and then the resolved notification.
func TestRealAlertmanager(t *testing.T) {
	hooks := make(chan webhookMessage, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook payload: %v", err)
		}
		hooks <- m
	}))
	defer hook.Close()
	base := startAlertmanager(t, hook.URL+"/hook")

	cfg := Config{
		AlertmanagerURLs: []string{base},
		GeneratorURL:     "http://localhost:3000/d/firebreak-noc",
		ResendInterval:   2 * time.Second,
	}
	engine := NewEngine(cfg)
	client, err := alertmanager.New(cfg.AlertmanagerURLs, alertmanager.Options{BackoffMin: 50 * time.Millisecond}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); client.Run(ctx) }()
	defer func() { cancel(); <-done }()

	now := time.Now()
	p := point(42, now.Add(-time.Second), 0.95)
	if ev := engine.Observe(p, now); len(ev) != 1 || ev[0].State != records.AlertFiring {
		t.Fatalf("transitions %+v", ev)
	}
	client.Send(engine.Notifications(now)...)

	find := func() *gettableAlert {
		for _, a := range activeAlerts(t, base) {
			if a.Labels["alertname"] == NameAnomaly && a.Labels["service"] == "checkout" {
				return &a
			}
		}
		return nil
	}
	waitUntil(t, 10*time.Second, "the alert in GET /api/v2/alerts", func() bool { return find() != nil })
	got := find()
	for k, v := range map[string]string{"severity": "warning", "kind": "anomaly", "metric": "http_request_duration_seconds_p99", "instance": "10.0.0.5:8080"} {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got.Labels[k], v, got.Labels)
		}
	}
	if s := got.Annotations["summary"]; !strings.Contains(s, "3.2× above its expected 180 ms") || got.Annotations["score"] != "0.95" {
		t.Errorf("annotations %v", got.Annotations)
	}
	if got.Status.State != "active" || !strings.HasPrefix(got.GeneratorURL, "http://localhost:3000/d/firebreak-noc?") {
		t.Errorf("alert %+v", got)
	}
	if d := got.EndsAt.Sub(now); d < 7*time.Second || d > 9*time.Second {
		t.Errorf("endsAt %v is now+%v, want now + 4×resend (8 s)", got.EndsAt, d)
	}

	firing := waitHook(t, hooks, "firing")
	if a := firing.Alerts[0]; a.Labels["alertname"] != NameAnomaly || a.Annotations["summary"] == "" || a.GeneratorURL == "" {
		t.Errorf("firing notification %+v", firing)
	}

	// A re-send after ResendInterval extends endsAt: the alert stays
	// active past its first endsAt only because firebreak keeps sending.
	firstEnd := got.EndsAt
	time.Sleep(cfg.ResendInterval)
	resend := engine.Notifications(time.Now())
	if len(resend) != 1 {
		t.Fatalf("re-send %+v", resend)
	}
	client.Send(resend...)
	waitUntil(t, 10*time.Second, "endsAt to move", func() bool {
		a := find()
		return a != nil && a.EndsAt.After(firstEnd.Add(time.Second))
	})

	// Resolve: the webhook hears it and the alert leaves the active list.
	now = time.Now()
	if ev := engine.Observe(resolved(p, now), now); len(ev) != 1 || ev[0].State != records.AlertResolved {
		t.Fatalf("transitions %+v", ev)
	}
	client.Send(engine.Notifications(now)...)
	res := waitHook(t, hooks, "resolved")
	if a := res.Alerts[0]; a.Status != "resolved" || a.Labels["instance"] != "10.0.0.5:8080" {
		t.Errorf("resolved notification %+v", res)
	}
	waitUntil(t, 10*time.Second, "the alert to leave GET /api/v2/alerts", func() bool { return find() == nil })
}

func waitHook(t *testing.T, hooks <-chan webhookMessage, status string) webhookMessage {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-hooks:
			if m.Status == status && len(m.Alerts) > 0 {
				return m
			}
			t.Logf("webhook: %s notification with %d alerts (waiting for %s)", m.Status, len(m.Alerts), status)
		case <-timeout:
			t.Fatalf("no %s webhook notification in 20 s", status)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
