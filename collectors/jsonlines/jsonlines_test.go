package jsonlines

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

var arrival = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func newHandler(sink ingest.Sink, cfg Config) (*Handler, *ingest.Metrics) {
	m := ingest.NewMetrics(prometheus.NewRegistry())
	h := New(cfg, &ingest.Publisher{Sink: sink, Partitions: partitions}, m)
	h.now = func() time.Time { return arrival }
	return h, m
}

func post(h http.Handler, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-ndjson")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestLinesReachKafka(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(p, Config{})

	body := strings.Join([]string{
		`{"time":"2026-11-02T10:00:00.123456789Z","service":"checkout","severity":"error","message":"card declined","attributes":{"order":42,"retry":true,"card":{"brand":"visa"},"note":"x","none":null},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`,
		``, // blank lines are skipped
		`{"time":1793613600,"service":"checkout","severity":9,"message":"order placed","labels":{"env":"prod"}}`,
		`{"ts":1793613600123,"service":"checkout","level":"WARN","msg":"slow","region":"eu"}`,
		`{"timestamp":"1793613600123456","message":"no service"}`,
		`{"time":1793613600123456789,"service":"api","message":{"structured":"body"}}`,
		`{"time":1793613600.5,"service":"api","message":"fractional seconds"}`,
		`{"message":"no time"}` + "\r",
	}, "\n")
	rec := post(h, []byte(body), nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := byBody(readLogs(t, brokers, 7))

	l := got["card declined"]
	if l.Service != "checkout" || l.SevNum != 17 || l.SevText != "error" || l.TimeNs != time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC).UnixNano() ||
		l.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || l.SpanID != "00f067aa0ba902b7" {
		t.Errorf("card declined: %+v", l)
	}
	wantAttrs := map[string]string{"order": "42", "retry": "true", "card": `{"brand":"visa"}`, "note": "x"}
	if fmt.Sprint(l.Attrs) != fmt.Sprint(wantAttrs) {
		t.Errorf("attributes %v, want %v", l.Attrs, wantAttrs)
	}
	placed := got["order placed"]
	if placed.SevNum != 9 || placed.Labels["env"] != "prod" || placed.TimeNs != 1793613600*1e9 {
		t.Errorf("order placed: %+v", placed)
	}
	if placed.StreamID == l.StreamID {
		t.Error("different labels must make different streams")
	}
	slow := got["slow"]
	if slow.SevNum != 13 || slow.TimeNs != 1793613600123*1e6 || slow.Attrs["region"] != "eu" || slow.StreamID != l.StreamID {
		t.Errorf("aliases, ms time, unknown field as attribute: %+v", slow)
	}
	if l := got["no service"]; l.Service != UnknownService || l.TimeNs != 1793613600123456*1e3 {
		t.Errorf("µs string time, unknown service: %+v", l)
	}
	if l := got[`{"structured":"body"}`]; l.TimeNs != 1793613600123456789 {
		t.Errorf("ns time, non-string message kept as JSON: %+v", l)
	}
	if l := got["fractional seconds"]; l.TimeNs != 1793613600500000000 {
		t.Errorf("fractional seconds: %d", l.TimeNs)
	}
	if l := got["no time"]; l.TimeNs != arrival.UnixNano() {
		t.Errorf("missing time must be arrival time: %+v", l)
	}
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(source, "logs")); n != 7 {
		t.Errorf("accepted %v", n)
	}
}

