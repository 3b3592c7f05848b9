package alerter

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

var t0 = time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)

func testConfig() Config {
	// Resolved events resolve at once here; TestResolveHold covers the hold.
	return Config{GeneratorURL: "http://grafana:3000/d/firebreak-noc?orgId=1", ResolveHold: -1}
}

// point is an open anomaly of series id of checkout on 10.0.0.5:8080: a
// p99 latency of 576 ms where 180 ms was expected.
func point(id uint64, at time.Time, score float64) *records.Anomaly {
	return &records.Anomaly{
		Version: 1, Kind: records.KindAnomaly, State: records.StateOpen,
		SeriesID: id, Metric: "http_request_duration_seconds_p99", Service: "checkout",
		Labels: map[string]string{"instance": "10.0.0.5:8080", "job": "api", "route": "/pay", "pod": "checkout-7f9c"},
		TimeMs: at.UnixMilli(), Value: 0.576, Expected: 0.18, Lower: 0.15, Upper: 0.22,
		Score: score, Direction: "up",
	}
}

func resolved(a *records.Anomaly, at time.Time) *records.Anomaly {
	r := *a
	r.State, r.TimeMs = records.StateResolved, at.UnixMilli()
	return &r
}

func silence(id uint64, instance, metric string, at time.Time) *records.Anomaly {
	return &records.Anomaly{
		Version: 1, Kind: records.KindSilence, State: records.StateOpen,
		SeriesID: id, Metric: metric, Service: "checkout",
		Labels: map[string]string{"instance": instance, "job": "api", "mountpoint": "/var"},
		TimeMs: at.UnixMilli(), LastSeenMs: at.Add(-45 * time.Second).UnixMilli(), CadenceMs: 15000, Score: 1,
	}
}

func predictive(id uint64, rule, severity string, at time.Time) *records.Anomaly {
	return &records.Anomaly{
		Version: 1, Kind: records.KindPredictive, State: records.StateOpen,
		SeriesID: id, Metric: "node_filesystem_avail_bytes", Service: "checkout",
		Labels: map[string]string{"instance": "10.0.0.5:9100", "mountpoint": "/var", "device": "sda1"},
		TimeMs: at.UnixMilli(), Value: 42 << 30, Expected: 12 << 30, Lower: 8 << 30, Upper: 16 << 30,
		Score: 0.8, Rule: rule, Severity: severity, Op: "<", Threshold: 10 << 30,
		PredictedBreachMs: at.Add(3*time.Hour + 20*time.Minute).UnixMilli(),
	}
}

// observe feeds events one after another at their own event time (plus
// lag) and returns every transition.
func observe(e *Engine, lag time.Duration, as ...*records.Anomaly) []records.AlertEvent {
	var out []records.AlertEvent
	for _, a := range as {
		out = append(out, e.Observe(a, time.UnixMilli(a.TimeMs).Add(lag))...)
	}
	return out
}

func wantStates(t *testing.T, got []records.AlertEvent, want ...string) {
	t.Helper()
	var states []string
	for _, ev := range got {
		states = append(states, ev.Kind+":"+ev.State)
	}
	if !slices.Equal(states, want) {
		t.Fatalf("transitions %v, want %v", states, want)
	}
	for _, ev := range got {
		// Every transition must be a valid firebreak.alerts record.
		b, err := records.EncodeAlertEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := records.DecodeAlertEvent(b); err != nil {
			t.Fatalf("transition does not decode: %v\n%s", err, b)
		}
	}
}

func TestHysteresisTwoPointsDoNotFireThreeDo(t *testing.T) {
	e := NewEngine(testConfig())
	got := observe(e, time.Second, point(1, t0, 0.6), point(1, t0.Add(time.Minute), 0.7))
	wantStates(t, got)
	if n := e.Notifications(t0.Add(2 * time.Minute)); len(n) != 0 {
		t.Fatalf("notifications before firing: %+v", n)
	}
	now := t0.Add(2*time.Minute + time.Second)
	got = e.Observe(point(1, t0.Add(2*time.Minute), 0.6), now)
	wantStates(t, got, "anomaly:firing")
	ev := got[0]
	if ev.StartsAtMs != t0.UnixMilli() {
		t.Errorf("starts at %v, want the first point %v", time.UnixMilli(ev.StartsAtMs), t0)
	}
	if ev.Name != NameAnomaly || ev.Severity != SeverityWarning || ev.Service != "checkout" || ev.TimeMs != now.UnixMilli() {
		t.Errorf("event %+v", ev)
	}
	n := e.Notifications(now)
	if len(n) != 1 || !n[0].EndsAt.Equal(now.Add(4*time.Minute)) || !n[0].StartsAt.Equal(t0) {
		t.Fatalf("notifications %+v, want one firing alert ending at now+4×resend", n)
	}
	if e.Firing(records.KindAnomaly) != 1 {
		t.Errorf("firing = %d", e.Firing(records.KindAnomaly))
	}
	// A fourth point changes nothing: one alert per problem.
	wantStates(t, e.Observe(point(1, t0.Add(3*time.Minute), 0.6), now.Add(time.Minute)))
}

