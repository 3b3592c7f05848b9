package otlp

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// allKindsMetrics has one metric of every kind, for fuzz seeds.
func allKindsMetrics() pmetric.Metrics {
	md, ms := newMetrics()
	g := ms.AppendEmpty()
	g.SetName("g")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	s := ms.AppendEmpty()
	s.SetName("s")
	s.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	s.Sum().SetIsMonotonic(true)
	s.Sum().DataPoints().AppendEmpty().SetDoubleValue(2)
	h := ms.AppendEmpty()
	h.SetName("h")
	h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hdp := h.Histogram().DataPoints().AppendEmpty()
	hdp.ExplicitBounds().FromRaw([]float64{1})
	hdp.BucketCounts().FromRaw([]uint64{1, 1})
	hdp.SetCount(2)
	e := ms.AppendEmpty()
	e.SetName("e")
	e.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	edp := e.ExponentialHistogram().DataPoints().AppendEmpty()
	edp.SetScale(7)
	edp.Positive().SetOffset(-3)
	edp.Positive().BucketCounts().FromRaw([]uint64{1, 0, 4})
	edp.Negative().BucketCounts().FromRaw([]uint64{2})
	edp.SetCount(7)
	q := ms.AppendEmpty()
	q.SetName("q")
	qv := q.SetEmptySummary().DataPoints().AppendEmpty().QuantileValues().AppendEmpty()
	qv.SetQuantile(0.5)
	qv.SetValue(3)
	return md
}

func richLogs() plog.Logs {
	ld := logsWithBodies("hello", "world")
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	lr.Attributes().PutEmptyMap("m").PutInt("i", 1)
	lr.SetTraceID(pcommon.TraceID{1, 2, 3})
	lr.Body().SetEmptyMap().PutStr("k", "v")
	return ld
}

// fuzzHTTP posts arbitrary bodies: the handler must never panic or answer
// 5xx to client input, and whatever it published must decode.
func fuzzHTTP(f *testing.F, path, ct string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	sink := &captureSink{}
	c, _ := newCollector(sink, Config{MaxBodyBytes: 1 << 20, MaxDecodedBytes: 4 << 20, MaxLabels: 16, MaxLogBodyBytes: 256})
	h := c.HTTPHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := postOTLP(h, path, ct, body, nil)
		if rec.Code/100 == 5 {
			t.Fatalf("5xx for client input: %d %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		decodeSamples(t, sink.take(records.TopicMetrics))
		decodeLogs(t, sink.take(records.TopicLogs))
	})
}

func mustProto(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzMetricsProto(f *testing.F) {
	fuzzHTTP(f, "/v1/metrics", "application/x-protobuf",
		mustProto(pmetricotlp.NewExportRequestFromMetrics(allKindsMetrics()).MarshalProto()))
}

func FuzzMetricsJSON(f *testing.F) {
	fuzzHTTP(f, "/v1/metrics", "application/json", []byte(jsonMetrics),
		mustProto(pmetricotlp.NewExportRequestFromMetrics(allKindsMetrics()).MarshalJSON()))
}

func FuzzLogsProto(f *testing.F) {
	fuzzHTTP(f, "/v1/logs", "application/x-protobuf",
		mustProto(plogotlp.NewExportRequestFromLogs(richLogs()).MarshalProto()))
}

func FuzzLogsJSON(f *testing.F) {
	fuzzHTTP(f, "/v1/logs", "application/json", []byte(jsonLogs),
		mustProto(plogotlp.NewExportRequestFromLogs(richLogs()).MarshalJSON()))
}
