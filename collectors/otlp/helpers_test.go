package otlp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const testPartitions = 4

// startBroker runs a real embedded broker with the metrics and logs topics
// and returns a producer on it.
func startBroker(t *testing.T) ([]string, *bus.Producer) {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{
		{Name: records.TopicMetrics, Partitions: testPartitions},
		{Name: records.TopicLogs, Partitions: testPartitions},
	}); err != nil {
		t.Fatal(err)
	}
	p := bus.NewProducer(brokers, "otlp-test")
	t.Cleanup(func() { p.Close() })
	return brokers, p
}

func newCollector(sink ingest.Sink, cfg Config) (*Collector, *ingest.Metrics) {
	m := ingest.NewMetrics(prometheus.NewRegistry())
	pub := &ingest.Publisher{Sink: sink, Partitions: func(string) int { return testPartitions }}
	return New(cfg, pub, m), m
}

// sample is one decoded point with its labels rendered Prometheus-style.
type sample struct {
	series string // name{a="b",...} sorted
	labels map[string]string
	ts     int64
	v      float64
}

type sampleCollector struct {
	partition int
	cur       map[string]string
	out       []sample
	misplaced int
}

func (c *sampleCollector) Series(id uint64, labels [][]byte) error {
	if c.partition >= 0 && records.Partition(id, testPartitions) != c.partition {
		c.misplaced++
	}
	c.cur = map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		c.cur[string(labels[i])] = string(labels[i+1])
	}
	return nil
}

func (c *sampleCollector) Point(ts int64, v float64) {
	c.out = append(c.out, sample{series: seriesString(c.cur), labels: c.cur, ts: ts, v: v})
}

func seriesString(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for n := range ls {
		if n != records.MetricNameLabel {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString(ls[records.MetricNameLabel])
	sb.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s=%q", n, ls[n])
	}
	sb.WriteByte('}')
	return sb.String()
}

// logLine is one decoded log entry with its stream.
type logLine struct {
	service  string
	labels   map[string]string
	timeNs   int64
	severity uint8
	sevText  string
	body     string
	traceID  string
	spanID   string
	attrs    map[string]string
}

type logCollector struct {
	partition int
	service   string
	labels    map[string]string
	out       []logLine
	misplaced int
}

func (c *logCollector) Stream(id uint64, service []byte, labels [][]byte) error {
	if c.partition >= 0 && records.Partition(id, testPartitions) != c.partition {
		c.misplaced++
	}
	c.service = string(service)
	c.labels = pairs(labels)
	return nil
}

func (c *logCollector) Entry(e *records.LogEntryRef) {
	c.out = append(c.out, logLine{
		service: c.service, labels: c.labels, timeNs: e.TimeNs, severity: e.SeverityNumber,
		sevText: string(e.SeverityText), body: string(e.Body), traceID: string(e.TraceID),
		spanID: string(e.SpanID), attrs: pairs(e.Attributes),
	})
}

func pairs(b [][]byte) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(b); i += 2 {
		m[string(b[i])] = string(b[i+1])
	}
	return m
}

// readTopic reads every record of topic, partition by partition, checking
// that each series or stream sits in the partition its id names.
func readTopic(t *testing.T, brokers []string, topic string) []kafka.Message {
	t.Helper()
	var msgs []kafka.Message
	for p := 0; p < testPartitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			msg, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			msgs = append(msgs, msg)
		}
		r.Close()
	}
	return msgs
}

func decodeSamples(t *testing.T, msgs []kafka.Message) []sample {
	t.Helper()
	var out []sample
	var buf [][]byte
	for _, m := range msgs {
		c := sampleCollector{partition: m.Partition}
		if m.Topic == "" { // captured, not read back: no partition to check
			c.partition = -1
		}
		if err := records.DecodeSamples(m.Value, &c, &buf); err != nil {
			t.Fatal(err)
		}
		if c.misplaced > 0 {
			t.Fatalf("partition %d holds %d series of other partitions", m.Partition, c.misplaced)
		}
		out = append(out, c.out...)
	}
	return out
}

func decodeLogs(t *testing.T, msgs []kafka.Message) []logLine {
	t.Helper()
	var out []logLine
	var scratch records.LogScratch
	for _, m := range msgs {
		c := logCollector{partition: m.Partition}
		if m.Topic == "" {
			c.partition = -1
		}
		if err := records.DecodeLogs(m.Value, &c, &scratch); err != nil {
			t.Fatal(err)
		}
		if c.misplaced > 0 {
			t.Fatalf("partition %d holds %d streams of other partitions", m.Partition, c.misplaced)
		}
		out = append(out, c.out...)
	}
	return out
}

// bySeries indexes samples by their series string; a series seen twice
// keeps the last point.
func bySeries(ss []sample) map[string]sample {
	m := map[string]sample{}
	for _, s := range ss {
		m[s.series] = s
	}
	return m
}

// captureSink keeps what was published, for mapping tests that need no
// broker. Its messages have no Topic, so decoders skip placement checks.
type captureSink struct {
	mu   sync.Mutex
	msgs map[string][]kafka.Message
}

func (c *captureSink) Publish(_ context.Context, msgs ...kafka.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msgs == nil {
		c.msgs = map[string][]kafka.Message{}
	}
	for _, m := range msgs {
		topic := m.Topic
		m.Topic = ""
		c.msgs[topic] = append(c.msgs[topic], m)
	}
	return nil
}

func (c *captureSink) take(topic string) []kafka.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.msgs[topic]
	delete(c.msgs, topic)
	return m
}

// failingSink stands for a broker that is down.
type failingSink struct{}

func (failingSink) Publish(context.Context, ...kafka.Message) error {
	return fmt.Errorf("%w: dial tcp 127.0.0.1:1: connection refused", bus.ErrUnavailable)
}

type acceptSink struct{}

func (acceptSink) Publish(context.Context, ...kafka.Message) error { return nil }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

var errNoSample = errors.New("no such sample")

// normalize sorts the labels of a series written name{a="1",b="2"}.
func normalize(series string) string {
	name, rest, ok := strings.Cut(series, "{")
	if !ok {
		return series
	}
	ls := map[string]string{records.MetricNameLabel: name}
	for _, m := range labelRE.FindAllStringSubmatch(rest, -1) {
		v, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			panic(err)
		}
		ls[m[1]] = v
	}
	return seriesString(ls)
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

func want(t *testing.T, got map[string]sample, series string, v float64) {
	t.Helper()
	series = normalize(series)
	s, ok := got[series]
	if !ok {
		var keys []string
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("%v: %s\nhave:\n  %s", errNoSample, series, strings.Join(keys, "\n  "))
	}
	if !near(s.v, v) {
		t.Fatalf("%s = %v, want %v", series, s.v, v)
	}
}
