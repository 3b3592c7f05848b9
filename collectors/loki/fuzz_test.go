package loki

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

// FuzzProtoPush throws arbitrary protobuf at the full decode path (the body
// is snappy-compressed first, so the fuzzer explores the protobuf, not
// snappy): never a panic, never a 5xx for client input, and every line is
// either stored or counted as refused.
func FuzzProtoPush(f *testing.F) {
	for _, req := range []*push.PushRequest{
		{Streams: []push.Stream{{Labels: `{app="a", level="warn"}`, Entries: []push.Entry{
			{Timestamp: t0, Line: "x", StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "t"}, {Name: "severity_number", Value: "17"}}},
		}}}},
		{Streams: []push.Stream{{Labels: `{}`}, {Labels: `{a="b",a="c"}`, Entries: []push.Entry{{Line: "y"}}}}},
	} {
		raw, _ := req.Marshal()
		f.Add(raw)
	}
	f.Add([]byte{})
	h, m := newHandler(acceptSink{}, Config{MaxLineBytes: 100})
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := post(h, snappy.Encode(nil, raw), protoHdr)
		if rec.Code/100 == 5 {
			t.Fatalf("5xx for client input: %d %s", rec.Code, rec.Body)
		}
		var ref push.PushRequest
		refErr := ref.Unmarshal(raw)
		if (refErr == nil) != (rec.Code == 204 || rec.Code == 400 && strings.HasPrefix(rec.Body.String(), "stored")) {
			t.Fatalf("Loki's types say %v, we answered %d %s", refErr, rec.Code, rec.Body)
		}
		_ = m
	})
}

// FuzzJSONPush throws arbitrary bodies at the JSON path: never a panic or a
// 5xx, and nothing that is not valid JSON is ever accepted.
func FuzzJSONPush(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"app":"a"},"values":[["1","x"],["2","y",{"level":"error","n":1}]]}]}`))
	f.Add([]byte(`{"streams":[{"values":[["1","x"]],"stream":{"app":"a","app":"b"}}]}`))
	f.Add([]byte(`{"streams":[{"stream":{},"values":[["1","x"]]},{"stream":{"a":""},"values":[]}]}`))
	f.Add([]byte(`{"streams":null,"other":[1,{"x":true}]}`))
	f.Add([]byte(`{"streams":[{"stream":{"a\u0000":"\ud800"},"values":[[1e3,"x"]]}]}`))
	h, _ := newHandler(acceptSink{}, Config{MaxLineBytes: 100})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(h, body, jsonHdr)
		if rec.Code/100 == 5 {
			t.Fatalf("5xx for client input: %d %s", rec.Code, rec.Body)
		}
		if rec.Code == 204 && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

// pushOf builds a push of streams×perStream lines shaped like a busy
// Promtail's: a few labels per stream, ~120-byte lines, some with
// structured metadata. 10×500 lines is ~700 KB, under Promtail's default
// 1 MiB batch.
func pushOf(streams, perStream int) *push.PushRequest {
	req := &push.PushRequest{}
	ts := time.Unix(1_790_000_000, 0)
	for s := range streams {
		st := push.Stream{Labels: fmt.Sprintf(`{app="svc-%d", env="prod", namespace="shop", pod="svc-%d-7d9f", level="info"}`, s, s)}
		for i := range perStream {
			e := push.Entry{Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
				Line: fmt.Sprintf(`level=info ts=2026-11-02T10:00:%02d.%03dZ caller=handler.go:%d msg="request served" path=/api/orders/%d status=200 dur=%dms`, i%60, i%1000, 100+i%50, i, i%97)}
			if i%4 == 0 {
				e.StructuredMetadata = push.LabelsAdapter{{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}
			}
			st.Entries = append(st.Entries, e)
		}
		req.Streams = append(req.Streams, st)
	}
	return req
}

func jsonOf(req *push.PushRequest) []byte {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var out struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range req.Streams {
		ls, _ := promql.ParseMetric(s.Labels)
		st := stream{Stream: ls.Map()}
		for _, e := range s.Entries {
			v := []any{fmt.Sprint(e.Timestamp.UnixNano()), e.Line}
			if len(e.StructuredMetadata) > 0 {
				md := map[string]string{}
				for _, l := range e.StructuredMetadata {
					md[l.Name] = l.Value
				}
				v = append(v, md)
			}
			st.Values = append(st.Values, v)
		}
		out.Streams = append(out.Streams, st)
	}
	b, _ := json.Marshal(out)
	return b
}

func benchPush(b *testing.B, h http.Handler, body []byte, hdr map[string]string, lines int) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		rec := post(h, body, hdr)
		if rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
	cpu.report(b, float64(b.N*lines))
}

// Decode, validate, key and encode records, into a sink that accepts.
func BenchmarkProtoPush(b *testing.B) {
	h, _ := newHandler(acceptSink{}, Config{})
	benchPush(b, h, encodeProto(b, pushOf(10, 500)), protoHdr, 5000)
}

func BenchmarkJSONPush(b *testing.B) {
	h, _ := newHandler(acceptSink{}, Config{})
	benchPush(b, h, jsonOf(pushOf(10, 500)), jsonHdr, 5000)
}

// BenchmarkProtoPushToBroker is the whole path: push to a real embedded
// broker, acks=all, four senders at once.
func BenchmarkProtoPushToBroker(b *testing.B) {
	brokers := startBroker(b)
	p := bus.NewProducer(brokers, "bench")
	defer p.Close()
	h, _ := newHandler(p, Config{})
	body := encodeProto(b, pushOf(10, 500))
	b.SetBytes(int64(len(body)))
	b.SetParallelism(2) // 2 × GOMAXPROCS senders
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := post(h, body, protoHdr); rec.Code != http.StatusNoContent {
				b.Error(rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*5000)/b.Elapsed().Seconds(), "lines/s")
	cpu.report(b, float64(b.N*5000))
}
