package otlp

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// benchLogs is one exporter batch: 4 services' resources, 500 records
// each (the SDK batch processor's default batch is 512), bodies of ~90
// bytes, 3 attributes, trace context on most.
func benchLogs() (plog.Logs, int) {
	ld := plog.NewLogs()
	n := 0
	for s := range 4 {
		rl := ld.ResourceLogs().AppendEmpty()
		ra := rl.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("svc-%d", s))
		ra.PutStr("host.name", "node-a")
		ra.PutStr("deployment.environment", "prod")
		ra.PutStr("telemetry.sdk.language", "go")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("shop/http")
		for i := range 500 {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + int64(i)*1_000_000))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr(fmt.Sprintf("GET /api/v1/orders/%d completed with status 200 in %d ms for user u-%d", i*7, i%40, i%97))
			a := lr.Attributes()
			a.PutStr("http.route", "/api/v1/orders/{id}")
			a.PutInt("http.status_code", 200)
			a.PutStr("user.id", fmt.Sprintf("u-%d", i%97))
			if i%10 != 0 {
				lr.SetTraceID(pcommon.TraceID{byte(i), byte(s), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
				lr.SetSpanID(pcommon.SpanID{byte(i), 2, 3, 4, 5, 6, 7, 8})
			}
			n++
		}
	}
	return ld, n
}

// BenchmarkLogsHTTP measures log lines per second through the HTTP
// handler (decode, map, key, encode records) into a sink that accepts at
// once, so Kafka's own cost is not in the figure.
func BenchmarkLogsHTTP(b *testing.B) {
	ld, lines := benchLogs()
	req := plogotlp.NewExportRequestFromLogs(ld)
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	for _, bc := range []struct {
		name, ct string
		body     []byte
		hdr      map[string]string
	}{
		{"protobuf", "application/x-protobuf", pb, nil},
		{"protobuf+gzip", "application/x-protobuf", gz(pb), map[string]string{"Content-Encoding": "gzip"}},
		{"json", "application/json", js, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := newCollector(acceptSink{}, Config{})
			h := c.HTTPHandler()
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/logs", bytes.NewReader(bc.body))
				r.Header.Set("Content-Type", bc.ct)
				for k, v := range bc.hdr {
					r.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkMetricsHTTP measures OTLP data points per second (each a
// Prometheus sample here) through the HTTP handler.
func BenchmarkMetricsHTTP(b *testing.B) {
	md, ms := newMetrics()
	md.ResourceMetrics().At(0).Resource().Attributes().PutStr("host.name", "node-a")
	points := 0
	for m := range 50 {
		metric := ms.AppendEmpty()
		metric.SetName(fmt.Sprintf("shop.metric.%d", m))
		sum := metric.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(2)
		for i := range 20 {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetTimestamp(testTs)
			dp.SetDoubleValue(float64(i))
			dp.Attributes().PutStr("http.route", fmt.Sprintf("/r/%d", i))
			dp.Attributes().PutInt("http.status_code", 200)
			points++
		}
	}
	body, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	c, _ := newCollector(acceptSink{}, Config{})
	h := c.HTTPHandler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/metrics", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*points)/b.Elapsed().Seconds(), "samples/s")
}
