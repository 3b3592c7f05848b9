// Package logstest is what the log collectors' tests share: a real
// embedded broker with the logs topic, and reading LogBatch records back
// as plain lines, checking that every stream sits in its partition.
package logstest

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

// Partitions of the test logs topic.
const Partitions = 4

// PartitionCount is an ingest.Partitions for the test topic.
func PartitionCount(string) int { return Partitions }

// StartBroker runs a real embedded broker with the logs topic.
func StartBroker(t testing.TB) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicLogs, Partitions: Partitions}}); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// Line is one entry read back from the logs topic.
type Line struct {
	Partition int
	StreamID  uint64
	EntryID   uint64
	Service   string
	Labels    map[string]string
	TimeNs    int64
	SevNum    uint8
	SevText   string
	Body      string
	TraceID   string
	SpanID    string
	Attrs     map[string]string
}

type collector struct {
	partition int
	cur       Line
	out       []Line
}

func (c *collector) Stream(id uint64, service []byte, labels [][]byte) error {
	c.cur = Line{Partition: c.partition, StreamID: id, Service: string(service), Labels: pairs(labels)}
	return nil
}

func (c *collector) Entry(e *records.LogEntryRef) {
	l := c.cur
	l.EntryID, l.TimeNs, l.SevNum, l.SevText, l.Body = e.ID, e.TimeNs, e.SeverityNumber, string(e.SeverityText), string(e.Body)
	l.TraceID, l.SpanID, l.Attrs = string(e.TraceID), string(e.SpanID), pairs(e.Attributes)
	c.out = append(c.out, l)
}

func pairs(kv [][]byte) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[string(kv[i])] = string(kv[i+1])
	}
	return m
}

// Decode returns the lines of one LogBatch record read from partition.
func Decode(partition int, value []byte) ([]Line, error) {
	c := &collector{partition: partition}
	var sc records.LogScratch
	if err := records.DecodeLogs(value, c, &sc); err != nil {
		return nil, err
	}
	return c.out, nil
}

// ReadLogs reads the logs topic until want lines arrived and nothing more
// comes (or 20 s passed), checking that every stream sits in the partition
// its id maps to.
func ReadLogs(t testing.TB, brokers []string, want int) []Line {
	t.Helper()
	readers := make([]*kafka.Reader, Partitions)
	for p := range readers {
		readers[p] = kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicLogs, Partition: p, MaxWait: 50 * time.Millisecond})
		defer readers[p].Close()
	}
	var all []Line
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
			lines, err := Decode(p, msg.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, msg.Offset, err)
			}
			for _, l := range lines {
				if want := records.Partition(l.StreamID, Partitions); want != p {
					t.Fatalf("stream %d (%s) in partition %d, belongs in %d", l.StreamID, l.Service, p, want)
				}
			}
			all = append(all, lines...)
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

// ByBody indexes lines by body.
func ByBody(lines []Line) map[string]Line {
	m := map[string]Line{}
	for _, l := range lines {
		m[l.Body] = l
	}
	return m
}

// AcceptSink takes everything, for benchmarks and fuzzing.
type AcceptSink struct{}

func (AcceptSink) Publish(context.Context, ...kafka.Message) error { return nil }

// CountingSink accepts and counts the lines of the records it is given.
type CountingSink struct{ Lines int }

func (c *CountingSink) Publish(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		lines, err := Decode(0, m.Value)
		if err != nil {
			return err
		}
		c.Lines += len(lines)
	}
	return nil
}

// FailingSink stands for a broker that is down.
type FailingSink struct{}

func (FailingSink) Publish(context.Context, ...kafka.Message) error {
	return errors.New("dial tcp 127.0.0.1:1: connection refused")
}
