package otlp

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const testTs = pcommon.Timestamp(1_700_000_000_000_000_000)

// newMetrics returns metrics with one resource (service "svc") and scope,
// and the scope's metric slice to fill.
func newMetrics() (pmetric.Metrics, pmetric.MetricSlice) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	return md, rm.ScopeMetrics().AppendEmpty().Metrics()
}

func gaugeMetrics(name string, v float64) pmetric.Metrics {
	md, ms := newMetrics()
	m := ms.AppendEmpty()
	m.SetName(name)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(testTs)
	dp.SetDoubleValue(v)
	return md
}

func logsWithBodies(bodies ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, b := range bodies {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(testTs)
		lr.Body().SetStr(b)
	}
	return ld
}

// export runs metrics through the collector into a capture sink.
func export(t *testing.T, cfg Config, md pmetric.Metrics) (map[string]sample, outcome) {
	t.Helper()
	sink := &captureSink{}
	c, _ := newCollector(sink, cfg)
	res, herr := c.exportMetrics(context.Background(), md, SourceHTTP)
	if herr != nil && herr.Reason != reasonAllRefused {
		t.Fatalf("export: %v", herr)
	}
	return bySeries(decodeSamples(t, sink.take(records.TopicMetrics))), res
}

func TestExponentialHistogramToLe(t *testing.T) {
	md, ms := newMetrics()
	m := ms.AppendEmpty()
	m.SetName("latency")
	eh := m.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	// Scale 5 (32 buckets per octave), merged down to the default scale 3:
	// buckets 30,31 → 7 and 32,33,34 → 8.
	dp := eh.DataPoints().AppendEmpty()
	dp.SetTimestamp(testTs)
	dp.SetScale(5)
	dp.Positive().SetOffset(30)
	dp.Positive().BucketCounts().FromRaw([]uint64{1, 2, 3, 4, 5})
	dp.Negative().SetOffset(-2) // index -2 at scale 5 → -1 at scale 3: [-2^(0/8), -2^(-1/8))
	dp.Negative().BucketCounts().FromRaw([]uint64{4})
	dp.SetZeroCount(2)
	dp.SetZeroThreshold(0.001)
	dp.SetCount(21)
	dp.SetSum(30)
	// Scale 0 (coarser than the grid): kept as is; the empty bucket has no le.
	dp2 := eh.DataPoints().AppendEmpty()
	dp2.SetTimestamp(testTs)
	dp2.Attributes().PutStr("path", "/b")
	dp2.SetScale(0)
	dp2.Positive().SetOffset(0)
	dp2.Positive().BucketCounts().FromRaw([]uint64{1, 0, 2})
	dp2.SetCount(3)

	got, _ := export(t, Config{}, md)
	b := `latency_bucket{service="svc",le=`
	want(t, got, b+`"-0.9170040432046712"}`, 4)
	want(t, got, b+`"0.001"}`, 6)
	want(t, got, b+`"2"}`, 9)
	want(t, got, b+`"2.1810154653305154"}`, 21)
	want(t, got, b+`"+Inf"}`, 21)
	want(t, got, `latency_sum{service="svc"}`, 30)
	want(t, got, `latency_count{service="svc"}`, 21)
	b2 := `latency_bucket{path="/b",service="svc",le=`
	want(t, got, b2+`"2"}`, 1)
	want(t, got, b2+`"8"}`, 3)
	want(t, got, b2+`"+Inf"}`, 3)
	if _, ok := got[b2+`"4"}`]; ok {
		t.Fatal("an empty bucket got an le series")
	}
	if _, ok := got[`latency_sum{path="/b",service="svc"}`]; ok {
		t.Fatal("_sum without a sum")
	}
	if len(got) != 11 {
		t.Fatalf("%d series", len(got))
	}

	// A finer grid keeps the sender's scale 5 boundaries: 2^(35/32).
	got, _ = export(t, Config{ExpHistogramBucketsPerOctave: 32}, md)
	want(t, got, b+`"2.1342808013536474"}`, 21)
}

