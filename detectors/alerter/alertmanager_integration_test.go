package alerter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// The Alerter's Alertmanager path (Engine → Notifications → client) against
// the real Debian Alertmanager: the alert shows with our labels and
// annotations, a re-send keeps it active, and the webhook receiver gets the
// firing and then the resolved notification.
func TestRealAlertmanager(t *testing.T) {
	hooks := make(chan testkit.AMWebhook, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m testkit.AMWebhook
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook payload: %v", err)
		}
		hooks <- m
	}))
	defer hook.Close()
	base := testkit.StartAlertmanager(t, hook.URL+"/hook")

	cfg := Config{ResolveHold: -1,
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

	find := func() *testkit.AMAlert {
		for _, a := range testkit.ActiveAlerts(t, base) {
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

func waitHook(t *testing.T, hooks <-chan testkit.AMWebhook, status string) testkit.AMWebhook {
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
