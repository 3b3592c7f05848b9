package logdetect

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const partitions = 4

func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(partitions, time.Hour)); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// stream is one log stream of a service, keyed as collectors key it.
type stream struct {
	service string
	labels  []records.Label
	id      uint64
}

func newStream(service, host string) stream {
	ls := []records.Label{{Name: "host", Value: host}}
	return stream{service: service, labels: ls, id: records.StreamID(service, ls)}
}

// publishLogs sends entries of one stream as one record (a request).
func publishLogs(t *testing.T, p *bus.Producer, s stream, entries []records.LogEntry) {
	t.Helper()
	var ids records.EntryIDs
	eids := make([]uint64, len(entries))
	for i := range entries {
		eids[i] = ids.Next(s.id, &entries[i])
	}
	var b records.LogBatchBuilder
	b.Add(s.id, s.service, s.labels, entries, eids)
	if err := p.Publish(context.Background(), kafka.Message{Topic: records.TopicLogs, Key: b.Key(), Value: b.AppendRecord(nil)}); err != nil {
		t.Fatal(err)
	}
}

// outputs reads the anomalies, patterns and log-templates topics as they grow.
type outputs struct {
	mu        sync.Mutex
	anomalies []*records.Anomaly
	patterns  []*records.Pattern
	lines     int
	badPart   int // records not in the partition of their lines
}

type lineCounter struct{ n *int }

func (c lineCounter) TemplateService([]byte) error       { return nil }
func (c lineCounter) TemplateLine(uint64, int64, uint64) { *c.n++ }

func readOutputs(t *testing.T, ctx context.Context, brokers []string) *outputs {
	o := &outputs{}
	read := func(topic string, part int) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		for {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			o.mu.Lock()
			switch topic {
			case records.TopicAnomalies:
				if a, err := records.DecodeAnomaly(msg.Value); err != nil {
					t.Errorf("anomaly record: %v", err)
				} else {
					o.anomalies = append(o.anomalies, a)
				}
			case records.TopicPatterns:
				if x, err := records.DecodePattern(msg.Value); err != nil {
					t.Errorf("pattern record: %v", err)
				} else {
					o.patterns = append(o.patterns, x)
					if x.Partition != part {
						o.badPart++
					}
				}
			case records.TopicLogTemplates:
				if err := records.DecodeLogTemplates(msg.Value, lineCounter{&o.lines}); err != nil {
					t.Errorf("log templates record: %v", err)
				}
			}
			o.mu.Unlock()
		}
	}
	go read(records.TopicAnomalies, 0)
	for p := 0; p < partitions; p++ {
		go read(records.TopicPatterns, p)
		go read(records.TopicLogTemplates, p)
	}
	return o
}

func (o *outputs) count(f func(a *records.Anomaly) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, a := range o.anomalies {
		if f(a) {
			n++
		}
	}
	return n
}

func (o *outputs) lineCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lines
}

