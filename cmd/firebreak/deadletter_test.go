package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

func TestPoisonRecordGoesToDeadLetterTopic(t *testing.T) {
	p := start(t, t.TempDir(), "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A foreign producer writes garbage straight onto the metrics topic,
	// into every partition, between valid points.
	sender := workload.NewSender(p.base + "/api/v1/write")
	req, _ := seriesRequest(0, 40, 10, time.Now().Add(-time.Hour).UnixMilli())
	if err := sender.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(p.broker), Topic: records.TopicMetrics, RequiredAcks: kafka.RequireAll,
		Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond}
	var poison []kafka.Message
	for i := 0; i < 4; i++ {
		poison = append(poison, kafka.Message{Key: []byte("poison"), Value: []byte("\xfbS\x01this is not a sample batch")})
	}
	if err := w.WriteMessages(ctx, poison...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	req, _ = seriesRequest(40, 40, 10, time.Now().Add(-time.Hour).UnixMilli())
	if err := sender.Send(ctx, req); err != nil {
		t.Fatal(err)
	}

	if count, _ := p.waitCount(t, 800, 30*time.Second); count != 800 {
		t.Fatalf("store holds %d points, want all 800 around the poison records", count)
	}

	// The dead-letter topic holds each poison record with its origin and reason.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{p.broker}, Topic: records.TopicDeadLetter, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := 0; i < 4; i++ {
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("dead letter %d: %v", i, err)
		}
		hdr := map[string]string{}
		for _, h := range msg.Headers {
			hdr[h.Key] = string(h.Value)
		}
		if hdr[records.HeaderSourceTopic] != records.TopicMetrics || !strings.Contains(hdr[records.HeaderError], "malformed") {
			t.Fatalf("dead letter headers %v", hdr)
		}
		if string(msg.Value) != string(poison[0].Value) {
			t.Fatalf("dead letter value %q", msg.Value)
		}
	}

	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `firebreak_writer_dead_letters_total{topic="firebreak.metrics"} 4`) {
		t.Fatalf("dead-letter counter not at 4:\n%s", grepLines(string(body), "dead_letter"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