func TestHysteresisWindowAndReplays(t *testing.T) {
	e := NewEngine(testConfig())
	// Three points spread over 6 minutes: never three within 5.
	wantStates(t, observe(e, 0, point(1, t0, 0.6), point(1, t0.Add(3*time.Minute), 0.6), point(1, t0.Add(6*time.Minute), 0.6)))
	// A replayed point (at-least-once delivery) counts once.
	wantStates(t, observe(e, 0, point(1, t0.Add(6*time.Minute), 0.6), point(1, t0.Add(6*time.Minute), 0.6)))
	// A point older than the window does not count either.
	wantStates(t, observe(e, 0, point(1, t0.Add(30*time.Second), 0.6)))
	got := observe(e, 0, point(1, t0.Add(7*time.Minute), 0.6))
	wantStates(t, got, "anomaly:firing")
	if got[0].StartsAtMs != t0.Add(3*time.Minute).UnixMilli() {
		t.Errorf("starts at %v", time.UnixMilli(got[0].StartsAtMs))
	}
	// Points of different series never add up.
	e = NewEngine(testConfig())
	wantStates(t, observe(e, 0, point(1, t0, 0.6), point(2, t0.Add(time.Second), 0.6), point(3, t0.Add(2*time.Second), 0.6)))
}

func TestHysteresisConfigurable(t *testing.T) {
	cfg := testConfig()
	cfg.FirePoints, cfg.FireWindow, cfg.FireScore = 2, time.Minute, 0.99
	e := NewEngine(cfg)
	wantStates(t, observe(e, 0, point(1, t0, 0.95)))
	wantStates(t, observe(e, 0, point(1, t0.Add(30*time.Second), 0.6)), "anomaly:firing")
}

func TestHighScoreFiresAtOnce(t *testing.T) {
	for _, c := range []struct {
		score    float64
		severity string
	}{{0.95, SeverityWarning}, {0.9, SeverityWarning}, {0.99, SeverityCritical}, {0.999, SeverityCritical}} {
		e := NewEngine(testConfig())
		got := observe(e, time.Second, point(1, t0, c.score))
		wantStates(t, got, "anomaly:firing")
		if got[0].Severity != c.severity || got[0].Labels["severity"] != c.severity {
			t.Errorf("score %v: severity %q (label %q), want %q", c.score, got[0].Severity, got[0].Labels["severity"], c.severity)
		}
	}
	e := NewEngine(testConfig())
	wantStates(t, observe(e, time.Second, point(1, t0, 0.89)))
}

func TestEscalationEndsOldLabels(t *testing.T) {
	e := NewEngine(testConfig())
	wantStates(t, observe(e, 0, point(1, t0, 0.95)), "anomaly:firing")
	e.Notifications(t0)
	now := t0.Add(time.Minute)
	got := e.Observe(point(1, now, 0.995), now)
	wantStates(t, got, "anomaly:firing")
	if got[0].Severity != SeverityCritical || got[0].StartsAtMs != t0.UnixMilli() {
		t.Fatalf("escalation %+v", got[0])
	}
	n := e.Notifications(now)
	if len(n) != 2 || n[0].Labels["severity"] != SeverityWarning || !n[0].EndsAt.Equal(now) ||
		n[1].Labels["severity"] != SeverityCritical || !n[1].EndsAt.After(now) {
		t.Fatalf("notifications %+v: want the warning ended and the critical firing", n)
	}
	// Never back down: a lower score only updates annotations.
	wantStates(t, e.Observe(point(1, now.Add(time.Second), 0.95), now.Add(time.Second)))
	if e.Active()[0].Severity != SeverityCritical {
		t.Error("severity went down")
	}
}