func waitFor(t *testing.T, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if f, err := os.Create("/tmp/logdetect-goroutines.txt"); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
			for _, d := range diag {
				what += "; " + d()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runStage(t *testing.T, brokers []string) (*Stage, *prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub := bus.NewProducer(brokers, "logdetect-test")
	// Small chunks: every service's state spans several records.
	st := New(Config{Brokers: brokers, CheckpointEvery: 300 * time.Millisecond, ChunkBytes: 1024}, pub, reg,
		slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	return st, reg, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stage: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("stage did not stop")
		}
		pub.Close()
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, label ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(label) == 2 {
				match := false
				for _, lp := range m.GetLabel() {
					match = match || (lp.GetName() == label[0] && lp.GetValue() == label[1])
				}
				if !match {
					continue
				}
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

func isReason(reason string) func(a *records.Anomaly) bool {
	return func(a *records.Anomaly) bool { return a.Kind == records.KindLogPattern && a.Labels["reason"] == reason }
}

// TestStageNewTemplateSurgeAndRestart: a service logs a steady mix, then a
// new error template appears, then a template surges; the stage restarts
// from its checkpoint (state in several chunks), sees the error template
// again (no second anomaly), does not relearn, and, after a crash left the
// offset marker behind the services' states, skips the replayed records.
func TestStageNewTemplateSurgeAndRestart(t *testing.T) {
	brokers := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := readOutputs(t, ctx, brokers)
	prod := bus.NewProducer(brokers, "logdetect-test-data")
	defer prod.Close()

	g := newShop(11)
	checkout := newStream("checkout", "web-1")
	other := newStream("search", "search-1") // a second service, steady
	g2 := newShop(12)
	sent := 0
	send := func(from, to int, extra func(m int) []line) {
		for m := from; m < to; m++ {
			var x []line
			if extra != nil {
				x = extra(m)
			}
			e := g.minute(m, 200, x...)
			publishLogs(t, prod, checkout, e)
			e2 := g2.minute(m, 50)
			publishLogs(t, prod, other, e2)
			sent += len(e) + len(e2)
		}
	}

	// First life: 40 minutes of history, replayed at once.
	st1, reg1, stop1 := runStage(t, brokers)
	send(0, 40, func(m int) []line {
		switch m {
		case 30, 33:
			return repeat(3, g.newError)
		case 36:
			return repeat(300, g.surging)
		}
		return nil
	})
	waitFor(t, "every line assigned a template", func() bool { return out.lineCount() == sent })
	waitFor(t, "the surge", func() bool { return out.count(isReason(reasonTemplateSurge)) > 0 })
	templates1 := st1.Templates()
	stop1()
	if got := counter(t, reg1, "firebreak_logdetect_lines_total"); got != float64(sent) {
		t.Fatalf("lines mined %v, want %d", got, sent)
	}
	if n := counter(t, reg1, "firebreak_logdetect_checkpoint_services_total"); n < 2 {
		t.Fatalf("services checkpointed %v", n)
	}

	out.mu.Lock()
	var news, surges []*records.Anomaly
	for _, a := range out.anomalies {
		switch a.Labels["reason"] {
		case reasonNewTemplate:
			news = append(news, a)
		case reasonTemplateSurge:
			surges = append(surges, a)
		default:
			t.Errorf("unexpected anomaly: %+v", a)
		}
	}
	newRecords := 0
	for _, p := range out.patterns {
		if p.Kind == records.PatternNew {
			newRecords++
		}
	}
	badPart := out.badPart
	out.mu.Unlock()
	if badPart > 0 {
		t.Errorf("%d pattern records outside their logs partition", badPart)
	}
	if len(news) != 1 || news[0].Service != "checkout" || !strings.Contains(news[0].Labels["template"], "refused") ||
		news[0].Labels["sample"] == "" || news[0].Severity != "warning" {
		for _, a := range news {
			t.Logf("new-template anomaly: %+v", *a)
		}
		t.Fatalf("%d new-template anomalies", len(news))
	}
	if len(surges) != 1 || !strings.HasPrefix(surges[0].Labels["template"], "payment authorized") ||
		surges[0].TimeMs != g.t0/1e6+36*minuteMs || surges[0].Labels["sample"] == "" {
		t.Fatalf("surge anomalies: %+v", surges)
	}
	t.Logf("life 1: %d lines, %d templates, %d new-template records; new template %q; surge %v lines (expected %.1f)",
		sent, templates1, newRecords, news[0].Labels["template"], surges[0].Value, surges[0].Expected)

	// Second life: resumes from the checkpoint. The error template again
	// is not news; nothing is relearned (no template is new again).
	sent1 := sent
	st2, reg2, stop2 := runStage(t, brokers)
	send(40, 45, func(m int) []line { return repeat(2, g.newError) })
	waitFor(t, "the second life's lines", func() bool { return out.lineCount() == sent }, func() string {
		return fmt.Sprintf("%d lines assigned of %d sent; mined %v, skipped %v, late %v", out.lineCount(), sent,
			counter(t, reg2, "firebreak_logdetect_lines_total"), counter(t, reg2, "firebreak_logdetect_lines_skipped_total"),
			counter(t, reg2, "firebreak_logdetect_lines_late_total"))
	})
	templates2 := st2.Templates()
	stop2()
	if got := counter(t, reg2, "firebreak_logdetect_restored_services_total"); got != 2 {
		t.Fatalf("restored %v services, want 2", got)
	}
	if got := counter(t, reg2, "firebreak_logdetect_restore_errors_total"); got != 0 {
		t.Fatalf("%v restore errors", got)
	}
	if got := counter(t, reg2, "firebreak_logdetect_lines_total"); got != float64(sent-sent1) {
		t.Fatalf("second life mined %v lines, want %d (only the new ones)", got, sent-sent1)
	}
	if got := counter(t, reg2, "firebreak_logdetect_new_templates_total"); got != 0 {
		t.Fatalf("second life found %v new templates: relearned", got)
	}
	if templates2 != templates1 {
		t.Fatalf("templates %d after restart, %d before", templates2, templates1)
	}
	if n := out.count(isReason(reasonNewTemplate)); n != 1 {
		t.Fatalf("%d new-template anomalies after restart, want still 1", n)
	}

	// A crash between the services' chunks and the offset marker: the
	// marker is older than the states. The third life replays every
	// record and skips them all (each service knows its newest offset).
	for p := 0; p < partitions; p++ {
		if err := prod.Publish(context.Background(), kafka.Message{Topic: records.TopicDetectorState, Key: offsetKey,
			Value: binary.BigEndian.AppendUint64(nil, 0), Headers: []kafka.Header{{Key: records.HeaderPartition, Value: []byte{byte('0' + p)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	sent2 := sent
	_, reg3, stop3 := runStage(t, brokers)
	send(45, 47, nil)
	waitFor(t, "the third life's lines", func() bool {
		if out.lineCount() > sent {
			t.Fatalf("third life: %d lines assigned of %d sent; mined %v, skipped %v", out.lineCount(), sent,
				counter(t, reg3, "firebreak_logdetect_lines_total"), counter(t, reg3, "firebreak_logdetect_lines_skipped_total"))
		}
		return out.lineCount() == sent
	})
	waitFor(t, "the replay skipped", func() bool {
		return counter(t, reg3, "firebreak_logdetect_lines_skipped_total") == float64(sent2)
	})
	stop3()
	if got := counter(t, reg3, "firebreak_logdetect_lines_total"); got != float64(sent-sent2) {
		t.Fatalf("third life mined %v lines, want %d", got, sent-sent2)
	}
	if n := out.count(isReason(reasonNewTemplate)); n != 1 {
		t.Fatalf("%d new-template anomalies after the replay, want still 1", n)
	}
}

// testWriter sends the stage's warnings to the test log while the test
// runs.
type testWriter struct{ t *testing.T }

var logMu sync.Mutex
var logDone = map[*testing.T]bool{}

func newTestWriter(t *testing.T) testWriter {
	t.Cleanup(func() { logMu.Lock(); logDone[t] = true; logMu.Unlock() })
	return testWriter{t}
}

func (w testWriter) Write(b []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	if !logDone[w.t] {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}
