package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// shopResource is what a real service's SDK would describe itself as.
func shopResource() *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.namespace", "shop"),
		attribute.String("service.instance.id", "checkout-1"),
		attribute.String("host.name", "node-a"),
		attribute.String("k8s.pod.name", "checkout-7d9f"),
		attribute.Int("process.pid", 4242), // not promoted for metrics
	)
}

// recordAllKinds records one of each instrument kind the SDK has.
func recordAllKinds(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	meter := mp.Meter("shop/checkout")
	requests, _ := meter.Int64Counter("http.server.requests")
	inflight, _ := meter.Int64UpDownCounter("http.server.active_requests")
	temp, _ := meter.Float64Gauge("cpu.temperature")
	latency, _ := meter.Float64Histogram("http.server.duration")
	size, _ := meter.Float64Histogram("payload.size")
	get := attribute.NewSet(attribute.String("http.method", "GET"), attribute.Int("http.status_code", 200))
	for range 3 {
		requests.Add(ctx, 1, metric.WithAttributeSet(get))
	}
	inflight.Add(ctx, 5)
	inflight.Add(ctx, -2)
	temp.Record(ctx, 61.5)
	for _, v := range []float64{0.05, 0.3, 0.7, 2} {
		latency.Record(ctx, v)
	}
	for _, v := range []float64{1, 2, 3, 100, 1000} {
		size.Record(ctx, v)
	}
}

func newMeterProvider(exp sdkmetric.Exporter) *sdkmetric.MeterProvider {
	return sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(shopResource()),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(
			sdkmetric.NewView(sdkmetric.Instrument{Name: "http.server.duration"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{0.1, 0.5, 1}}}),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "payload.size"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}}),
		),
	)
}

// checkAllKinds checks what recordAllKinds must have become.
func checkAllKinds(t *testing.T, got map[string]sample) {
	t.Helper()
	base := `host_name="node-a",instance="checkout-1",k8s_pod_name="checkout-7d9f",service="checkout",service_namespace="shop"`
	want(t, got, `http_server_requests_total{`+base+`,http_method="GET",http_status_code="200"}`, 3)
	want(t, got, `http_server_active_requests{`+base+`}`, 3)
	want(t, got, `cpu_temperature{`+base+`}`, 61.5)
	for le, n := range map[string]float64{"0.1": 1, "0.5": 2, "1": 3, "+Inf": 4} {
		want(t, got, `http_server_duration_bucket{`+base+`,le="`+le+`"}`, n)
	}
	want(t, got, `http_server_duration_sum{`+base+`}`, 3.05)
	want(t, got, `http_server_duration_count{`+base+`}`, 4)
	// Exponential: stored at 8 buckets per octave; 1 and 2 sit on
	// boundaries, 3 in (2^(12/8), 2^(13/8)], 100 in (.., 2^(54/8)], 1000 in (.., 1024].
	for le, n := range map[string]float64{"1": 1, "2": 2, "3.084421650815882": 3, "107.63474115247547": 4, "1024": 5, "+Inf": 5} {
		want(t, got, `payload_size_bucket{`+base+`,le="`+le+`"}`, n)
	}
	want(t, got, `payload_size_sum{`+base+`}`, 1106)
	want(t, got, `payload_size_count{`+base+`}`, 5)
	for s := range got {
		if strings.Contains(s, "process_pid") {
			t.Fatalf("process.pid is not a promoted resource attribute: %s", s)
		}
	}
}

func TestSDKMetricsOverHTTPReachKafka(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(p, Config{})
	srv := httptest.NewServer(c.HTTPHandler())
	defer srv.Close()

	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"),
		otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	mp := newMeterProvider(exp)
	recordAllKinds(t, mp)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := decodeSamples(t, readTopic(t, brokers, records.TopicMetrics))
	checkAllKinds(t, bySeries(got))
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(SourceHTTP, "samples")); int(n) != len(got) {
		t.Fatalf("accepted counter %v, topic holds %d samples", n, len(got))
	}
	if testutil.ToFloat64(m.Requests.WithLabelValues(SourceHTTP, "200")) < 1 {
		t.Fatal("request not counted")
	}
}