func TestResolvedEventResolves(t *testing.T) {
	e := NewEngine(testConfig())
	p := point(1, t0, 0.95)
	wantStates(t, observe(e, 0, p, point(1, t0.Add(time.Minute), 0.95)), "anomaly:firing")
	e.Notifications(t0.Add(time.Minute))
	// A resolution older than the newest open point is out of order.
	wantStates(t, observe(e, 0, resolved(p, t0.Add(30*time.Second))))
	now := t0.Add(2*time.Minute + 5*time.Second)
	got := e.Observe(resolved(p, t0.Add(2*time.Minute)), now)
	wantStates(t, got, "anomaly:resolved")
	if got[0].EndsAtMs != t0.Add(2*time.Minute).UnixMilli() || got[0].TimeMs != now.UnixMilli() {
		t.Errorf("resolved event %+v", got[0])
	}
	n := e.Notifications(now)
	if len(n) != 1 || !n[0].EndsAt.Equal(t0.Add(2*time.Minute)) || n[0].EndsAt.After(now) {
		t.Fatalf("notifications %+v: want one alert ended at the resolution", n)
	}
	if len(e.Active()) != 0 || e.Firing(records.KindAnomaly) != 0 {
		t.Fatal("resolved alert still remembered")
	}
	// Forgotten: nothing is re-sent, a second resolution is a no-op.
	if n := e.Notifications(now.Add(time.Hour)); len(n) != 0 {
		t.Fatalf("re-sent after resolve: %+v", n)
	}
	wantStates(t, observe(e, 0, resolved(p, t0.Add(3*time.Minute))))
	// A resolution also clears points gathered towards firing.
	wantStates(t, observe(e, 0, point(1, t0.Add(4*time.Minute), 0.6), point(1, t0.Add(5*time.Minute), 0.6),
		resolved(p, t0.Add(5*time.Minute+time.Second)), point(1, t0.Add(6*time.Minute), 0.6)))
}

func TestResolveAfterTimeout(t *testing.T) {
	e := NewEngine(testConfig())
	wantStates(t, observe(e, 0, point(1, t0, 0.95)), "anomaly:firing")
	e.Notifications(t0)
	wantStates(t, e.Tick(t0.Add(4*time.Minute)))
	// Another open event restarts the clock (wall time).
	wantStates(t, e.Observe(point(1, t0.Add(5*time.Minute), 0.7), t0.Add(5*time.Minute)))
	wantStates(t, e.Tick(t0.Add(14*time.Minute)))
	end := t0.Add(15 * time.Minute)
	got := e.Tick(end)
	wantStates(t, got, "anomaly:resolved")
	if got[0].EndsAtMs != end.UnixMilli() {
		t.Errorf("ends at %v", time.UnixMilli(got[0].EndsAtMs))
	}
	n := e.Notifications(end)
	if len(n) != 1 || !n[0].EndsAt.Equal(end) || n[0].Annotations["score"] != "0.7" {
		t.Fatalf("notifications %+v", n)
	}
}

func TestStaleBackfillNotPaged(t *testing.T) {
	e := NewEngine(testConfig())
	now := t0.Add(time.Hour)
	for i := range 10 {
		wantStates(t, e.Observe(point(1, t0.Add(time.Duration(i)*time.Second), 0.999), now))
	}
	wantStates(t, e.Observe(silence(2, "10.0.0.6:8080", "up", t0), now))
	wantStates(t, e.Observe(predictive(3, "DiskFull", "critical", t0), now))
	if c := e.Counts(); c.Stale != 12 {
		t.Errorf("stale = %d, want 12", c.Stale)
	}
	if n := e.Notifications(now); len(n) != 0 {
		t.Fatalf("backfill paged: %+v", n)
	}
	// The stale backfill did not mark the source silent either.
	wantStates(t, e.Observe(point(4, now, 0.95), now), "anomaly:firing")
	// 14 minutes late is not stale (another service: point 4's alert
	// would take it in).
	late := point(5, now.Add(-14*time.Minute), 0.95)
	late.Service = "cart"
	wantStates(t, e.Observe(late, now), "anomaly:firing")
}

