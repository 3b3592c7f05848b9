package correlator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/incidents"
	"github.com/firebreak-aiops/firebreak/detectors/topology"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

type collected struct {
	mu        sync.Mutex
	incidents map[string]*records.IncidentRecord
	timeline  []*records.TimelineEvent
}

func collect(t *testing.T, ctx context.Context, brokers []string) *collected {
	c := &collected{incidents: map[string]*records.IncidentRecord{}}
	read := func(topic string) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			c.mu.Lock()
			if topic == records.TopicIncidents {
				if in, err := records.DecodeIncident(m.Value); err == nil {
					if old := c.incidents[in.ID]; old == nil || old.UpdatedMs <= in.UpdatedMs {
						c.incidents[in.ID] = in
					}
				}
			} else if e, err := records.DecodeTimelineEvent(m.Value); err == nil {
				c.timeline = append(c.timeline, e)
			}
			c.mu.Unlock()
		}
	}
	go read(records.TopicIncidents)
	go read(records.TopicIncidentEvents)
	return c
}

func publish(t *testing.T, p *bus.Producer, topic string, v []byte) {
	t.Helper()
	if err := p.Publish(context.Background(), kafka.Message{Topic: topic, Value: v}); err != nil {
		t.Fatal(err)
	}
}

// A deploy, a creeping database, a payment alert and an ack, through Kafka:
// one incident, payment-db first among root causes, the deploy and the ack
// on the timeline; a restarted correlator rebuilds the same incident id.
func TestCorrelatorThroughKafka(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	out := collect(t, ctx, brokers)
	prod := bus.NewProducer(brokers, "correlator-test")
	defer prod.Close()
	g, _ := topology.Parse([]byte("services: [{name: checkout, user_facing: true, depends_on: [payment]}, {name: payment, depends_on: [payment-db]}]"))

	now := time.Now()
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	deploy, _ := records.EncodeEvent(&records.Event{ID: "d1", Kind: records.EventChange, Type: "deploy", TimeMs: ms(-10 * time.Minute), Service: "payment-db", Title: "payment-db schema migration"})
	publish(t, prod, records.TopicEvents, deploy)
	for i, svc := range []string{"payment-db", "payment"} {
		a, _ := records.EncodeAnomaly(&records.Anomaly{Kind: records.KindAnomaly, State: records.StateOpen, SeriesID: uint64(i + 1),
			Metric: "latency", Service: svc, TimeMs: ms(time.Duration(i-5) * time.Minute), Value: 2, Expected: 1, Score: 0.75, Direction: "up"})
		publish(t, prod, records.TopicAnomalies, a)
	}
	al, _ := records.EncodeAlertEvent(&records.AlertEvent{Fingerprint: "fp1", Name: "FirebreakAnomaly", Kind: "anomaly", Severity: "critical",
		Service: "checkout", State: records.AlertFiring, StartsAtMs: ms(-time.Minute), TimeMs: ms(-time.Minute), Labels: map[string]string{"service": "checkout"},
		Annotations: map[string]string{"summary": "checkout errors 5× expected"}})
	publish(t, prod, records.TopicAlerts, al)

	run := func() (context.CancelFunc, chan error) {
		cctx, stop := context.WithCancel(ctx)
		c := New(Config{Brokers: brokers, Incidents: incidents.Config{Graph: g}, TickEvery: 100 * time.Millisecond},
			prod, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return stop, done
	}
	stop, done := run()
	var id string
	waitFor(t, "one incident with three services", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		for k, in := range out.incidents {
			if len(in.Services) == 3 {
				id = k
				return true
			}
		}
		return false
	})
	ack, _ := records.EncodeEvent(&records.Event{ID: "a1", Kind: records.EventAction, Type: "ack", Incident: id, Author: "ana", TimeMs: ms(0), Title: "ack"})
	publish(t, prod, records.TopicEvents, ack)
	waitFor(t, "the ack", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.incidents[id].AckedMs != 0
	})
	stop()
	<-done

	out.mu.Lock()
	in := out.incidents[id]
	if len(out.incidents) != 1 || in.Severity != "P1" || in.RootCauses[0].Service != "payment-db" ||
		!strings.Contains(in.RootCauses[0].Explanation, "changed 5 min before") {
		t.Fatalf("incidents %d, this one %+v", len(out.incidents), in)
	}
	var kinds []string
	for _, e := range out.timeline {
		kinds = append(kinds, e.Kind)
	}
	out.mu.Unlock()
	joined := strings.Join(kinds, ",")
	for _, k := range []string{"opened", "change", "anomaly", "alert", "ack"} {
		if !strings.Contains(joined, k) {
			t.Fatalf("timeline %s lacks %s", joined, k)
		}
	}

	// A restart replays the window and rebuilds the same incident.
	before := len(out.incidents)
	stop, done = run()
	time.Sleep(time.Second)
	stop()
	<-done
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.incidents) != before {
		t.Fatalf("restart made %d incidents, had %d", len(out.incidents), before)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTopologyEndpoint(t *testing.T) {
	g, _ := topology.Parse([]byte("services: [{name: checkout, user_facing: true, depends_on: [payment]}, {name: payment, depends_on: [payment-db]}]"))
	c := New(Config{Incidents: incidents.Config{Graph: g}}, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < 3; i++ { // three incidents where payment-db's trouble came first
		id := fmt.Sprintf("inc-%d", i)
		base := int64(i) * 3_600_000
		c.learnOnsets([]incidents.Event{{IncidentID: id, Kind: "anomaly", Service: "payment-db", TimeMs: base},
			{IncidentID: id, Kind: "anomaly", Service: "payment", TimeMs: base + 60_000},
			{IncidentID: id, Kind: "anomaly", Service: "payment", TimeMs: base + 90_000}}) // a repeat: not a new onset
	}
	rec := httptest.NewRecorder()
	c.TopologyHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/topology", nil))
	var out struct {
		Declared bool
		Nodes    []topology.Node
		Observed []topology.ObservedEdge
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if !out.Declared || out.Nodes[0].Service != "payment-db" || out.Nodes[0].BlastRadius != 2 || !out.Nodes[1].SinglePointOfFailure {
		t.Fatalf("nodes %+v", out.Nodes)
	}
	if len(out.Observed) != 1 || out.Observed[0].Leader != "payment-db" || out.Observed[0].Follower != "payment" || out.Observed[0].Count != 3 || out.Observed[0].MedianLagMs != 60_000 {
		t.Fatalf("observed %+v", out.Observed)
	}
}