func TestBadLinesNamedValidLinesStored(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(p, Config{MaxLineBytes: 200})
	body := strings.Join([]string{
		`{"service":"a","message":"kept 1"}`,
		`{"service":"a","message":"broken"`,
		`{"service":"a","message":"kept 2"}`,
		`{"service":"a","time":"yesterday","message":"x"}`,
		`{"service":"a","severity":99,"message":"x"}`,
		`{"service":"a"}`,
		`["not","an","object"]`,
		`{"service":7,"message":"x"}`,
		`{"message":"` + strings.Repeat("x", 200) + `"}`,
		`{"message":"x"} {"message":"y"}`,
		`{"labels":{"a":1},"message":"x"}`,
		`{"service":"a","message":"kept 3"}`,
	}, "\n")
	rec := post(h, []byte(body), nil)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	reply := rec.Body.String()
	for _, want := range []string{
		"stored 3 of 12 lines", "line 2: invalid JSON", `line 4: time "yesterday" is neither RFC 3339`, "line 5: severity 99",
		`line 6: no "message"`, "line 7: not a JSON object", "line 8: service must be a string", "line 9: 214 bytes, the limit is 200",
		"line 10: data after the JSON object", `line 11: label "a" must be a string`,
	} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply does not say %q:\n%s", want, reply)
		}
	}
	got := byBody(readLogs(t, brokers, 3))
	for _, b := range []string{"kept 1", "kept 2", "kept 3"} {
		if _, ok := got[b]; !ok {
			t.Errorf("%q not stored", b)
		}
	}
	for reason, n := range map[string]float64{"bad_json": 3, "bad_time": 1, "bad_severity": 1, "missing_message": 1, "bad_field": 2, "line_too_long": 1} {
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues(source, reason)); got != n {
			t.Errorf("rejected{reason=%s} = %v, want %v", reason, got, n)
		}
	}
}

// A retried request (same body) gives the same entries, so the store keeps
// one copy; the same line twice in one request is kept twice.
func TestRetryGivesSameEntryIDs(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, _ := newHandler(p, Config{})
	body := []byte(`{"time":1793613600,"service":"a","message":"twice"}` + "\n" + `{"time":1793613600,"service":"a","message":"twice"}`)
	for range 2 {
		if rec := post(h, body, nil); rec.Code != 204 {
			t.Fatal(rec.Code, rec.Body)
		}
	}
	lines := readLogs(t, brokers, 4)
	ids := map[uint64]int{}
	for _, l := range lines {
		ids[l.EntryID]++
	}
	if len(ids) != 2 {
		t.Fatalf("want 2 distinct entry ids each seen twice, got %v", ids)
	}
}