func TestSilenceCollapsesPerSource(t *testing.T) {
	e := NewEngine(testConfig())
	got := observe(e, time.Second,
		silence(1, "10.0.0.5:8080", "http_requests_total", t0),
		silence(2, "10.0.0.5:8080", "process_cpu_seconds_total", t0.Add(time.Second)),
		silence(3, "10.0.0.5:8080", "go_goroutines", t0.Add(2*time.Second)),
		silence(4, "10.0.0.6:8080", "http_requests_total", t0.Add(3*time.Second)),
	)
	wantStates(t, got, "silence:firing", "silence:firing")
	if got[0].Fingerprint == got[1].Fingerprint {
		t.Fatal("two instances share a fingerprint")
	}
	ev := got[0]
	if ev.Name != NameSilence || ev.Severity != SeverityWarning || ev.Labels["instance"] != "10.0.0.5:8080" || ev.Labels["kind"] != "silence" {
		t.Errorf("silence alert %+v", ev)
	}
	if _, ok := ev.Labels["mountpoint"]; ok {
		t.Error("a source alert carries a series label (mountpoint)")
	}
	// The re-send carries what is silent now.
	e.Notifications(t0.Add(5 * time.Second))
	n := e.Notifications(t0.Add(5*time.Second + time.Minute))
	if len(n) != 2 || n[0].Annotations["silent_series"] != "3" && n[1].Annotations["silent_series"] != "3" {
		t.Fatalf("re-sends %+v", n)
	}
	for _, a := range n {
		if a.Labels["instance"] == "10.0.0.5:8080" {
			if s := a.Annotations["summary"]; !strings.Contains(s, "checkout on 10.0.0.5:8080 stopped sending 3 series") {
				t.Errorf("summary %q", s)
			}
		}
	}
	// Resolves only when every silent series of the source is back.
	later := t0.Add(2 * time.Minute)
	wantStates(t, observe(e, 0, resolved(silence(1, "10.0.0.5:8080", "http_requests_total", t0), later),
		resolved(silence(2, "10.0.0.5:8080", "process_cpu_seconds_total", t0), later)))
	// A series that was never silent changes nothing.
	wantStates(t, observe(e, 0, resolved(silence(9, "10.0.0.5:8080", "up", t0), later)))
	got = observe(e, 0, resolved(silence(3, "10.0.0.5:8080", "go_goroutines", t0), later.Add(time.Second)))
	wantStates(t, got, "silence:resolved")
	if got[0].Fingerprint != ev.Fingerprint {
		t.Error("resolved a different alert")
	}
	if e.Firing(records.KindSilence) != 1 {
		t.Errorf("silence firing = %d, want 1 (the other instance)", e.Firing(records.KindSilence))
	}
	// Silence does not time out: detectors say when a series is back.
	wantStates(t, e.Tick(t0.Add(24*time.Hour)))
}

func TestSilenceWithoutServiceIsPerSeries(t *testing.T) {
	e := NewEngine(testConfig())
	a, b := silence(1, "", "up", t0), silence(2, "", "up", t0)
	a.Service, b.Service = "", ""
	wantStates(t, observe(e, 0, a, b), "silence:firing", "silence:firing")
}

func TestSilenceSuppressesItsSource(t *testing.T) {
	e := NewEngine(testConfig())
	// Series 1 of checkout on 10.0.0.5:8080 is already firing.
	wantStates(t, observe(e, 0, point(1, t0, 0.95)), "anomaly:firing")
	wantStates(t, observe(e, 0, silence(10, "10.0.0.5:8080", "up", t0.Add(time.Second))), "silence:firing")
	// The silent source's anomalies and forecasts do not page ...
	p := predictive(3, "DiskFull", "critical", t0.Add(2*time.Second))
	p.Labels["instance"] = "10.0.0.5:8080"
	wantStates(t, observe(e, 0, point(2, t0.Add(2*time.Second), 0.99), p))
	// ... the firing one stays but is not re-fired (no escalation) ...
	wantStates(t, observe(e, 0, point(1, t0.Add(3*time.Second), 0.999)))
	if len(e.Active()) != 2 || e.Firing(records.KindAnomaly) != 1 {
		t.Fatalf("active %+v", e.Active())
	}
	if c := e.Counts(); c.Suppressed[records.KindAnomaly] != 2 || c.Suppressed[records.KindPredictive] != 1 {
		t.Errorf("suppressed %v", c.Suppressed)
	}
	// ... while another instance of the same service is not held back: it
	// joins the service's anomaly alert, listed there.
	other := point(4, t0.Add(4*time.Second), 0.95)
	other.Labels["instance"] = "10.0.0.6:8080"
	wantStates(t, observe(e, 0, other))
	var a records.AlertEvent
	for _, x := range e.Active() {
		if x.Kind == records.KindAnomaly {
			a = x
		}
	}
	if a.Annotations["series_count"] != "2" ||
		!strings.Contains(a.Annotations["series"], "on 10.0.0.6:8080") {
		t.Fatalf("the other instance is not listed on the service's alert: %+v", a.Annotations)
	}
	// Once the source is back, and past ResumeGrace (its first points are
	// judged by a baseline that missed the gap), its series page again
	// (here: series 2 joins the alert and, at 0.99, escalates it).
	wantStates(t, observe(e, 0, resolved(silence(10, "10.0.0.5:8080", "up", t0), t0.Add(5*time.Second))), "silence:resolved")
	wantStates(t, observe(e, 0, point(2, t0.Add(6*time.Second), 0.99)))
	wantStates(t, observe(e, 0, point(2, t0.Add(5*time.Minute+6*time.Second), 0.99)), "anomaly:firing")
}

