package loki

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

func newHandler(sink ingest.Sink, cfg Config) (*Handler, *ingest.Metrics) {
	m := ingest.NewMetrics(prometheus.NewRegistry())
	return New(cfg, &ingest.Publisher{Sink: sink, Partitions: partitions}, m), m
}

func post(h http.Handler, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

var protoHdr = map[string]string{"Content-Type": "application/x-protobuf"}
var jsonHdr = map[string]string{"Content-Type": "application/json"}

// encodeProto builds a push body exactly as Promtail and Alloy do: Loki's
// own push types, marshalled, snappy block-compressed.
func encodeProto(t testing.TB, req *push.PushRequest) []byte {
	t.Helper()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC)

func TestProtobufPushReachesKafka(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(p, Config{})

	req := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{service_name="checkout", app="shop", env="prod", level="info"}`, Entries: []push.Entry{
			{Timestamp: t0, Line: "order placed"},
			{Timestamp: t0.Add(time.Millisecond), Line: "card declined", StructuredMetadata: push.LabelsAdapter{
				{Name: "level", Value: "ERROR"}, {Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"},
				{Name: "span_id", Value: "00f067aa0ba902b7"}, {Name: "order", Value: "42"},
			}},
		}},
		{Labels: `{job="varlogs", filename="/var/log/syslog"}`, Entries: []push.Entry{
			{Timestamp: t0, Line: "kernel: eth0 up"},
		}},
		{Labels: `{app="api", detected_level="warn"}`, Entries: []push.Entry{
			{Timestamp: t0, Line: "slow request"},
		}},
		{Labels: `{host="h1"}`, Entries: []push.Entry{{Timestamp: t0, Line: "no service label"}}},
	}}
	rec := post(h, encodeProto(t, req), protoHdr)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := byBody(readLogs(t, brokers, 5))

	placed := got["order placed"]
	if placed.Service != "checkout" || placed.Labels["env"] != "prod" || placed.Labels["app"] != "shop" ||
		placed.SevNum != 9 || placed.SevText != "info" || placed.TimeNs != t0.UnixNano() {
		t.Errorf("order placed: %+v", placed)
	}
	declined := got["card declined"]
	if declined.SevNum != 17 || declined.SevText != "ERROR" || declined.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		declined.SpanID != "00f067aa0ba902b7" || declined.Attrs["order"] != "42" || declined.Attrs["level"] != "ERROR" {
		t.Errorf("structured metadata must give severity, trace context and attributes: %+v", declined)
	}
	if _, ok := declined.Attrs["trace_id"]; ok {
		t.Error("trace_id must move to the trace id, not stay an attribute")
	}
	if declined.StreamID != placed.StreamID {
		t.Error("entries of one stream must share the stream id")
	}
	if l := got["kernel: eth0 up"]; l.Service != "varlogs" || l.SevNum != 0 || l.Labels["filename"] != "/var/log/syslog" {
		t.Errorf("job label names the service when nothing else does: %+v", l)
	}
	if l := got["slow request"]; l.Service != "api" || l.SevNum != 13 {
		t.Errorf("detected_level: %+v", l)
	}
	if l := got["no service label"]; l.Service != UnknownService {
		t.Errorf("service %q, want %s", l.Service, UnknownService)
	}
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(source, "logs")); n != 5 {
		t.Errorf("accepted %v, want 5", n)
	}
}

func jsonPush(streams ...string) []byte {
	return []byte(`{"streams":[` + strings.Join(streams, ",") + `]}`)
}

func TestJSONPushReachesKafka(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, _ := newHandler(p, Config{})

	ns := fmt.Sprint(t0.UnixNano())
	body := jsonPush(
		`{"stream":{"service":"payments","level":"warn"},"values":[["`+ns+`","retrying \"charge\" \u00e9"],["`+ns+`","with metadata",{"trace_id":"abc","attempt":3,"level":"error"}]]}`,
		// values before stream: order of keys must not matter
		`{"values":[["`+ns+`","fluent bit line"]],"stream":{"job":"fluent-bit","host":"n1"}}`,
	)
	rec := post(h, body, jsonHdr)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(jsonPush(`{"stream":{"app":"gzipped"},"values":[["` + ns + `","compressed line"]]}`))
	zw.Close()
	rec = post(h, gz.Bytes(), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	if rec.Code != http.StatusNoContent {
		t.Fatalf("gzip: status %d: %s", rec.Code, rec.Body)
	}

	got := byBody(readLogs(t, brokers, 4))
	if l := got[`retrying "charge" é`]; l.Service != "payments" || l.SevNum != 13 || l.TimeNs != t0.UnixNano() {
		t.Errorf("escaped line: %+v", l)
	}
	if l := got["with metadata"]; l.SevNum != 17 || l.TraceID != "abc" || l.Attrs["attempt"] != "3" {
		t.Errorf("metadata: %+v", l)
	}
	if l := got["fluent bit line"]; l.Service != "fluent-bit" || l.Labels["host"] != "n1" {
		t.Errorf("fluent bit: %+v", l)
	}
	if l := got["compressed line"]; l.Service != "gzipped" {
		t.Errorf("gzip: %+v", l)
	}
}

// The same line sent as protobuf and as JSON is the same entry (same
// stream, same content id), so the store keeps one copy.
func TestBothEncodingsGiveTheSameEntry(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, _ := newHandler(p, Config{})
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a", level="info"}`, Entries: []push.Entry{
		{Timestamp: t0, Line: "same", StructuredMetadata: push.LabelsAdapter{{Name: "k", Value: "v"}}}}}}}
	if rec := post(h, encodeProto(t, req), protoHdr); rec.Code != 204 {
		t.Fatal(rec.Code, rec.Body)
	}
	body := jsonPush(fmt.Sprintf(`{"stream":{"level":"info","app":"a"},"values":[["%d","same",{"k":"v"}]]}`, t0.UnixNano()))
	if rec := post(h, body, jsonHdr); rec.Code != 204 {
		t.Fatal(rec.Code, rec.Body)
	}
	lines := readLogs(t, brokers, 2)
	a, b := lines[0], lines[1]
	if a.StreamID != b.StreamID || a.TimeNs != b.TimeNs || a.SevNum != b.SevNum || a.Attrs["k"] != b.Attrs["k"] {
		t.Fatalf("encodings differ:\n%+v\n%+v", a, b)
	}
}

