package detect

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// BenchmarkConsume is the stage's per-point work without Kafka: decode a
// metrics record (1,000 series × 10 points), update and score every
// series' baseline, append bands, evaluate the predictive rule on the
// series it matches (one in six). points/s is per core (one partition is
// one goroutine).
//
//	go test -run '^$' -bench Consume -benchmem ./detectors/detect
func BenchmarkConsume(b *testing.B) {
	const nSeries, perRecord, nRecords = 1000, 10, 400
	metrics := []string{"http_request_rate", "http_request_duration_p99_seconds", "http_error_ratio",
		"process_cpu_usage_ratio", "process_resident_memory_bytes", "disk_used_ratio"}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	recs := make([][]byte, nRecords)
	for r := range recs {
		var bb records.SampleBatchBuilder
		for s := 0; s < nSeries; s++ {
			ls := []records.Label{{Name: "__name__", Value: metrics[s%len(metrics)]},
				{Name: "instance", Value: fmt.Sprintf("host-%d", s)}, {Name: "service", Value: "shop"}}
			// Realistic levels: ratios and latencies below the built-in
			// rules' thresholds, rates and bytes around 100.
			level, swing := 100.0, 10.0
			if m := metrics[s%len(metrics)]; m != "http_request_rate" && m != "process_resident_memory_bytes" {
				level, swing = 0.004, 0.001
			}
			pts := make([]records.Point, perRecord)
			for i := range pts {
				k := r*perRecord + i
				pts[i] = records.Point{TimestampMs: t0 + int64(k)*15_000,
					Value: level + swing*math.Sin(float64(k)/40) + swing*float64((k*7919+s)%13)/13}
			}
			bb.Add(records.SeriesID(ls), ls, pts)
		}
		recs[r] = bb.AppendRecord(nil)
	}
	st := New(Config{Rules: forecast.DefaultRules()}, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var p *partition
	reset := func() {
		p = newPartition(st, 0)
		// Warm: every series exists and is past its learning period.
		for _, rec := range recs[:10] {
			p.consume(kafka.Message{Value: rec})
			p.bandBuf.Reset()
			p.anomalies = p.anomalies[:0]
		}
	}
	reset()
	next := 10
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if next == nRecords {
			b.StopTimer()
			reset()
			next = 10
			b.StartTimer()
		}
		p.consume(kafka.Message{Value: recs[next]})
		next++
		p.bandBuf.Reset()
		p.anomalies = p.anomalies[:0]
	}
	b.ReportMetric(float64(b.N*nSeries*perRecord)/b.Elapsed().Seconds(), "points/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		// The machine may be shared: CPU time gives the per-core rate.
		b.ReportMetric(float64(b.N*nSeries*perRecord)/cpu, "points/cpu-s")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// TestStateSize: a series' whole state (detector with weekly profiles,
// labels, one rule) stays within the 2 KB budget.
func TestStateSize(t *testing.T) {
	s := &series{id: 1, labels: []records.Label{{Name: "__name__", Value: "disk_used_ratio"},
		{Name: "instance", Value: "inventory-a"}, {Name: "service", Value: "inventory"}}}
	s.det = *anomaly.NewDetector(anomaly.DefaultConfig())
	r := forecast.DefaultRules()[0]
	s.rules = []ruleState{{rule: r, st: r.NewState()}}
	n := len(encodeSeries(nil, s))
	t.Logf("checkpointed state of a series: %d bytes (detector %d)", n, anomaly.SnapshotSize)
	if n > 2048 {
		t.Fatalf("state %d bytes > 2 KB", n)
	}
}