func TestServiceSilenceSuppressesEveryInstance(t *testing.T) {
	e := NewEngine(testConfig())
	s := silence(10, "", "checkout_orders_total", t0)
	delete(s.Labels, "instance")
	wantStates(t, observe(e, 0, s), "silence:firing")
	wantStates(t, observe(e, 0, point(1, t0.Add(time.Second), 0.99)))
	if c := e.Counts(); c.Suppressed[records.KindAnomaly] != 1 {
		t.Errorf("suppressed %v", c.Suppressed)
	}
}

func TestPredictiveFiresAtOnce(t *testing.T) {
	e := NewEngine(testConfig())
	p := predictive(7, "DiskWillFill", "critical", t0)
	got := observe(e, time.Second, p)
	wantStates(t, got, "predictive:firing")
	ev := got[0]
	if ev.Name != "DiskWillFill" || ev.Labels["alertname"] != "DiskWillFill" || ev.Severity != "critical" {
		t.Errorf("event %+v", ev)
	}
	breach := t0.Add(3*time.Hour + 20*time.Minute).Format(time.RFC3339)
	if got := ev.Annotations["predicted_breach_at"]; got != breach {
		t.Errorf("predicted_breach_at %q, want %q", got, breach)
	}
	if s := ev.Annotations["summary"]; s != "checkout node_filesystem_avail_bytes on 10.0.0.5:9100 is forecast to fall below 10 GiB in 3h20m (at 2026-11-22 17:20 UTC); now 42 GiB" {
		t.Errorf("summary %q", s)
	}
	if _, ok := ev.Annotations["direction"]; ok {
		t.Error("predictive alert has a direction")
	}
	// Another rule on the same series is another problem; no severity
	// defaults to warning.
	q := predictive(7, "DiskWillFillSoon", "", t0)
	got = observe(e, time.Second, q)
	wantStates(t, got, "predictive:firing")
	if got[0].Severity != SeverityWarning || got[0].Fingerprint == ev.Fingerprint {
		t.Errorf("second rule %+v", got[0])
	}
	// Repeated forecasts do not re-fire; predictive alerts do not time out.
	wantStates(t, observe(e, time.Second, predictive(7, "DiskWillFill", "critical", t0.Add(time.Minute))))
	wantStates(t, e.Tick(t0.Add(time.Hour)))
	got = observe(e, 0, resolved(p, t0.Add(2*time.Hour)))
	wantStates(t, got, "predictive:resolved")
	if got[0].Fingerprint != ev.Fingerprint {
		t.Error("resolved the wrong rule")
	}
	// No rule name: a generic name.
	r := predictive(8, "", "", t0)
	if got := observe(e, 0, r); len(got) != 1 || got[0].Name != NamePredictive {
		t.Errorf("unnamed rule: %+v", got)
	}
}

func TestLabelsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxLabels = 3
	e := NewEngine(cfg)
	a := point(1, t0, 0.95)
	a.Labels = map[string]string{
		"__name__": "x", "request_id": "4f1c", "version": "1.2.3", "le": "0.5",
		"path": strings.Repeat("/a", 400), "method": "GET", "status": "500",
		"namespace": "shop", "pod": "checkout-1", "instance": "10.0.0.5:8080",
		"bad-name": "x", "severity": "info", "alertname": "Spoof",
	}
	got := observe(e, 0, a)
	wantStates(t, got, "anomaly:firing")
	want := []string{"alertname", "instance", "kind", "metric", "namespace", "pod", "service", "severity"}
	if keys := slices.Sorted(maps.Keys(got[0].Labels)); !slices.Equal(keys, want) {
		t.Fatalf("labels %v, want %v", keys, want)
	}
	if got[0].Labels["alertname"] != NameAnomaly || got[0].Labels["severity"] != SeverityWarning {
		t.Errorf("series labels overrode alert labels: %v", got[0].Labels)
	}
	cfg.MaxLabels = 10
	e = NewEngine(cfg)
	got = observe(e, 0, a)
	if p := got[0].Labels["path"]; len(p) > maxLabelValue+len("…") || !strings.HasSuffix(p, "…") {
		t.Errorf("path label not clipped: %d bytes", len(p))
	}
	if _, ok := got[0].Labels["request_id"]; ok {
		t.Error("non-allowlisted label kept")
	}
	// Labels are the same for every point of the series: one identity.
	if e2 := NewEngine(cfg); !maps.Equal(observe(e2, 0, a)[0].Labels, got[0].Labels) {
		t.Error("labels not deterministic")
	}
}

