package selfmetrics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// registry holds one metric of each kind with known values.
func registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_requests_total", Help: "h"}, []string{"source"})
	c.WithLabelValues("loki").Add(7)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "test_lag", Help: "h", ConstLabels: prometheus.Labels{"instance": "own"}})
	g.Set(3)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(5)
	s := prometheus.NewSummary(prometheus.SummaryOpts{Name: "test_size", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	s.Observe(10)
	reg.MustRegister(c, g, h, s)
	return reg
}

func render(series []ingest.Series) map[string]float64 {
	out := map[string]float64{}
	for _, s := range series {
		var name string
		var parts []string
		for _, l := range s.Labels {
			if l.Name == "__name__" {
				name = l.Value
				continue
			}
			parts = append(parts, fmt.Sprintf("%s=%q", l.Name, l.Value))
		}
		sort.Strings(parts)
		out[name+"{"+strings.Join(parts, ",")+"}"] = s.Points[0].Value
	}
	return out
}

func TestConvertMapsEveryKindAsPrometheusStoresIt(t *testing.T) {
	fams, err := registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := render(Convert(fams, 1000, []records.Label{{Name: "instance", Value: "host:8480"}, {Name: "job", Value: "firebreak"}}))
	want := map[string]float64{
		`test_requests_total{instance="host:8480",job="firebreak",source="loki"}`: 7,
		// the metric's own instance label wins over the target's
		`test_lag{instance="own",job="firebreak"}`:                            3,
		`test_seconds_bucket{instance="host:8480",job="firebreak",le="0.1"}`:  1,
		`test_seconds_bucket{instance="host:8480",job="firebreak",le="1"}`:    2,
		`test_seconds_bucket{instance="host:8480",job="firebreak",le="+Inf"}`: 3,
		`test_seconds_sum{instance="host:8480",job="firebreak"}`:              5.55,
		`test_seconds_count{instance="host:8480",job="firebreak"}`:            3,
		`test_size{instance="host:8480",job="firebreak",quantile="0.5"}`:      10,
		`test_size_sum{instance="host:8480",job="firebreak"}`:                 10,
		`test_size_count{instance="host:8480",job="firebreak"}`:               1,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

type sampleCounter struct {
	names map[string]int
	ts    []int64
}

func (c *sampleCounter) Series(_ uint64, labels [][]byte) error {
	for i := 0; i+1 < len(labels); i += 2 {
		if string(labels[i]) == "__name__" {
			c.names[string(labels[i+1])]++
		}
	}
	return nil
}

func (c *sampleCounter) Point(ts int64, _ float64) { c.ts = append(c.ts, ts) }

// A scrape reaches the self-metrics topic of a real broker, in the metrics
// format, with the scraper's own counter counting it.
func TestScrapeOncePublishesToSelfMetricsTopic(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicSelfMetrics, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	p := bus.NewProducer(brokers, "selfmetrics-test")
	t.Cleanup(func() { p.Close() })

	reg := registry()
	now := time.UnixMilli(1_700_000_000_000)
	s := New(Config{
		Gatherer:  reg,
		Publisher: &ingest.Publisher{Sink: p, Partitions: func(string) int { return 1 }},
		Instance:  "host:8480",
		Now:       func() time.Time { return now },
	}, reg)
	if err := s.ScrapeOnce(ctx); err != nil {
		t.Fatal(err)
	}
	c := &sampleCounter{names: map[string]int{}}
	var buf [][]byte
	err = bus.ReadToEnd(ctx, brokers, records.TopicSelfMetrics, 0, func(m kafka.Message) error {
		return records.DecodeSamples(m.Value, c, &buf)
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.names["test_requests_total"] != 1 || c.names["test_seconds_bucket"] != 3 {
		t.Errorf("series by name = %v", c.names)
	}
	// The scraper's counters were gathered in the same scrape, before Inc.
	if c.names["firebreak_self_scrapes_total"] != 1 {
		t.Errorf("firebreak_self_scrapes_total not published: %v", c.names)
	}
	for _, ts := range c.ts {
		if ts != now.UnixMilli() {
			t.Fatalf("point at %d, want the scrape time %d", ts, now.UnixMilli())
		}
	}
	if got := testCounter(t, reg, "firebreak_self_scrapes_total"); got != 1 {
		t.Errorf("firebreak_self_scrapes_total = %v after one scrape", got)
	}
}

func testCounter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}
