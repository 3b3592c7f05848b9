package surge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC).UnixMilli()

// traffic: an hour of 0–2 negative messages a minute among ~10, then a
// burst of complaints in minute 60, then calm.
func traffic(rng *rand.Rand, minutes int, burstAt int) []*records.SupportMessage {
	var out []*records.SupportMessage
	for m := 0; m < minutes; m++ {
		n, neg := 8+rng.IntN(5), rng.IntN(3)
		if m == burstAt {
			neg = 25
		}
		for i := 0; i < n+neg; i++ {
			label, text, score := "neutral", "where is my order?", 0.0
			if i < neg {
				label, text, score = "negative", fmt.Sprintf("payment failed again (%d)", i), -0.8
			} else if i%4 == 0 {
				label, score = "negative", -0.3 // a question the model leans negative on: not a complaint
			}
			out = append(out, &records.SupportMessage{Version: 1, ID: fmt.Sprintf("m%d-%d", m, i), TimeMs: t0 + int64(m)*60_000 + int64(i)*100,
				Channel: "chat", Service: "payment", Label: label, Sentiment: score, Text: text})
		}
	}
	return out
}

func TestSurgeOpensWithSamplesAndResolves(t *testing.T) {
	e := NewEngine(Config{})
	var events []records.Anomaly
	for _, m := range traffic(rand.New(rand.NewPCG(1, 2)), 70, 60) {
		events = append(events, e.Observe(m)...)
	}
	events = append(events, e.Tick(t0+71*60_000)...)
	if len(events) != 2 {
		t.Fatalf("events %+v", events)
	}
	open, resolved := events[0], events[1]
	if open.Kind != records.KindComplaintSurge || open.State != records.StateOpen || open.Service != "payment" ||
		open.Labels["channel"] != "chat" || !strings.Contains(open.Labels["sample_1"], "payment failed") ||
		open.Value != 25 || open.Expected > 2 || open.Score < 0.5 || open.TimeMs != t0+61*60_000 {
		t.Fatalf("open %+v", open)
	}
	if resolved.State != records.StateResolved || resolved.TimeMs <= open.TimeMs {
		t.Fatalf("resolved %+v", resolved)
	}
}

func TestNoSurgeOnOrdinaryTrafficOrBeforeWarmup(t *testing.T) {
	for seed := uint64(0); seed < 5; seed++ {
		e := NewEngine(Config{})
		for _, m := range traffic(rand.New(rand.NewPCG(seed, 9)), 600, 10) { // a burst during warm-up only
			if evs := e.Observe(m); len(evs) > 0 {
				t.Fatalf("seed %d: surge in ordinary traffic: %+v", seed, evs)
			}
		}
	}
}

func TestStageThroughKafkaAndRestart(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(2, time.Hour)); err != nil {
		t.Fatal(err)
	}
	prod := bus.NewProducer(brokers, "surge-test")
	defer prod.Close()
	send := func(ms []*records.SupportMessage) {
		var msgs []kafka.Message
		for _, m := range ms {
			v, _ := records.EncodeSupport(m)
			msgs = append(msgs, kafka.Message{Topic: records.TopicSupport, Key: m.Key(), Value: v})
		}
		if err := prod.Publish(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	all := traffic(rand.New(rand.NewPCG(3, 4)), 70, 60)
	half := 0
	for half < len(all) && all[half].TimeMs < t0+40*60_000 {
		half++
	}
	run := func() (context.CancelFunc, chan error) {
		sctx, stop := context.WithCancel(ctx)
		st := NewStage(StageConfig{Brokers: brokers, CheckpointEvery: 100 * time.Millisecond}, prod, prometheus.NewRegistry(),
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		done := make(chan error, 1)
		go func() { done <- st.Run(sctx) }()
		return stop, done
	}
	// First life: the first 40 minutes; second life: the rest, from the checkpoint.
	send(all[:half])
	stop, done := run()
	time.Sleep(2 * time.Second)
	stop()
	<-done
	send(all[half:])
	stop, done = run()
	defer func() { stop(); <-done }()

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicAnomalies, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, err := records.DecodeAnomaly(m.Value)
	if err != nil || a.Kind != records.KindComplaintSurge || a.State != records.StateOpen || a.TimeMs != t0+61*60_000 {
		t.Fatalf("first anomaly %+v (%v): want the surge of minute 60 (the restart kept the baseline)", a, err)
	}
}
