package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// From remote_write to a real Alertmanager: a backfilled history gives
// baselines at once; a spike pages (anomaly), a disk filling pages before
// it is full (predictive), both are recorded in the alerts table, the
// webhook behind Alertmanager gets them, and the spike's alert resolves
// when the series is back to normal.
func TestAlertsReachAlertmanager(t *testing.T) {
	hooks := make(chan testkit.AMWebhook, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m testkit.AMWebhook
		if json.NewDecoder(r.Body).Decode(&m) == nil {
			hooks <- m
		}
	}))
	defer hook.Close()
	am := testkit.StartAlertmanager(t, hook.URL)

	rules := diskRuleFile(t, "e2e")
	p := start(t, t.TempDir(), "", "", "--alertmanager-url", am, "--rules", rules, "--detect-checkpoint-every", "1s",
		"--alert-resolve-hold", "1s")
	sender := workload.NewSender(p.base + "/api/v1/write")

	// Two hours of history every 15 s, ending now: latency noise around
	// 100 ms; a disk filling at 0.6 %/min for the last 87 minutes, at 0.62
	// now (full in ~47 min).
	now := time.Now().Truncate(time.Second)
	lat, disk := alertingHistory("e2e", now)
	if err := sender.Send(context.Background(), &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{lat, disk}}); err != nil {
		t.Fatal(err)
	}

	// The spike, now.
	sent := time.Now()
	lat.Samples = []prompb.Sample{{Timestamp: now.UnixMilli(), Value: 3.2}}
	if err := sender.Send(context.Background(), &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{lat}}); err != nil {
		t.Fatal(err)
	}
	var anomaly, predictive *testkit.AMAlert
	waitUntil(t, 30*time.Second, "both alerts in Alertmanager", func() bool {
		for _, a := range testkit.ActiveAlerts(t, am) {
			switch {
			case a.Labels["kind"] == "anomaly" && a.Labels["service"] == "checkout" && anomaly == nil:
				anomaly = &a
				t.Logf("anomaly alert visible in Alertmanager %v after the remote_write", time.Since(sent).Round(time.Millisecond))
			case a.Labels["kind"] == "predictive" && a.Labels["alertname"] == "DiskWillFill":
				predictive = &a
			}
		}
		return anomaly != nil && predictive != nil
	})
	if anomaly.Labels["alertname"] != "FirebreakAnomaly" || anomaly.Labels["instance"] != "checkout-1" ||
		anomaly.Annotations["summary"] == "" || anomaly.GeneratorURL == "" {
		t.Errorf("anomaly alert: %+v", anomaly)
	}
	breach, err := time.Parse(time.RFC3339, predictive.Annotations["predicted_breach_at"])
	if err != nil || breach.Before(now) || breach.After(now.Add(time.Hour)) || predictive.Labels["severity"] != "critical" {
		t.Errorf("predictive alert (breach %v, %v): %+v", breach, err, predictive)
	}
	// Alertmanager notifies only alerts still firing after group_wait:
	// see the anomaly's firing notification before resolving it.
	waitHook(t, hooks, "firing", "anomaly")

	// Back to normal: the anomaly resolves; Alertmanager tells the webhook.
	lat.Samples = nil
	for i := 1; i <= 20; i++ {
		lat.Samples = append(lat.Samples, prompb.Sample{Timestamp: now.Add(time.Duration(i) * 15 * time.Second).UnixMilli(), Value: 0.1})
	}
	if err := sender.Send(context.Background(), &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{lat}}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			_, r := p.sql(t, "SELECT time, state, round(score, 3) AS score, value FROM anomalies FINAL WHERE kind = 'anomaly' ORDER BY time")
			t.Logf("anomaly events: %s", r.Rows)
			_, r = p.sql(t, "SELECT time, alertname, state FROM alerts FINAL ORDER BY time")
			t.Logf("alert events: %s", r.Rows)
		}
	}()
	waitHook(t, hooks, "resolved", "anomaly")

	// Everything is on record: bands, anomalies, alert transitions.
	waitUntil(t, 30*time.Second, "the alerts table", func() bool {
		_, r := p.sql(t, "SELECT countIf(state = 'firing') AS f, countIf(state = 'resolved' AND kind = 'anomaly') AS r FROM alerts FINAL")
		var f, res int
		json.Unmarshal(r.Rows[0][0], &f)
		json.Unmarshal(r.Rows[0][1], &res)
		return f >= 2 && res >= 1
	})
	_, r := p.sql(t, "SELECT count() AS n, countIf(learning = 0) AS scored FROM bands WHERE metric_name = 'e2e_latency_seconds'")
	var bands, scored int
	json.Unmarshal(r.Rows[0][0], &bands)
	json.Unmarshal(r.Rows[0][1], &scored)
	if bands != 480+1+20 || scored < 400 {
		t.Errorf("bands %d (scored %d), want 501", bands, scored)
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

// waitHook waits for a webhook notification of an alert of kind in status.
func waitHook(t *testing.T, hooks <-chan testkit.AMWebhook, status, kind string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-hooks:
			for _, a := range m.Alerts {
				if a.Status == status && a.Labels["kind"] == kind {
					return
				}
			}
		case <-timeout:
			t.Fatalf("no %s %s alert at the webhook after 30 s", status, kind)
		}
	}
}

