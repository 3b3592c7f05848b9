package jsonlines

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const testPartitions = 4

func partitions(string) int { return testPartitions }

// startBroker runs a real embedded broker with the logs topic.
func startBroker(t testing.TB) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicLogs, Partitions: testPartitions}}); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// line is one entry read back from the logs topic.
type line struct {
	partition int
	streamID  uint64
	entryID   uint64
	service   string
	labels    map[string]string
	timeNs    int64
	sevNum    uint8
	sevText   string
	body      string
	traceID   string
	spanID    string
	attrs     map[string]string
}

type collector struct {
	partition int
	cur       line
	out       []line
}

func (c *collector) Stream(id uint64, service []byte, labels [][]byte) error {
	c.cur = line{partition: c.partition, streamID: id, service: string(service), labels: pairs(labels)}
	return nil
}

func (c *collector) Entry(e *records.LogEntryRef) {
	l := c.cur
	l.entryID, l.timeNs, l.sevNum, l.sevText, l.body = e.ID, e.TimeNs, e.SeverityNumber, string(e.SeverityText), string(e.Body)
	l.traceID, l.spanID, l.attrs = string(e.TraceID), string(e.SpanID), pairs(e.Attributes)
	c.out = append(c.out, l)
}

func pairs(kv [][]byte) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[string(kv[i])] = string(kv[i+1])
	}
	return m
}

// readLogs reads the logs topic until want lines arrived and nothing more
// comes (or 20 s passed), decoding with records.DecodeLogs and checking
// that every stream sits in the partition its id maps to.
func readLogs(t testing.TB, brokers []string, want int) []line {
	t.Helper()
	readers := make([]*kafka.Reader, testPartitions)
	for p := range readers {
		readers[p] = kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicLogs, Partition: p, MaxWait: 50 * time.Millisecond})
		defer readers[p].Close()
	}
	var all []line
	deadline := time.Now().Add(20 * time.Second)
	for quiet := 0; quiet < 2 && time.Now().Before(deadline); {
		got := false
		for p, r := range readers {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			msg, err := r.ReadMessage(ctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got = true
			c := &collector{partition: p}
			var sc records.LogScratch
			if err := records.DecodeLogs(msg.Value, c, &sc); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, msg.Offset, err)
			}
			for _, l := range c.out {
				if records.Partition(l.streamID, testPartitions) != p {
					t.Fatalf("stream %d (%s) in partition %d, belongs in %d", l.streamID, l.service, p, records.Partition(l.streamID, testPartitions))
				}
			}
			all = append(all, c.out...)
		}
		switch {
		case got:
			quiet = 0
		case len(all) >= want:
			quiet++ // all there: make sure nothing more comes
		}
	}
	if len(all) != want {
		t.Fatalf("logs topic holds %d lines, want %d", len(all), want)
	}
	return all
}

func byBody(lines []line) map[string]line {
	m := map[string]line{}
	for _, l := range lines {
		m[l.body] = l
	}
	return m
}

// acceptSink takes everything, for benchmarks and fuzzing.
type acceptSink struct{}

func (acceptSink) Publish(context.Context, ...kafka.Message) error { return nil }

// failingSink stands for a broker that is down.
type failingSink struct{}

func (failingSink) Publish(context.Context, ...kafka.Message) error {
	return errors.New("dial tcp 127.0.0.1:1: connection refused")
}

// countingSink accepts and counts the lines of the records it is given.
type countingSink struct{ lines int }

func (c *countingSink) Publish(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		col := &collector{}
		var sc records.LogScratch
		if err := records.DecodeLogs(m.Value, col, &sc); err != nil {
			return err
		}
		c.lines += len(col.out)
	}
	return nil
}