func TestNamesTemporalityAndUnits(t *testing.T) {
	md, ms := newMetrics()
	sum := func(name, unit string, temp pmetric.AggregationTemporality, monotonic bool, v int64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		s := m.SetEmptySum()
		s.SetAggregationTemporality(temp)
		s.SetIsMonotonic(monotonic)
		dp := s.DataPoints().AppendEmpty()
		dp.SetTimestamp(testTs)
		dp.SetIntValue(v)
	}
	sum("http.requests", "1", pmetric.AggregationTemporalityCumulative, true, 10)
	sum("jobs_total", "", pmetric.AggregationTemporalityCumulative, true, 11)
	sum("net.sent", "By", pmetric.AggregationTemporalityDelta, true, 12)
	sum("queue.depth", "", pmetric.AggregationTemporalityCumulative, false, 13)
	sum("2xx.count", "", pmetric.AggregationTemporalityCumulative, false, 14)
	sum("mystery", "", pmetric.AggregationTemporalityUnspecified, true, 15)
	h := ms.AppendEmpty()
	h.SetName("http.server.duration")
	h.SetUnit("s")
	hh := h.SetEmptyHistogram()
	hh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hdp := hh.DataPoints().AppendEmpty()
	hdp.SetTimestamp(testTs)
	hdp.SetCount(2)
	hdp.SetSum(0.4)
	hdp.ExplicitBounds().FromRaw([]float64{0.25})
	hdp.BucketCounts().FromRaw([]uint64{1, 1})

	got, res := export(t, Config{}, md)
	want(t, got, `http_requests_total{service="svc"}`, 10)
	want(t, got, `jobs_total{service="svc"}`, 11)
	want(t, got, `net_sent{service="svc"}`, 12) // delta: the increment, no _total
	want(t, got, `queue_depth{service="svc"}`, 13)
	want(t, got, `_2xx_count{service="svc"}`, 14)
	want(t, got, `http_server_duration_bucket{service="svc",le="0.25"}`, 1)
	want(t, got, `http_server_duration_bucket{service="svc",le="+Inf"}`, 2)
	if res.rejected["unspecified_temporality"] != 1 {
		t.Fatalf("rejections %v", res.rejected)
	}

	got, _ = export(t, Config{UnitSuffixes: true}, md)
	want(t, got, `http_requests_total{service="svc"}`, 10)
	want(t, got, `net_sent_bytes{service="svc"}`, 12)
	want(t, got, `http_server_duration_seconds_sum{service="svc"}`, 0.4)
}

func TestLabelsFromResourceAndAttributes(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	ra.PutStr("host.name", "from-resource")
	ra.PutStr("k8s.namespace.name", "prod")
	ra.PutStr("cloud.region", "eu-1") // not promoted by default
	ra.PutStr("service.instance.id", "i-1")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("x")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := h.DataPoints().AppendEmpty()
	dp.SetTimestamp(testTs)
	dp.SetCount(1)
	a := dp.Attributes()
	a.PutStr("host.name", "from-point") // overrides the promoted resource attribute
	a.PutStr("service", "callee")       // collides with a label the mapping sets
	a.PutStr("le", "oops")
	a.PutStr("a.b", "1") // a.b and a_b sanitize alike: joined
	a.PutStr("a_b", "2")
	a.PutInt("code", 200)
	a.PutStr("empty", "") // an empty value is no label

	got, _ := export(t, Config{}, md)
	want(t, got, `x_bucket{a_b="1;2",code="200",exported_le="oops",exported_service="callee",host_name="from-point",instance="i-1",k8s_namespace_name="prod",service="unknown_service",le="+Inf"}`, 1)

	ra.PutStr("service", "promoted") // a promoted attribute may not replace service either
	got, _ = export(t, Config{ResourceLabels: []string{"cloud.region", "service"}}, md)
	want(t, got, `x_count{a_b="1;2",cloud_region="eu-1",code="200",exported_le="oops",exported_service="callee",host_name="from-point",instance="i-1",service="unknown_service"}`, 1)
}