func TestSDKLogsOverHTTPReachKafka(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(p, Config{})
	srv := httptest.NewServer(c.HTTPHandler())
	defer srv.Close()

	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(srv.URL+"/v1/logs"),
		otlploghttp.WithCompression(otlploghttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	emitLogs(t, exp)
	checkLogs(t, decodeLogs(t, readTopic(t, brokers, records.TopicLogs)))
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(SourceHTTP, "logs")); n != 3 {
		t.Fatalf("accepted counter %v, want 3", n)
	}
}

var (
	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	logTime     = time.Date(2026, 11, 3, 10, 0, 0, 123456789, time.UTC)
)

// emitLogs sends three records through the SDK: an error inside a span
// with attributes of several types, a structured body, and one without a
// timestamp.
func emitLogs(t *testing.T, exp sdklog.Exporter) {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(
		attribute.String("service.name", "payments"),
		attribute.String("deployment.environment", "prod"),
		attribute.String("host.name", "node-b"),
	)
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	logger := lp.Logger("shop/payments", otellog.WithInstrumentationVersion("1.2.0"))

	spanCtx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled,
	}))
	var r otellog.Record
	r.SetTimestamp(logTime)
	r.SetSeverity(otellog.SeverityError)
	r.SetSeverityText("ERROR")
	r.SetBody(attribute.StringValue("payment failed"))
	r.AddAttributes(
		attribute.Int("order.id", 42),
		attribute.Bool("retry", true),
		attribute.Map("user", attribute.String("id", "u1"), attribute.String("tier", "gold")),
		attribute.StringSlice("items", []string{"a", "b"}),
	)
	logger.Emit(spanCtx, r)

	var r2 otellog.Record
	r2.SetTimestamp(logTime.Add(time.Second))
	r2.SetSeverity(otellog.SeverityInfo)
	r2.SetBody(attribute.MapValue(attribute.String("event", "refund"), attribute.Int("amount", 12)))
	logger.Emit(ctx, r2)

	var r3 otellog.Record // no timestamp: the observed time is used
	r3.SetObservedTimestamp(logTime.Add(2 * time.Second))
	r3.SetBody(attribute.StringValue("no time"))
	logger.Emit(ctx, r3)

	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func checkLogs(t *testing.T, lines []logLine) {
	t.Helper()
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3: %+v", len(lines), lines)
	}
	byBody := map[string]logLine{}
	for _, l := range lines {
		byBody[l.body] = l
		if l.service != "payments" || l.labels["deployment_environment"] != "prod" || l.labels["host_name"] != "node-b" || len(l.labels) != 2 {
			t.Fatalf("stream: service %q labels %v", l.service, l.labels)
		}
		if l.attrs[attrScopeName] != "shop/payments" || l.attrs[attrScopeVersion] != "1.2.0" {
			t.Fatalf("scope attributes: %v", l.attrs)
		}
	}
	e := byBody["payment failed"]
	if e.timeNs != logTime.UnixNano() || e.severity != 17 || e.sevText != "ERROR" {
		t.Fatalf("error line: %+v", e)
	}
	if e.traceID != "4bf92f3577b34da6a3ce929d0e0e4736" || e.spanID != "00f067aa0ba902b7" {
		t.Fatalf("trace context: %q %q", e.traceID, e.spanID)
	}
	for k, v := range map[string]string{"order.id": "42", "retry": "true", "user.id": "u1", "user.tier": "gold", "items": `["a","b"]`} {
		if e.attrs[k] != v {
			t.Fatalf("attribute %s = %q, want %q (all: %v)", k, e.attrs[k], v, e.attrs)
		}
	}
	if _, ok := byBody[`{"amount":12,"event":"refund"}`]; !ok {
		t.Fatalf("structured body not JSON-encoded: %v", byBody)
	}
	if l := byBody["no time"]; l.timeNs != logTime.Add(2*time.Second).UnixNano() {
		t.Fatalf("record without time: %d, want the observed time", l.timeNs)
	}
}

