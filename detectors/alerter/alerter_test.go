package alerter

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// recordingAM is an Alertmanager stand-in that keeps what was posted.
type recordingAM struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []alertmanager.Alert
}

func newRecordingAM(t *testing.T) *recordingAM {
	am := &recordingAM{}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != alertmanager.AlertsPath {
			http.NotFound(w, r)
			return
		}
		var got []alertmanager.Alert
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		am.mu.Lock()
		am.alerts = append(am.alerts, got...)
		am.mu.Unlock()
	}))
	t.Cleanup(am.Close)
	return am
}

func (am *recordingAM) find(cond func(alertmanager.Alert) bool) *alertmanager.Alert {
	am.mu.Lock()
	defer am.mu.Unlock()
	for i := len(am.alerts) - 1; i >= 0; i-- {
		if cond(am.alerts[i]) {
			a := am.alerts[i]
			return &a
		}
	}
	return nil
}

func encode(t *testing.T, a *records.Anomaly) kafka.Message {
	t.Helper()
	v, err := records.EncodeAnomaly(a)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Topic: records.TopicAnomalies, Key: a.Key(), Value: v}
}

// Alerter.Run against the embedded broker: anomaly records in, alert
// transitions out on firebreak.alerts, and Alertmanager paged.
func TestAlerterRun(t *testing.T) {
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	brokers := []string{br.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{
		{Name: records.TopicAnomalies, Partitions: 1},
		{Name: records.TopicAlerts, Partitions: 1},
	}); err != nil {
		t.Fatal(err)
	}
	prod := bus.NewProducer(brokers, "alerter-test")
	defer prod.Close()

	am := newRecordingAM(t)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := New(Config{AlertmanagerURLs: []string{am.URL}, GeneratorURL: "http://localhost:3000/d/firebreak-noc", ResolveHold: -1}, brokers, prod, reg, log)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	slow := point(7, now.Add(-2*time.Second), 0.97)
	history := point(8, now.Add(-2*time.Hour), 0.999) // a backfill: never pages
	if err := prod.Publish(ctx,
		kafka.Message{Topic: records.TopicAnomalies, Value: []byte(`{"v":1,"kind":"anomaly"`)}, // malformed
		encode(t, history),
		encode(t, slow),
	); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(runCtx) }()

	alerts := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicAlerts, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer alerts.Close()
	next := func() *records.AlertEvent {
		t.Helper()
		m, err := alerts.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := records.DecodeAlertEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != ev.Fingerprint {
			t.Errorf("record key %q, want the fingerprint %q", m.Key, ev.Fingerprint)
		}
		return ev
	}

	fired := next()
	if fired.State != records.AlertFiring || fired.Kind != records.KindAnomaly || fired.Name != NameAnomaly ||
		fired.Service != "checkout" || fired.Labels["instance"] != "10.0.0.5:8080" || fired.Annotations["summary"] == "" {
		t.Fatalf("first transition %+v", fired)
	}
	isOurs := func(x alertmanager.Alert) bool {
		return x.Labels["alertname"] == NameAnomaly && x.Labels["service"] == "checkout"
	}
	waitUntil(t, 10*time.Second, "Alertmanager to get the firing alert", func() bool {
		x := am.find(isOurs)
		return x != nil && x.EndsAt.After(time.Now())
	})
	if n := testutil.ToFloat64(a.metrics.firing.WithLabelValues(records.KindAnomaly)); n != 1 {
		t.Errorf("firing gauge = %v", n)
	}

	// The problem ends: a resolved transition, and Alertmanager told.
	if err := prod.Publish(ctx, encode(t, resolved(slow, time.Now()))); err != nil {
		t.Fatal(err)
	}
	res := next()
	if res.State != records.AlertResolved || res.Fingerprint != fired.Fingerprint || res.EndsAtMs == 0 {
		t.Fatalf("second transition %+v", res)
	}
	waitUntil(t, 10*time.Second, "Alertmanager to get the resolution", func() bool {
		x := am.find(isOurs)
		return x != nil && !x.EndsAt.After(time.Now())
	})

	stop()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for name, c := range map[string]struct{ got, want float64 }{
		"malformed": {testutil.ToFloat64(a.metrics.malformed), 1},
		"stale":     {testutil.ToFloat64(a.metrics.stale), 1},
		"records":   {testutil.ToFloat64(a.metrics.records), 4},
		"firing":    {testutil.ToFloat64(a.metrics.transitions.WithLabelValues(records.KindAnomaly, records.AlertFiring)), 1},
		"resolved":  {testutil.ToFloat64(a.metrics.transitions.WithLabelValues(records.KindAnomaly, records.AlertResolved)), 1},
		"gauge":     {testutil.ToFloat64(a.metrics.firing.WithLabelValues(records.KindAnomaly)), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	// Nothing else was published (the backfill did not page).
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	if m, err := alerts.ReadMessage(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unexpected record on %s: %s (%v)", records.TopicAlerts, m.Value, err)
	}
}

func TestNewValidates(t *testing.T) {
	reg := prometheus.NewRegistry()
	pub := PublisherFunc(func(context.Context, ...kafka.Message) error { return nil })
	for name, c := range map[string]struct {
		cfg     Config
		brokers []string
		pub     Publisher
	}{
		"bad alertmanager": {Config{AlertmanagerURLs: []string{"am:9093"}}, []string{"b:9092"}, pub},
		"bad generator":    {Config{GeneratorURL: "/d/x"}, []string{"b:9092"}, pub},
		"no brokers":       {Config{}, nil, pub},
		"no publisher":     {Config{}, []string{"b:9092"}, nil},
	} {
		if _, err := New(c.cfg, c.brokers, c.pub, reg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Two alerters in one group: one pages, the other stands by and takes
// over when the first stops.
func TestAlerterStandby(t *testing.T) {
	br, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	brokers := []string{br.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{
		{Name: records.TopicAnomalies, Partitions: 1},
		{Name: records.TopicAlerts, Partitions: 1},
	}); err != nil {
		t.Fatal(err)
	}
	prod := bus.NewProducer(brokers, "alerter-test")
	defer prod.Close()
	am := newRecordingAM(t)

	type member struct {
		a    *Alerter
		stop context.CancelFunc
		done chan error
	}
	var members []*member
	for range 2 {
		a, err := New(Config{AlertmanagerURLs: []string{am.URL}, ResolveHold: -1}, brokers, prod, prometheus.NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		mctx, stop := context.WithCancel(ctx)
		m := &member{a: a, stop: stop, done: make(chan error, 1)}
		// As cmd/firebreak runs it: under a Kafka lease, so only the
		// active member runs the alerter at all.
		go func() {
			m.done <- bus.RunAsLeader(mctx, brokers, "alerter-test-lease", records.TopicAnomalies, slog.Default(), a.Run)
		}()
		members = append(members, m)
	}
	defer func() {
		for _, m := range members {
			m.stop()
		}
	}()
	fired := func(m *member) float64 {
		return testutil.ToFloat64(m.a.metrics.transitions.WithLabelValues(records.KindAnomaly, records.AlertFiring))
	}
	count := func(series uint64) int {
		n := 0
		am.mu.Lock()
		defer am.mu.Unlock()
		for _, x := range am.alerts {
			if x.Annotations["description"] != "" && x.Labels["alertname"] == NameAnomaly && x.Labels["route"] == "/pay" && x.Labels["pod"] == podOf(series) {
				n++
			}
		}
		return n
	}

	if err := prod.Publish(ctx, encode(t, withPod(point(1, time.Now(), 0.95), 1))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "one member to page", func() bool { return fired(members[0])+fired(members[1]) >= 1 })
	time.Sleep(500 * time.Millisecond)
	if f0, f1 := fired(members[0]), fired(members[1]); f0+f1 != 1 || count(1) != 1 {
		t.Fatalf("firing transitions %v + %v, Alertmanager posts %d: want exactly one", f0, f1, count(1))
	}
	active, standby := members[0], members[1]
	if fired(active) == 0 {
		active, standby = standby, active
	}
	active.stop()
	if err := <-active.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := prod.Publish(ctx, encode(t, withPod(point(2, time.Now(), 0.95), 2))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the standby to take over", func() bool { return count(2) == 1 })
	time.Sleep(500 * time.Millisecond)
	// The active member committed what it handled: the standby resumes
	// after it, takes series 1's alert over from firebreak.alerts (one
	// re-send keeps it alive in Alertmanager) and does not page it anew.
	if fired(standby) != 1 || count(1) != 2 {
		t.Errorf("standby fired %v transitions, series 1 posted %d times: want 1 and 2 (the re-send)", fired(standby), count(1))
	}
	// And it resolves it when the series recovers.
	s1 := withPod(point(1, time.Now(), 0.95), 1)
	if err := prod.Publish(ctx, encode(t, resolved(s1, time.Now()))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the taken-over alert to resolve", func() bool {
		return testutil.ToFloat64(standby.a.metrics.transitions.WithLabelValues(records.KindAnomaly, records.AlertResolved)) == 1
	})
}

func podOf(series uint64) string { return "checkout-" + string(rune('a'+series)) }

// withPod makes series its own pod and, since anomaly alerts are one per
// service, its own service: each series here pages on its own.
func withPod(a *records.Anomaly, series uint64) *records.Anomaly {
	a.Labels["pod"] = podOf(series)
	a.Service = podOf(series)
	return a
}
