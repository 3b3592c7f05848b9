package alertmanager

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeAM records the alerts posted to it and answers with the statuses
// given, then 200.
type fakeAM struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	requests atomic.Int64
	alerts   []Alert
}

func newFakeAM(t *testing.T, statuses ...int) *fakeAM {
	f := &fakeAM{statuses: statuses}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != AlertsPath || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.statuses) > 0 {
			code := f.statuses[0]
			f.statuses = f.statuses[1:]
			if code != http.StatusOK {
				http.Error(w, "maxed out", code)
				return
			}
		}
		var got []Alert
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.alerts = append(f.alerts, got...)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) received() []Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Alert(nil), f.alerts...)
}

func fastOptions() Options {
	return Options{BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, Timeout: 2 * time.Second}
}

func start(t *testing.T, c *Client) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func alert(name string) Alert {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	return Alert{
		Labels:       map[string]string{"alertname": name, "service": "checkout"},
		Annotations:  map[string]string{"summary": "checkout is slow"},
		StartsAt:     now,
		EndsAt:       now.Add(4 * time.Minute),
		GeneratorURL: "http://grafana/d/x",
	}
}

func TestPayloadIsPostableAlert(t *testing.T) {
	b, err := json.Marshal([]Alert{alert("A"), {Labels: map[string]string{"alertname": "B"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"labels":{"alertname":"A","service":"checkout"},"annotations":{"summary":"checkout is slow"},"startsAt":"2026-11-22T14:00:00Z","endsAt":"2026-11-22T14:04:00Z","generatorURL":"http://grafana/d/x"},{"labels":{"alertname":"B"}}]`
	if string(b) != want {
		t.Fatalf("payload\n got %s\nwant %s", b, want)
	}
}

func TestAlertsURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://am:9093":                 "http://am:9093/api/v2/alerts",
		"http://am:9093/":                "http://am:9093/api/v2/alerts",
		"https://x/prefix/am":            "https://x/prefix/am/api/v2/alerts",
		"http://am:9093/api/v2/alerts":   "http://am:9093/api/v2/alerts",
		" http://am:9093/api/v2/alerts/": "http://am:9093/api/v2/alerts",
	} {
		if got, err := AlertsURL(in); err != nil || got != want {
			t.Errorf("AlertsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"am:9093", "ftp://am", "http://", "::"} {
		if _, err := AlertsURL(bad); err == nil {
			t.Errorf("AlertsURL(%q) accepted", bad)
		}
	}
}

func TestRetryOn500(t *testing.T) {
	am := newFakeAM(t, 500, 503)
	reg := prometheus.NewRegistry()
	c, err := New([]string{am.URL}, fastOptions(), reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	c.Send(alert("A"), alert("B"))
	waitFor(t, "delivery after two 5xx", func() bool { return len(am.received()) == 2 })
	u := c.URLs()[0]
	waitFor(t, "sent counter", func() bool { return testutil.ToFloat64(c.metrics.sent.WithLabelValues(u)) == 2 })
	if n := am.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (two failures, one success)", n)
	}
	if e := testutil.ToFloat64(c.metrics.errors.WithLabelValues(u)); e != 0 {
		t.Errorf("errors = %v, want 0: the batch got through", e)
	}
	if n := testutil.CollectAndCount(reg, "firebreak_alertmanager_request_duration_seconds"); n != 1 {
		t.Errorf("latency histogram series = %d", n)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	am := newFakeAM(t, 500, 500, 500, 500, 500)
	opts := fastOptions()
	opts.MaxAttempts = 3
	c, err := New([]string{am.URL}, opts, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	c.Send(alert("A"))
	u := c.URLs()[0]
	waitFor(t, "errors counted", func() bool { return testutil.ToFloat64(c.metrics.errors.WithLabelValues(u)) == 1 })
	if n := am.requests.Load(); n != 3 {
		t.Errorf("%d requests, want MaxAttempts = 3", n)
	}
	// The sender goes on with the next batch.
	c.Send(alert("B"))
	waitFor(t, "next batch", func() bool { return am.requests.Load() == 5 })
}

func TestNoRetryOn400(t *testing.T) {
	am := newFakeAM(t, 400)
	c, err := New([]string{am.URL}, fastOptions(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	c.Send(alert("A"))
	u := c.URLs()[0]
	waitFor(t, "error counted", func() bool { return testutil.ToFloat64(c.metrics.errors.WithLabelValues(u)) == 1 })
	time.Sleep(100 * time.Millisecond) // a retry would come within backoff (≤ 20 ms)
	if n := am.requests.Load(); n != 1 {
		t.Errorf("%d requests after a 400, want 1", n)
	}
	if len(am.received()) != 0 || testutil.ToFloat64(c.metrics.sent.WithLabelValues(u)) != 0 {
		t.Error("a rejected alert counted as sent")
	}
}

func TestRetryOn429(t *testing.T) {
	am := newFakeAM(t, 429)
	c, err := New([]string{am.URL}, fastOptions(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	c.Send(alert("A"))
	waitFor(t, "delivery after 429", func() bool { return len(am.received()) == 1 })
}

func TestEveryAlertmanagerGetsEveryAlert(t *testing.T) {
	a, b := newFakeAM(t), newFakeAM(t, 500) // b fails once: a does not wait for it
	c, err := New([]string{a.URL, b.URL + "/", a.URL}, fastOptions(), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URLs()) != 2 {
		t.Fatalf("targets %v: duplicates must collapse", c.URLs())
	}
	start(t, c)
	c.Send(alert("A"), alert("B"), alert("C"))
	waitFor(t, "both Alertmanagers", func() bool { return len(a.received()) == 3 && len(b.received()) == 3 })
	for _, am := range []*fakeAM{a, b} {
		got := am.received()
		if got[0].Labels["alertname"] != "A" || got[2].Labels["alertname"] != "C" || got[0].Annotations["summary"] == "" {
			t.Errorf("%s got %+v", am.URL, got)
		}
	}
}

func TestBatches(t *testing.T) {
	am := newFakeAM(t)
	opts := fastOptions()
	opts.MaxBatch = 2
	c, err := New([]string{am.URL}, opts, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(alert("A"), alert("B"), alert("C"), alert("D"), alert("E"))
	start(t, c)
	waitFor(t, "five alerts", func() bool { return len(am.received()) == 5 })
	if n := am.requests.Load(); n != 3 {
		t.Errorf("%d requests for 5 alerts in batches of 2", n)
	}
	waitFor(t, "empty queue", func() bool { return c.Pending() == 0 })
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	am := newFakeAM(t)
	opts := fastOptions()
	opts.QueueCapacity = 2
	reg := prometheus.NewRegistry()
	c, err := New([]string{am.URL}, opts, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not running yet: the queue fills, Send never blocks.
	done := make(chan struct{})
	go func() {
		c.Send(alert("A"), alert("B"), alert("C"))
		c.Send(alert("D"), alert("E"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Send blocked")
	}
	u := c.URLs()[0]
	if d := testutil.ToFloat64(c.metrics.dropped.WithLabelValues(u)); d != 3 {
		t.Errorf("dropped = %v, want 3", d)
	}
	if q := testutil.ToFloat64(c.metrics.queueLength.WithLabelValues(u)); q != 2 {
		t.Errorf("queue length = %v, want 2", q)
	}
	start(t, c)
	waitFor(t, "the newest two", func() bool { return len(am.received()) == 2 })
	got := am.received()
	if got[0].Labels["alertname"] != "D" || got[1].Labels["alertname"] != "E" {
		t.Errorf("sent %v %v, want the newest D and E", got[0].Labels, got[1].Labels)
	}
}

// A dead Alertmanager costs the caller nothing: Send returns at once and
// the healthy one gets its alerts while the dead one is retried.
func TestDeadAlertmanagerDoesNotBlock(t *testing.T) {
	good := newFakeAM(t)
	hang := make(chan struct{})
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); dead.Close() })
	opts := fastOptions()
	opts.Timeout = 200 * time.Millisecond
	c, err := New([]string{dead.URL, good.URL}, opts, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	for i := range 50 {
		begin := time.Now()
		c.Send(alert(string(rune('A' + i%26))))
		if d := time.Since(begin); d > 50*time.Millisecond {
			t.Fatalf("Send took %v", d)
		}
	}
	waitFor(t, "the healthy Alertmanager", func() bool { return len(good.received()) == 50 })
}

func TestRunStopsOnCancel(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	c, err := New([]string{srv.URL}, Options{}, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	c.Send(alert("A"))
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel with a request in flight")
	}
}