func TestStalenessAndMissingTime(t *testing.T) {
	md, ms := newMetrics()
	m := ms.AppendEmpty()
	m.SetName("g")
	dps := m.SetEmptyGauge().DataPoints()
	stale := dps.AppendEmpty()
	stale.SetTimestamp(testTs)
	stale.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	stale.Attributes().PutStr("k", "stale")
	noTime := dps.AppendEmpty()
	noTime.SetDoubleValue(math.NaN())
	noTime.Attributes().PutStr("k", "now")
	noValue := dps.AppendEmpty()
	noValue.SetTimestamp(testTs)
	noValue.Attributes().PutStr("k", "none")

	before := time.Now().UnixMilli()
	got, res := export(t, Config{}, md)
	if s := got[`g{k="stale",service="svc"}`]; math.Float64bits(s.v) != value.StaleNaN {
		t.Fatalf("no-recorded-value point: %v, want the Prometheus stale marker", s.v)
	}
	s := got[`g{k="now",service="svc"}`]
	if !math.IsNaN(s.v) || value.IsStaleNaN(s.v) || s.ts < before || s.ts > time.Now().UnixMilli() {
		t.Fatalf("NaN point without time: %+v", s)
	}
	if res.rejected["missing_value"] != 1 || len(got) != 2 {
		t.Fatalf("rejections %v, %d series", res.rejected, len(got))
	}
}

func TestRefusedMetrics(t *testing.T) {
	md, ms := newMetrics()
	add := func(name string, attrs map[string]string) {
		m := ms.AppendEmpty()
		m.SetName(name)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetIntValue(1)
		for k, v := range attrs {
			dp.Attributes().PutStr(k, v)
		}
	}
	add("", nil)
	add("...", nil)
	add("bad_value", map[string]string{"k": "\xff"})
	add("bad\xffname", nil)
	add("bad_key", map[string]string{"__": "v"})
	add("wide", map[string]string{"a": "1", "b": "2", "c": "3"})
	add("fine", map[string]string{"a": "1", "b": "2"})
	exp := ms.AppendEmpty()
	exp.SetName("e")
	exp.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	exp.ExponentialHistogram().DataPoints().AppendEmpty().SetScale(21)
	hist := ms.AppendEmpty()
	hist.SetName("h")
	h := hist.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	h.DataPoints().AppendEmpty().BucketCounts().FromRaw([]uint64{1, 2}) // no bounds for 2 buckets

	got, res := export(t, Config{MaxLabels: 4}, md)
	wantRejected := map[string]int{"empty_metric_name": 1, "invalid_metric_name": 1, "invalid_utf8": 2,
		"invalid_label_name": 1, "too_many_labels": 1, "invalid_histogram": 2}
	for r, n := range wantRejected {
		if res.rejected[r] != n {
			t.Fatalf("%s: %d, want %d (all: %v)", r, res.rejected[r], n, res.rejected)
		}
	}
	if len(got) != 1 || res.items != 9 {
		t.Fatalf("stored %v of %d", got, res.items)
	}
	msg := res.message(&Config{MaxLabels: 4}, "data points")
	if !strings.HasPrefix(msg, "refused 8 of 9 data points: 2 invalid_histogram") {
		t.Fatalf("message %q", msg)
	}
}

// exportLogs runs logs through the collector into a capture sink.
func exportLogsTest(t *testing.T, cfg Config, ld plog.Logs) ([]logLine, outcome) {
	t.Helper()
	sink := &captureSink{}
	c, _ := newCollector(sink, cfg)
	res, herr := c.exportLogs(context.Background(), ld, SourceGRPC)
	if herr != nil && herr.Reason != reasonAllRefused {
		t.Fatalf("export: %v", herr)
	}
	return decodeLogs(t, sink.take(records.TopicLogs)), res
}