func TestAnnotationsAndGeneratorURL(t *testing.T) {
	e := NewEngine(testConfig())
	got := observe(e, time.Second, point(1, t0, 0.95))
	ann := got[0].Annotations
	want := map[string]string{
		"summary":   "checkout http_request_duration_seconds_p99 on 10.0.0.5:8080 is 3.2× above its expected 180 ms (now 576 ms)",
		"expected":  "180 ms",
		"actual":    "576 ms",
		"score":     "0.95",
		"direction": "up",
	}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	if d := ann["description"]; !strings.Contains(d, `instance="10.0.0.5:8080"`) || !strings.Contains(d, "150 ms to 220 ms") {
		t.Errorf("description %q", d)
	}
	u, err := url.Parse(got[0].GeneratorURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "grafana:3000" || u.Path != "/d/firebreak-noc" || q.Get("orgId") != "1" || q.Get("var-service") != "checkout" ||
		q.Get("from") != fmt.Sprint(t0.Add(-time.Hour).UnixMilli()) || q.Get("to") != fmt.Sprint(t0.Add(15*time.Minute).UnixMilli()) {
		t.Errorf("generator URL %s", got[0].GeneratorURL)
	}
	e = NewEngine(Config{})
	if got := observe(e, 0, point(1, t0, 0.95)); got[0].GeneratorURL != "" {
		t.Errorf("generator URL without a base: %q", got[0].GeneratorURL)
	}
}

func TestSummaries(t *testing.T) {
	for _, c := range []struct {
		metric          string
		value, expected float64
		dir             string
		want            string
	}{
		{"checkout_orders_per_second", 290, 1200, "down", "checkout checkout_orders_per_second on 10.0.0.5:8080 is 4.1× below its expected 1200 (now 290)"},
		{"queue_depth", 0, 40, "down", "checkout queue_depth on 10.0.0.5:8080 dropped to 0, expected 40"},
		{"cpu_usage_ratio", 0.97, 0.4, "", "checkout cpu_usage_ratio on 10.0.0.5:8080 is 2.4× above its expected 40% (now 97%)"},
		{"temperature_celsius", -3, -10, "up", "checkout temperature_celsius on 10.0.0.5:8080 is -3, above its expected range 0.15 to 0.22 (expected -10)"},
		{"heap_bytes", 3 << 30, 1 << 30, "up", "checkout heap_bytes on 10.0.0.5:8080 is 3.0× above its expected 1 GiB (now 3 GiB)"},
		{"requests_total", 123456, 1000, "up", "checkout requests_total on 10.0.0.5:8080 is 123× above its expected 1000 (now 123k)"},
	} {
		a := point(1, t0, 0.95)
		a.Metric, a.Value, a.Expected, a.Direction = c.metric, c.value, c.expected, c.dir
		if got := NewEngine(testConfig()).seriesAnnotations(a)["summary"]; got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.metric, got, c.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		metric string
		v      float64
		want   string
	}{
		{"http_request_duration_seconds", 0.18, "180 ms"},
		{"http_request_duration_seconds", 0.0000421, "42.1 µs"},
		{"http_request_duration_seconds", 3.21, "3.21 s"},
		{"http_request_duration_seconds", 150, "2m30s"},
		{"job_duration_seconds_sum", 7200, "2h"},
		{"rpc_latency_milliseconds", 250, "250 ms"},
		{"node_memory_bytes", 1536, "1.5 KiB"},
		{"node_memory_bytes", 0, "0 B"},
		{"disk_used_percent", 93.456, "93.5%"},
		{"requests", 0.123456, "0.123"},
		{"requests", 12345678, "12.3M"},
		{"requests", -250, "-250"},
	} {
		if got := formatValue(c.metric, c.v); got != c.want {
			t.Errorf("formatValue(%s, %v) = %q, want %q", c.metric, c.v, got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{
		15 * time.Second: "15s", 150 * time.Second: "2m30s", 2 * time.Minute: "2m",
		200 * time.Minute: "3h20m", 3 * time.Hour: "3h", 50 * time.Hour: "2d2h", 400 * time.Millisecond: "400ms",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestResendWhileFiring(t *testing.T) {
	cfg := testConfig()
	cfg.ResendInterval = 30 * time.Second
	e := NewEngine(cfg)
	wantStates(t, observe(e, 0, point(1, t0, 0.95)), "anomaly:firing")
	if n := e.Notifications(t0); len(n) != 1 || !n[0].EndsAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("first send %+v", n)
	}
	if n := e.Notifications(t0.Add(29 * time.Second)); len(n) != 0 {
		t.Fatalf("re-sent early: %+v", n)
	}
	at := t0.Add(31 * time.Second)
	n := e.Notifications(at)
	if len(n) != 1 || !n[0].EndsAt.Equal(at.Add(2*time.Minute)) || !n[0].StartsAt.Equal(t0) {
		t.Fatalf("re-send %+v: want endsAt = now + 4×resend, same startsAt", n)
	}
	if n := e.Notifications(at.Add(time.Second)); len(n) != 0 {
		t.Fatalf("re-sent twice: %+v", n)
	}
}

func TestFingerprints(t *testing.T) {
	e := NewEngine(testConfig())
	first := observe(e, 0, point(1, t0, 0.95))[0].Fingerprint
	observe(e, 0, resolved(point(1, t0, 0.95), t0.Add(time.Minute)))
	again := observe(e, 0, point(1, t0.Add(2*time.Minute), 0.95))[0].Fingerprint
	if first != again || len(first) != 16 {
		t.Errorf("fingerprint of one series changed: %q then %q", first, again)
	}
	// Anomaly alerts are one per service: a second series of checkout
	// joins the alert, a series of another service has its own.
	if got := observe(e, 0, point(2, t0, 0.95)); len(got) != 0 {
		t.Errorf("a second series of the service paged again: %+v", got)
	}
	cart := point(3, t0, 0.95)
	cart.Service = "cart"
	if other := observe(e, 0, cart)[0].Fingerprint; other == first {
		t.Error("two services share a fingerprint")
	}
	// Without a service, every series is its own alert.
	a, b := point(4, t0, 0.95), point(5, t0, 0.95)
	a.Service, b.Service = "", ""
	if fa, fb := observe(e, 0, a)[0].Fingerprint, observe(e, 0, b)[0].Fingerprint; fa == fb {
		t.Error("two series without a service share a fingerprint")
	}
}

func TestPendingIsForgotten(t *testing.T) {
	e := NewEngine(testConfig())
	observe(e, 0, point(1, t0, 0.6), point(2, t0, 0.6))
	e.Tick(t0.Add(6 * time.Minute))
	if len(e.pending) != 0 {
		t.Errorf("%d series still pending", len(e.pending))
	}
	cfg := testConfig()
	cfg.MaxPending = 1
	e = NewEngine(cfg)
	observe(e, 0, point(1, t0, 0.6), point(2, t0, 0.6))
	if len(e.pending) != 1 {
		t.Errorf("%d series pending, bound 1", len(e.pending))
	}
	// A high score fires even when the bound is reached.
	wantStates(t, observe(e, 0, point(3, t0, 0.95)), "anomaly:firing")
}

// Notifications are valid Alertmanager alerts: the same labels identify an
// alert from firing to resolution.
func TestNotificationsIdentity(t *testing.T) {
	e := NewEngine(testConfig())
	observe(e, 0, point(1, t0, 0.95))
	fire := e.Notifications(t0)
	observe(e, 0, resolved(point(1, t0, 0.95), t0.Add(time.Minute)))
	res := e.Notifications(t0.Add(time.Minute))
	if len(fire) != 1 || len(res) != 1 || !maps.Equal(fire[0].Labels, res[0].Labels) {
		t.Fatalf("firing %+v resolved %+v", fire, res)
	}
	for _, a := range []alertmanager.Alert{fire[0], res[0]} {
		if a.EndsAt.Before(a.StartsAt) {
			t.Errorf("endsAt before startsAt: %+v", a)
		}
	}
}

// Log-pattern and complaint-surge events page at once, with their own
// alertname and severity, and end when their events stop.
func TestLogPatternAndComplaintSurgeKinds(t *testing.T) {
	e := NewEngine(Config{})
	now := time.Now()
	for _, c := range []struct{ kind, name string }{{records.KindLogPattern, NameLogPattern}, {records.KindComplaintSurge, NameComplaintSurge}} {
		a := &records.Anomaly{Version: 1, Kind: c.kind, State: records.StateOpen, SeriesID: 7, Metric: "m", Service: "payment",
			TimeMs: now.UnixMilli(), Score: 0.8, Severity: "critical"}
		evs := e.Observe(a, now)
		if len(evs) != 1 || evs[0].Name != c.name || evs[0].Severity != "critical" || evs[0].Labels["kind"] != c.kind {
			t.Fatalf("%s: %+v", c.kind, evs)
		}
	}
	if evs := e.Tick(now.Add(11 * time.Minute)); len(evs) != 2 || evs[0].State != records.AlertResolved {
		t.Fatalf("not resolved after ResolveAfter: %+v", evs)
	}
}

// A resolved event starts a hold: an open event within it keeps the alert
// firing (no flapping); without one, the alert resolves when it ends, at
// the resolved event's time.
func TestResolveHold(t *testing.T) {
	e := NewEngine(Config{})
	observe(e, 0, point(1, t0, 0.95))
	if evs := observe(e, 0, resolved(point(1, t0, 0.95), t0.Add(time.Minute))); len(evs) != 0 {
		t.Fatalf("resolved at once: %+v", evs)
	}
	observe(e, 0, point(1, t0.Add(90*time.Second), 0.8)) // back within the hold
	if evs := e.Tick(t0.Add(4 * time.Minute)); len(evs) != 0 {
		t.Fatalf("resolved although the problem came back: %+v", evs)
	}
	observe(e, 0, resolved(point(1, t0, 0.95), t0.Add(5*time.Minute)))
	evs := e.Tick(t0.Add(7 * time.Minute))
	if len(evs) != 1 || evs[0].State != records.AlertResolved || evs[0].EndsAtMs != t0.Add(5*time.Minute).UnixMilli() {
		t.Fatalf("after the hold: %+v", evs)
	}
}

func TestLogPatternAndSurgeSummaries(t *testing.T) {
	e := NewEngine(testConfig())
	now := time.Now()
	lp := &records.Anomaly{Version: 1, Kind: records.KindLogPattern, State: records.StateOpen, SeriesID: 9, Metric: "log_template",
		Service: "payment", TimeMs: now.UnixMilli(), Value: 12, Labels: map[string]string{"reason": "new_template",
			"template": "payment gateway timeout after <*>ms", "sample": "payment gateway timeout after 3100ms"}}
	cs := &records.Anomaly{Version: 1, Kind: records.KindComplaintSurge, State: records.StateOpen, SeriesID: 10, Metric: "support_negative_messages",
		Service: "payment", TimeMs: now.UnixMilli(), Value: 14, Expected: 0.4, Labels: map[string]string{"channel": "chat", "sample_1": "付款失败"}}
	got := e.Observe(lp, now)[0].Annotations["summary"]
	if got != "payment logs a message it never logged before: payment gateway timeout after <*>ms" {
		t.Errorf("log pattern summary %q", got)
	}
	if got := e.Observe(cs, now)[0].Annotations["summary"]; !strings.Contains(got, "14 clearly negative customer messages a minute on chat") {
		t.Errorf("complaint surge summary %q", got)
	}
}