// kill -9 in the middle of a stream: the restarted process resumes every
// baseline from its checkpoint (no new learning period) and learns no
// point twice.
func TestDetectorSurvivesKillDashNine(t *testing.T) {
	dataDir := t.TempDir()
	httpAddr, brokerAddr := freeAddr(t), freeAddr(t)
	p := start(t, dataDir, httpAddr, brokerAddr, "--detect-checkpoint-every", "500ms")
	sender := workload.NewSender(p.base + "/api/v1/write")
	t0 := time.Now().Add(-3 * time.Hour).UnixMilli()
	req, _ := seriesRequest(0, 3, 200, t0) // 3 series × 200 points, 1 s apart
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	bands := func(p *proc) (all, learning int) {
		_, r := p.sql(t, "SELECT count() AS n, countIf(learning = 1) AS l FROM bands FINAL WHERE metric_name = 'e2e_value'")
		json.Unmarshal(r.Rows[0][0], &all)
		json.Unmarshal(r.Rows[0][1], &learning)
		return
	}
	waitUntil(t, 60*time.Second, "600 bands", func() bool { n, _ := bands(p); return n == 600 })
	time.Sleep(1500 * time.Millisecond) // a checkpoint after the last point
	p.kill9(t)

	p2 := start(t, dataDir, httpAddr, brokerAddr, "--detect-checkpoint-every", "500ms")
	req, _ = seriesRequest(0, 3, 220, t0) // the same 200 again (a sender's retry) and 20 new
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "660 bands", func() bool { n, _ := bands(p2); return n == 660 })
	_, learning := bands(p2)
	if learning != 3*30 { // the first 30 points of each series, before the kill, and none after
		t.Fatalf("%d bands in the learning state, want 90: the restart relearned", learning)
	}
	metrics := scrape(t, p2.base)
	if !strings.Contains(metrics, "firebreak_detector_restored_series_total 3") ||
		!strings.Contains(metrics, "firebreak_detector_points_total 60") {
		t.Fatalf("restored series / points learned after restart:\n%s", grepLines(metrics, "firebreak_detector_"))
	}
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// diskRuleFile writes a rule file predicting when the disk series of
// alertingHistory(prefix, …) crosses 90 %, an hour ahead.
func diskRuleFile(t *testing.T, prefix string) string {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "rules.yml")
	err := os.WriteFile(rules, []byte(`rules:
  - name: DiskWillFill
    selector: `+prefix+`_disk_used_ratio
    op: '>'
    threshold: 0.9
    horizon: 1h
    window: 5m
    min_history: 5m
    severity: critical
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// alertingHistory is two hours of points every 15 s ending at now, for a
// latency series (noise around 100 ms, on checkout) and a disk filling at
// 0.6 %/min for the last 87 minutes, at 0.62 at now (full in ~47 min, on
// inventory): what an anomaly and a predictive alert need. Metric names
// are PREFIX_latency_seconds and PREFIX_disk_used_ratio.
func alertingHistory(prefix string, now time.Time) (lat, disk prompb.TimeSeries) {
	lat = prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: prefix + "_latency_seconds"},
		{Name: "instance", Value: "checkout-1"}, {Name: "service", Value: "checkout"}}}
	disk = prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: prefix + "_disk_used_ratio"},
		{Name: "instance", Value: "inventory-1"}, {Name: "service", Value: "inventory"}}}
	for i := 480; i > 0; i-- {
		ts := now.Add(-time.Duration(i) * 15 * time.Second).UnixMilli()
		lat.Samples = append(lat.Samples, prompb.Sample{Timestamp: ts, Value: 0.1 + 0.002*float64(i%7)})
		disk.Samples = append(disk.Samples, prompb.Sample{Timestamp: ts, Value: max(0.1, 0.62-0.0015*float64(i))})
	}
	return lat, disk
}