func TestLogMapping(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty() // no service.name
	rl.Resource().Attributes().PutStr("k8s.pod.name", "p-1")
	rl.Resource().Attributes().PutInt("process.pid", 7)
	for _, scope := range []string{"db", "http"} {
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scope)
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(testTs)
		lr.Body().SetStr(scope + " line")
	}
	lrs := rl.ScopeLogs().At(0).LogRecords()
	bodies := []func(v pcommon.Value){
		func(v pcommon.Value) { v.SetInt(42) },
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte("hi")) },
		func(v pcommon.Value) { v.SetEmptySlice().AppendEmpty().SetBool(true) },
		func(v pcommon.Value) { v.SetStr("bad \xff byte") },
	}
	for _, set := range bodies {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(testTs)
		lr.SetSeverityNumber(99) // out of range: unspecified
		set(lr.Body())
	}
	lr := lrs.AppendEmpty()
	lr.SetEventName("user.login")
	lr.Body().SetStr("event")
	nested := lr.Attributes().PutEmptyMap("a")
	nested.PutEmptyMap("b").PutDouble("c", 1.5)
	nested.PutStr("d", "e")
	lr.Attributes().PutStr("a.d", "f") // the same name as the flattened a.d: joined

	// A second resource with too many labels: refused.
	wide := ld.ResourceLogs().AppendEmpty()
	for _, k := range []string{"a", "b", "c"} {
		wide.Resource().Attributes().PutStr(k, "v")
	}
	wide.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("dropped")

	before := time.Now().UnixNano()
	lines, res := exportLogsTest(t, Config{MaxLabels: 2}, ld)
	if res.rejected["too_many_labels"] != 1 || len(lines) != 7 {
		t.Fatalf("rejections %v, %d lines", res.rejected, len(lines))
	}
	byBody := map[string]logLine{}
	for _, l := range lines {
		byBody[l.body] = l
		if l.service != "unknown_service" || l.labels["k8s_pod_name"] != "p-1" || l.labels["process_pid"] != "7" {
			t.Fatalf("stream %q %v", l.service, l.labels)
		}
	}
	if byBody["db line"].attrs[attrScopeName] != "db" || byBody["http line"].attrs[attrScopeName] != "http" {
		t.Fatal("scope names not kept per record")
	}
	for _, b := range []string{"42", "aGk=", "[true]", "bad \uFFFD byte"} {
		l, ok := byBody[b]
		if !ok {
			t.Fatalf("no line with body %q: %v", b, byBody)
		}
		if l.severity != 0 {
			t.Fatalf("severity %d", l.severity)
		}
	}
	ev := byBody["event"]
	if ev.attrs["event.name"] != "user.login" || ev.attrs["a.b.c"] != "1.5" || ev.attrs["a.d"] != "e;f" {
		t.Fatalf("attributes %v", ev.attrs)
	}
	if ev.timeNs < before || ev.timeNs > time.Now().UnixNano() {
		t.Fatalf("record without times: %d, want arrival time", ev.timeNs)
	}
}

// TestConcurrentRequestsKeepTheirOwnData runs requests in parallel through
// the pooled per-request memory: every line must arrive once, intact.
func TestConcurrentRequestsKeepTheirOwnData(t *testing.T) {
	sink := &captureSink{}
	c, _ := newCollector(sink, Config{})
	h := c.HTTPHandler()
	const workers, requests, perRequest = 8, 25, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range requests {
				ld := plog.NewLogs()
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("w%d", w))
				lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
				for i := range perRequest {
					lr := lrs.AppendEmpty()
					lr.SetTimestamp(testTs)
					lr.Body().SetStr(fmt.Sprintf("w%d r%d i%d", w, r, i))
					lr.Attributes().PutStr("id", fmt.Sprintf("w%d r%d i%d", w, r, i))
					lr.SetTraceID(pcommon.TraceID{byte(w), byte(r), byte(i), 1})
				}
				body, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
				if rec := postOTLP(h, "/v1/logs", "application/x-protobuf", body, nil); rec.Code != 200 {
					t.Errorf("status %d", rec.Code)
				}
			}
		}()
	}
	wg.Wait()
	lines := decodeLogs(t, sink.take(records.TopicLogs))
	seen := map[string]bool{}
	for _, l := range lines {
		var w, r, i int
		fmt.Sscanf(l.body, "w%d r%d i%d", &w, &r, &i)
		tid := hex.EncodeToString([]byte{byte(w), byte(r), byte(i), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		if seen[l.body] || l.attrs["id"] != l.body || l.service != fmt.Sprintf("w%d", w) || l.traceID != tid {
			t.Fatalf("line mixed up or repeated: %+v", l)
		}
		seen[l.body] = true
	}
	if len(seen) != workers*requests*perRequest {
		t.Fatalf("%d distinct lines, want %d", len(seen), workers*requests*perRequest)
	}
}