func TestGzipAndLimits(t *testing.T) {
	h, m := newHandler(acceptSink{}, Config{MaxBodyBytes: 1 << 16, MaxDecodedBytes: 1 << 18})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintln(zw, `{"service":"a","message":"compressed"}`)
	zw.Close()
	if rec := post(h, gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}); rec.Code != 204 {
		t.Fatalf("gzip: %d %s", rec.Code, rec.Body)
	}
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte("\n"), 1<<20))
	zw.Close()

	hf, mf := newHandler(failingSink{}, Config{})
	cases := []struct {
		name   string
		h      http.Handler
		m      *ingest.Metrics
		body   []byte
		hdr    map[string]string
		status int
		reason string
		text   string
	}{
		{"oversized", h, m, bytes.Repeat([]byte("{}\n"), 1<<15), nil, 413, "body_too_large", "larger than"},
		{"gzip bomb", h, m, bomb.Bytes(), map[string]string{"Content-Encoding": "gzip"}, 413, "body_too_large", "decompressed"},
		{"not gzip", h, m, []byte(`{"message":"x"}`), map[string]string{"Content-Encoding": "gzip"}, 400, "bad_gzip", "gzip"},
		{"wrong type", h, m, []byte(`{"message":"x"}`), map[string]string{"Content-Type": "application/x-protobuf"}, 415, "content_type", "x-ndjson"},
		{"wrong encoding", h, m, []byte(`{"message":"x"}`), map[string]string{"Content-Encoding": "zstd"}, 415, "content_encoding", "gzip"},
		{"broker down", hf, mf, []byte(`{"message":"x"}`), nil, 503, "kafka_unavailable", "retry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := post(c.h, c.body, c.hdr)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.text) {
				t.Fatalf("status %d %q, want %d mentioning %q", rec.Code, rec.Body, c.status, c.text)
			}
			if c.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if testutil.ToFloat64(c.m.Rejected.WithLabelValues(source, c.reason)) < 1 {
				t.Fatalf("not counted under %s", c.reason)
			}
		})
	}
	for _, ok := range []string{"", "application/json", "text/plain; charset=utf-8", "application/jsonl"} {
		if rec := post(h, []byte(`{"message":"x"}`), map[string]string{"Content-Type": ok}); rec.Code != 204 {
			t.Errorf("Content-Type %q: %d %s", ok, rec.Code, rec.Body)
		}
	}
	if rec := post(h, nil, nil); rec.Code != 204 {
		t.Errorf("empty body: %d", rec.Code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestUnixNumberRule(t *testing.T) {
	sec := int64(1793613600)
	for in, want := range map[string]int64{
		"1793613600": sec * 1e9, "1793613600123": sec*1e9 + 123e6, "1793613600123456": sec*1e9 + 123456e3,
		"1793613600123456789": sec*1e9 + 123456789, "1793613600.25": sec*1e9 + 25e7, "0": 0, "1.7936136e12": 1793613600000 * 1e6, "1793613600123.5": sec*1e9 + 123500000, "-1.5": -15e8,
		"100000000000": 1e11 * 1e6, // 1e11 is read as milliseconds: 1973
	} {
		got, ok := unixNumber(in)
		if !ok || got != want {
			t.Errorf("unixNumber(%s) = %d %v, want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"1e400", "NaN", "abc", "9e30"} {
		if _, ok := unixNumber(bad); ok {
			t.Errorf("unixNumber(%s) accepted", bad)
		}
	}
}

// FuzzJSONLines: any body, never a panic or a 5xx; every non-blank line is
// either stored or named as refused; nothing but a JSON object is stored.
func FuzzJSONLines(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-02T10:00:00Z","service":"a","severity":"error","message":"m","attributes":{"k":[1,{"x":null}]},"labels":{"l":"v"}}`))
	f.Add([]byte("{\"message\":\"a\"}\n\n{\"msg\":1,\"ts\":1.5e9,\"level\":3}\r\n{"))
	f.Add([]byte(`{"message":"x","time":-1e20,"a":"\ud800"}`))
	var acc countingSink
	h, _ := newHandler(&acc, Config{MaxLineBytes: 256})
	f.Fuzz(func(t *testing.T, body []byte) {
		acc.Lines = 0
		rec := post(h, body, nil)
		if rec.Code/100 == 5 {
			t.Fatalf("5xx for client input: %d %s", rec.Code, rec.Body)
		}
		nonBlank := 0
		for _, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				nonBlank++
				if rec.Code == 204 && !json.Valid(bytes.TrimSpace(l)) {
					t.Fatalf("accepted invalid JSON line %q", l)
				}
			}
		}
		switch rec.Code {
		case 204:
			if acc.Lines != nonBlank {
				t.Fatalf("204 but %d of %d lines published", acc.Lines, nonBlank)
			}
		case 400:
			if want := fmt.Sprintf("stored %d of %d lines", acc.Lines, nonBlank); !strings.HasPrefix(rec.Body.String(), want) {
				t.Fatalf("reply %q, want it to start %q", rec.Body, want)
			}
		}
	})
}

func BenchmarkJSONLines(b *testing.B) {
	var buf bytes.Buffer
	const lines = 1000
	for i := range lines {
		fmt.Fprintf(&buf, `{"time":"2026-11-02T10:00:%02d.%03dZ","service":"svc-%d","severity":"info","message":"request served path=/api/orders/%d status=200","attributes":{"duration_ms":%d,"user":"u-%d","cached":false},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`+"\n",
			i%60, i%1000, i%10, i, i%97, i%50)
	}
	h, _ := newHandler(acceptSink{}, Config{})
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if rec := post(h, body, nil); rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
	cpu.report(b, float64(b.N*lines))
}

// A raw control character inside a string is invalid JSON; json-iterator
// would take it after an escape sequence (a fuzzing finding): that line is
// refused with the reason, the others are kept.
func TestRawControlCharacterLineRefused(t *testing.T) {
	var sink countingSink
	h, _ := newHandler(&sink, Config{})
	rec := post(h, []byte("{\"message\":\"ok\"}\n{\"message\":\"\\b0000\x19\"}\n"), nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "control character 0x19 inside a string at byte 18") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if sink.Lines != 1 {
		t.Fatalf("%d lines kept, want the valid one", sink.Lines)
	}
}