func TestInvalidStreamsRefusedRestStored(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(p, Config{MaxLineBytes: 64})
	req := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{app="ok"}`, Entries: []push.Entry{{Timestamp: t0, Line: "kept"}, {Timestamp: t0, Line: strings.Repeat("x", 65)}}},
		{Labels: `{}`, Entries: []push.Entry{{Timestamp: t0, Line: "no labels"}}},
		{Labels: `{app="a", app="b"}`, Entries: []push.Entry{{Timestamp: t0, Line: "dup"}}},
		{Labels: `not labels`, Entries: []push.Entry{{Timestamp: t0, Line: "bad"}, {Timestamp: t0, Line: "bad2"}}},
	}}
	rec := post(h, encodeProto(t, req), protoHdr)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for _, want := range []string{"stored 1 lines", "1 line too long", "1 missing labels", "1 duplicate label name", "2 bad labels", "stream 3"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("reply %q does not say %q", rec.Body, want)
		}
	}
	readLogs(t, brokers, 1)
	for reason, n := range map[string]float64{"line_too_long": 1, "missing_labels": 1, "duplicate_label_name": 1, "bad_labels": 2} {
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues(source, reason)); got != n {
			t.Errorf("rejected{reason=%s} = %v, want %v", reason, got, n)
		}
	}
}

func TestBadInputGetsClear4xx(t *testing.T) {
	h, m := newHandler(failingSink{}, Config{MaxBodyBytes: 1 << 16, MaxDecodedBytes: 1 << 18})
	valid := encodeProto(t, &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{{Timestamp: t0, Line: "x"}}}}})
	validJSON := jsonPush(`{"stream":{"app":"a"},"values":[["1","x"]]}`)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	cases := []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
		reason string
		text   string
	}{
		{"garbage", []byte("hello world, not snappy"), protoHdr, 400, "bad_snappy", "snappy"},
		{"not a PushRequest", snappy.Encode(nil, []byte("\x0a\xff\xff\xff\xff\x0f")), protoHdr, 400, "bad_protobuf", "PushRequest"},
		{"bad json", []byte(`{"streams":[{"stream":`), jsonHdr, 400, "bad_json", "streams"},
		{"json not an object", []byte(`[1,2]`), jsonHdr, 400, "bad_json", "object"},
		{"json bad timestamp", jsonPush(`{"stream":{"a":"b"},"values":[["yesterday","x"]]}`), jsonHdr, 400, "bad_json", "yesterday"},
		{"json line not a string", jsonPush(`{"stream":{"a":"b"},"values":[["1",5]]}`), jsonHdr, 400, "bad_json", "line must be a string"},
		{"json short value", jsonPush(`{"stream":{"a":"b"},"values":[["1"]]}`), jsonHdr, 400, "bad_json", "got 1 elements"},
		{"json trailing data", append(validJSON, "{}"...), jsonHdr, 400, "bad_json", "after"},
		{"oversized", bytes.Repeat([]byte{1}, 1<<17), protoHdr, 413, "body_too_large", "larger than"},
		{"gzip bomb", bomb.Bytes(), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, 413, "body_too_large", "decompressed"},
		{"not gzip", validJSON, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400, "bad_gzip", "gzip"},
		{"wrong content type", valid, map[string]string{"Content-Type": "text/plain"}, 415, "content_type", "application/json"},
		{"wrong encoding", valid, map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, 415, "content_encoding", "gzip"},
		{"snappy json", validJSON, map[string]string{"Content-Type": "application/json", "Content-Encoding": "snappy"}, 415, "content_encoding", "protobuf"},
		{"broker down", valid, protoHdr, 503, "kafka_unavailable", "retry"},
		{"broker down json", validJSON, jsonHdr, 503, "kafka_unavailable", "retry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.Rejected.WithLabelValues(source, c.reason))
			rec := post(h, c.body, c.hdr)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), c.text) {
				t.Fatalf("reason %q does not mention %q", rec.Body, c.text)
			}
			if c.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(source, c.reason)) != before+1 {
				t.Fatalf("refusal not counted under reason %s", c.reason)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d", rec.Code)
	}
	// An empty push is valid (Loki answers 204 too) and publishes nothing.
	if rec := post(h, []byte(`{"streams":[]}`), jsonHdr); rec.Code != 204 {
		t.Fatalf("empty push: %d %s", rec.Code, rec.Body)
	}
}

func TestSeverityNames(t *testing.T) {
	for text, want := range map[string]uint8{
		"trace": 1, "DEBUG": 5, "Info": 9, "notice": 10, "warn": 13, "WARNING": 13, "error": 17, "err": 17,
		"critical": 19, "fatal": 21, "emerg": 22, "INFO3": 11, "fatal4": 24, "unknown": 0, "": 0, " error ": 17,
	} {
		if got := ingest.SeverityFromText(text); got != want {
			t.Errorf("ingest.SeverityFromText(%q) = %d, want %d", text, got, want)
		}
	}
}

// A repeated key in a JSON stream object is read as JSON is (last wins); a
// repeated name in a protobuf label string is refused, as Loki does.
func TestRepeatedLabelNames(t *testing.T) {
	cfg := Config{}.withDefaults()
	d := decoder{cfg: &cfg, labels: &labelCache{}}
	if err := d.decodeJSON(jsonPush(`{"stream":{"app":"x","env":"a","app":"y"},"values":[["1","l"]]}`)); err != nil {
		t.Fatal(err)
	}
	if len(d.streams) != 1 || d.streams[0].Service != "y" || len(d.streams[0].Labels) != 2 {
		t.Fatalf("%+v", d.streams)
	}
	d.reset()
	raw, _ := (&push.PushRequest{Streams: []push.Stream{{Labels: `{app="x", app="y"}`, Entries: []push.Entry{{Line: "l"}}}}}).Marshal()
	if err := d.decodeProto(raw); err != nil {
		t.Fatal(err)
	}
	if len(d.streams) != 0 || d.rejected["duplicate_label_name"] != 1 {
		t.Fatalf("streams %+v rejected %v", d.streams, d.rejected)
	}
}

// A raw control character inside a string is invalid JSON; json-iterator
// would take it after an escape sequence (a fuzzing finding), the decoder
// refuses it and says where.
func TestJSONRawControlCharacterRefused(t *testing.T) {
	var sink countingSink
	h, _ := newHandler(&sink, Config{})
	rec := post(h, []byte("{\"streams\":[{\"stream\":{\"app\":\"a\"},\"values\":[[\"1\",\"x\\b\x19\"]]}]}"), jsonHdr)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "control character 0x19 inside a string at byte 53") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if sink.Lines != 0 {
		t.Fatalf("%d lines produced from a refused push", sink.Lines)
	}
}