// postOTLP sends a hand-made request.
func postOTLP(h http.Handler, path, ct string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

const jsonMetrics = `{"resourceMetrics":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"cart"}},
  {"key":"deployment.environment.name","value":{"stringValue":"staging"}}]},
 "scopeMetrics":[{"scope":{"name":"cart"},"metrics":[
  {"name":"rpc.latency","unit":"s","summary":{"dataPoints":[{"timeUnixNano":"1700000000000000000","count":"10","sum":4.5,
    "quantileValues":[{"quantile":0.5,"value":0.3},{"quantile":0.99,"value":1.2}],
    "attributes":[{"key":"rpc.method","value":{"stringValue":"Add"}}]}]}},
  {"name":"cart.items","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"timeUnixNano":"1700000000000000000","asInt":"7"}]}}
 ]}]}]}`

const jsonLogs = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeLogs":[{"scope":{"name":"cart"},"logRecords":[
  {"timeUnixNano":"1700000000000000001","severityNumber":13,"severityText":"WARN","body":{"stringValue":"cart nearly full"},
   "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
   "attributes":[{"key":"cart.size","value":{"intValue":"99"}}]}]}]}]}`

func TestJSONEncodingHandMade(t *testing.T) {
	brokers, p := startBroker(t)
	c, _ := newCollector(p, Config{})
	h := c.HTTPHandler()

	rec := postOTLP(h, "/v1/metrics", "application/json", []byte(jsonMetrics), nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("metrics: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	resp := pmetricotlp.NewExportResponse()
	if err := resp.UnmarshalJSON(rec.Body.Bytes()); err != nil {
		t.Fatalf("response is not an ExportMetricsServiceResponse: %v", err)
	}
	if resp.PartialSuccess().RejectedDataPoints() != 0 {
		t.Fatalf("partial success: %v", resp.PartialSuccess().ErrorMessage())
	}
	got := bySeries(decodeSamples(t, readTopic(t, brokers, records.TopicMetrics)))
	base := `deployment_environment_name="staging",rpc_method="Add",service="cart"`
	want(t, got, `rpc_latency{`+base+`,quantile="0.5"}`, 0.3)
	want(t, got, `rpc_latency{`+base+`,quantile="0.99"}`, 1.2)
	want(t, got, `rpc_latency_sum{`+base+`}`, 4.5)
	want(t, got, `rpc_latency_count{`+base+`}`, 10)
	want(t, got, `cart_items_total{deployment_environment_name="staging",service="cart"}`, 7)
	if s := got[`cart_items_total{deployment_environment_name="staging",service="cart"}`]; s.ts != 1_700_000_000_000 {
		t.Fatalf("timestamp %d", s.ts)
	}

	// The gzip-compressed JSON logs.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(jsonLogs))
	zw.Close()
	rec = postOTLP(h, "/v1/logs", "application/json; charset=utf-8", zb.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if rec.Code != 200 {
		t.Fatalf("logs: %d %s", rec.Code, rec.Body)
	}
	if err := plogotlp.NewExportResponse().UnmarshalJSON(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	lines := decodeLogs(t, readTopic(t, brokers, records.TopicLogs))
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	l := lines[0]
	if l.service != "cart" || l.body != "cart nearly full" || l.severity != 13 || l.sevText != "WARN" ||
		l.timeNs != 1700000000000000001 || l.traceID != "5b8efff798038103d269b633813fc60c" ||
		l.spanID != "eee19b7ec3c1b174" || l.attrs["cart.size"] != "99" {
		t.Fatalf("log line: %+v", l)
	}
}

func gz(b []byte) []byte {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(b)
	zw.Close()
	return zb.Bytes()
}

// noise is incompressible bytes.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

func decodeStatus(t *testing.T, rec *httptest.ResponseRecorder) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		err = protojson.Unmarshal(rec.Body.Bytes(), st)
	} else if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/x-protobuf") {
		err = proto.Unmarshal(rec.Body.Bytes(), st)
	} else {
		st.Message = rec.Body.String() // 404/405/415: plain text
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v (%q)", err, rec.Body)
	}
	return st
}

func TestBadInputGetsClear4xx(t *testing.T) {
	c, m := newCollector(failingSink{}, Config{MaxBodyBytes: 1 << 16, MaxDecodedBytes: 1 << 18})
	h := c.HTTPHandler()
	valid, _ := pmetricotlp.NewExportRequestFromMetrics(gaugeMetrics("up", 1)).MarshalProto()
	bomb := gz(bytes.Repeat([]byte{0}, 1<<19)) // small on the wire, 512 KiB inflated
	truncated := gz(valid)
	truncated = truncated[:len(truncated)-6]
	const pb, js = "application/x-protobuf", "application/json"
	cases := []struct {
		name   string
		path   string
		ct     string
		body   []byte
		hdr    map[string]string
		status int
		reason string
		text   string
	}{
		{"garbage protobuf", "/v1/metrics", pb, []byte("\xff\xff\xffnot a protobuf"), nil, 400, "bad_protobuf", "ExportMetricsServiceRequest"},
		{"garbage json", "/v1/logs", js, []byte(`{"resourceLogs": [nope`), nil, 400, "bad_json", "ExportLogsServiceRequest"},
		// pdata's JSON reader takes a raw control character after an escape sequence; firebreak does not.
		{"raw control character", "/v1/logs", js, []byte("{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"a\\b\x19\"}}]}]}]}"), nil, 400, "bad_json", "control character 0x19 inside a string at byte 73"},
		{"wrong content type", "/v1/metrics", "text/plain", valid, nil, 415, "content_type", "application/x-protobuf or application/json"},
		{"no content type", "/v1/metrics", "", valid, nil, 415, "content_type", "application/x-protobuf"},
		{"wrong encoding", "/v1/metrics", pb, valid, map[string]string{"Content-Encoding": "br"}, 415, "content_encoding", "gzip"},
		{"oversized", "/v1/metrics", pb, bytes.Repeat([]byte{0x0a, 0}, 1<<16), nil, 413, "body_too_large", "larger than 65536"},
		{"oversized gzip", "/v1/metrics", pb, gz(noise(1 << 17)), map[string]string{"Content-Encoding": "gzip"}, 413, "body_too_large", "larger than 65536"},
		{"gzip bomb", "/v1/logs", pb, bomb, map[string]string{"Content-Encoding": "gzip"}, 413, "body_too_large", "decoded body larger than 262144"},
		{"truncated gzip", "/v1/metrics", pb, truncated, map[string]string{"Content-Encoding": "gzip"}, 400, "bad_gzip", "truncated"},
		{"not gzip", "/v1/metrics", pb, valid, map[string]string{"Content-Encoding": "gzip"}, 400, "bad_gzip", "not gzip"},
		{"traces", "/v1/traces", pb, valid, nil, 404, "unknown_path", "not traces"},
		{"broker down", "/v1/metrics", pb, valid, nil, 503, "kafka_unavailable", "retry later"},
		{"broker down, json", "/v1/logs", js, []byte(jsonLogs), nil, 503, "kafka_unavailable", "retry later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.Rejected.WithLabelValues(SourceHTTP, tc.reason))
			rec := postOTLP(h, tc.path, tc.ct, tc.body, tc.hdr)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			st := decodeStatus(t, rec)
			if !strings.Contains(st.Message, tc.text) {
				t.Fatalf("reason %q does not mention %q", st.Message, tc.text)
			}
			if tc.status == 503 {
				if rec.Header().Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
				if codes.Code(st.Code) != codes.Unavailable {
					t.Fatalf("status code %v", codes.Code(st.Code))
				}
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceHTTP, tc.reason)) != before+1 {
				t.Fatalf("rejection not counted under reason %s", tc.reason)
			}
		})
	}
	if n := testutil.ToFloat64(m.Requests.WithLabelValues(SourceHTTP, "503")); n != 2 {
		t.Fatalf("503s counted %v", n)
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/metrics", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: status %d", rec.Code)
	}
}

func TestPartialSuccessSaysWhy(t *testing.T) {
	sink := &captureSink{}
	c, m := newCollector(sink, Config{MaxLabels: 4, MaxLogBodyBytes: 16})
	h := c.HTTPHandler()

	md := gaugeMetrics("ok", 1)
	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	noName := sm.Metrics().AppendEmpty()
	noName.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1)
	noName.Gauge().DataPoints().AppendEmpty().SetDoubleValue(2)
	wide := sm.Metrics().AppendEmpty()
	wide.SetName("wide")
	dp := wide.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetDoubleValue(1)
	for _, k := range []string{"a", "b", "c", "d"} {
		dp.Attributes().PutStr(k, "x")
	}
	body, _ := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	rec := postOTLP(h, "/v1/metrics", "application/x-protobuf", body, nil)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	resp := pmetricotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	ps := resp.PartialSuccess()
	if ps.RejectedDataPoints() != 3 || !strings.Contains(ps.ErrorMessage(), "2 empty_metric_name") ||
		!strings.Contains(ps.ErrorMessage(), "1 too_many_labels (more than 4 labels") {
		t.Fatalf("partial success: %d %q", ps.RejectedDataPoints(), ps.ErrorMessage())
	}
	if got := decodeSamples(t, sink.take(records.TopicMetrics)); len(got) != 1 || got[0].labels[records.MetricNameLabel] != "ok" {
		t.Fatalf("stored %+v", got)
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceHTTP, "empty_metric_name")) != 2 {
		t.Fatal("rejections not counted per data point")
	}

	// Logs: the long body is refused, the short one kept.
	ld := logsWithBodies("short", strings.Repeat("x", 17))
	body, _ = plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	rec = postOTLP(h, "/v1/logs", "application/json", body, nil)
	lresp := plogotlp.NewExportResponse()
	if err := lresp.UnmarshalJSON(rec.Body.Bytes()); rec.Code != 200 || err != nil {
		t.Fatalf("status %d %v: %s", rec.Code, err, rec.Body)
	}
	if lps := lresp.PartialSuccess(); lps.RejectedLogRecords() != 1 || !strings.Contains(lps.ErrorMessage(), "log body larger than 16 bytes") {
		t.Fatalf("partial success: %d %q", lps.RejectedLogRecords(), lps.ErrorMessage())
	}
	if lines := decodeLogs(t, sink.take(records.TopicLogs)); len(lines) != 1 || lines[0].body != "short" {
		t.Fatalf("stored %+v", lines)
	}

	// Everything refused: 400 with the reasons, nothing published.
	body, _ = plogotlp.NewExportRequestFromLogs(logsWithBodies(strings.Repeat("y", 20))).MarshalProto()
	rec = postOTLP(h, "/v1/logs", "application/x-protobuf", body, nil)
	if st := decodeStatus(t, rec); rec.Code != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, "refused 1 of 1 log records") {
		t.Fatalf("all refused: %d %v", rec.Code, st)
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceHTTP, "log_body_too_large")) != 2 ||
		testutil.ToFloat64(m.Rejected.WithLabelValues(SourceHTTP, reasonAllRefused)) != 0 {
		t.Fatal("all-refused request counted wrong")
	}
	if len(sink.take(records.TopicLogs)) != 0 {
		t.Fatal("published although everything was refused")
	}
}

func TestEmptyRequestAnswered(t *testing.T) {
	c, _ := newCollector(failingSink{}, Config{})
	rec := postOTLP(c.HTTPHandler(), "/v1/metrics", "application/x-protobuf", nil, nil)
	if rec.Code != 200 {
		t.Fatalf("empty request: %d %s", rec.Code, rec.Body)
	}
	rec = postOTLP(c.HTTPHandler(), "/logs", "application/json", []byte(`{}`), nil)
	if rec.Code != 200 {
		t.Fatalf("empty JSON request under a stripped prefix: %d %s", rec.Code, rec.Body)
	}
}

// TestKafkaDownMeans503 stops a real broker under the collector: the
// sender must get 503 + Retry-After (gRPC: Unavailable), never a 2xx.
func TestKafkaDownMeans503(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicLogs, Partitions: testPartitions}}); err != nil {
		t.Fatal(err)
	}
	p := bus.NewProducer(brokers, "otlp-test")
	defer p.Close()
	c, m := newCollector(p, Config{})
	b.Close()

	body, _ := plogotlp.NewExportRequestFromLogs(logsWithBodies("lost?")).MarshalProto()
	rec := postOTLP(c.HTTPHandler(), "/v1/logs", "application/x-protobuf", body, nil)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d %v: %s", rec.Code, rec.Header(), rec.Body)
	}
	if st := decodeStatus(t, rec); codes.Code(st.Code) != codes.Unavailable {
		t.Fatalf("status %v", st)
	}

	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(serveGRPC(t, c, GRPCOptions{})), otlploggrpc.WithInsecure(),
		otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	var r sdklog.Record
	r.SetBody(attribute.StringValue("lost?"))
	if err := exp.Export(ctx, []sdklog.Record{r}); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC exporter: %v", err)
	}
	if testutil.ToFloat64(m.Accepted.WithLabelValues(SourceHTTP, "logs"))+testutil.ToFloat64(m.Accepted.WithLabelValues(SourceGRPC, "logs")) != 0 {
		t.Fatal("counted as accepted")
	}
}
