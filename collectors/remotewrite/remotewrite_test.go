package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const testPartitions = 4

// startBroker runs a real embedded broker with the metrics topic.
func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicMetrics, Partitions: testPartitions}}); err != nil {
		t.Fatal(err)
	}
	return brokers
}

func newHandler(t *testing.T, sink ingest.Sink, cfg Config) (*Handler, *ingest.Metrics) {
	m := ingest.NewMetrics(prometheus.NewRegistry())
	return New(cfg, sink, func(string) int { return testPartitions }, m), m
}

func post(t *testing.T, h http.Handler, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Content-Encoding", "snappy")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// readAll reads every record of the metrics topic and checks placement.
func readAll(t *testing.T, brokers []string, wantPoints int) map[uint64]int {
	t.Helper()
	perSeries := map[uint64]int{}
	points := 0
	for p := 0; p < testPartitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicMetrics, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			msg, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			var v placementVisitor
			v.partition = p
			var buf [][]byte
			if err := records.DecodeSamples(msg.Value, &v, &buf); err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			if v.misplaced > 0 {
				t.Fatalf("partition %d holds %d series that belong elsewhere", p, v.misplaced)
			}
			for id, n := range v.points {
				perSeries[id] += n
				points += n
			}
		}
		r.Close()
	}
	if points != wantPoints {
		t.Fatalf("topic holds %d points, want %d", points, wantPoints)
	}
	return perSeries
}

type placementVisitor struct {
	partition int
	misplaced int
	cur       uint64
	points    map[uint64]int
}

func (v *placementVisitor) Series(id uint64, labels [][]byte) error {
	if records.Partition(id, testPartitions) != v.partition {
		v.misplaced++
	}
	v.cur = id
	return nil
}

func (v *placementVisitor) Point(int64, float64) {
	if v.points == nil {
		v.points = map[uint64]int{}
	}
	v.points[v.cur]++
}

func TestRemoteWriteReachesKafkaKeyedBySeries(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(t, p, Config{})

	shop := workload.NewShop(2, time.Hour, 1, time.Unix(0, 0))
	total := 0
	for i := 0; i < 5; i++ {
		req := shop.Sample(time.Unix(1_700_000_000+int64(i)*10, 0))
		// Shuffle label order: identity must not depend on it.
		for _, ts := range req.Timeseries {
			ts.Labels[0], ts.Labels[len(ts.Labels)-1] = ts.Labels[len(ts.Labels)-1], ts.Labels[0]
		}
		body, _ := workload.Encode(req)
		rec := post(t, h, body, nil)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		total += len(req.Timeseries)
	}
	perSeries := readAll(t, brokers, total)
	if len(perSeries) != shop.SeriesCount() {
		t.Fatalf("%d distinct series, want %d", len(perSeries), shop.SeriesCount())
	}
	for id, n := range perSeries {
		if n != 5 {
			t.Fatalf("series %d has %d points, want 5", id, n)
		}
	}
	if got := testutil.ToFloat64(m.Accepted.WithLabelValues(source, "samples")); int(got) != total {
		t.Fatalf("accepted counter %v, want %d", got, total)
	}
}

func TestMetadataOnlyRequestAccepted(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, _ := newHandler(t, p, Config{})
	req := &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{MetricFamilyName: "up", Type: prompb.MetricMetadata_GAUGE, Help: "x"}}}
	body, _ := workload.Encode(req)
	if rec := post(t, h, body, nil); rec.Code != http.StatusNoContent {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// failingSink stands for a broker that is down.
type failingSink struct{}

func (failingSink) Publish(context.Context, ...kafka.Message) error {
	return errors.New("dial tcp 127.0.0.1:1: connection refused")
}

func TestBadInputGetsClear4xx(t *testing.T) {
	h, m := newHandler(t, failingSink{}, Config{MaxBodyBytes: 1 << 16})
	valid, _ := workload.Encode(workload.NewShop(1, time.Hour, 1, time.Unix(0, 0)).Sample(time.Unix(1e9, 0)))
	notProto := snappy.Encode(nil, []byte("this is not a protobuf \xff\xff\xff"))
	cases := []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
		reason string
		text   string
	}{
		{"garbage", []byte("hello world, not snappy"), nil, 400, "bad_snappy", "snappy"},
		{"truncated snappy", valid[:len(valid)/2], nil, 400, "bad_snappy", "snappy"},
		{"not a WriteRequest", notProto, nil, 400, "bad_protobuf", "WriteRequest"},
		{"oversized", bytes.Repeat([]byte{1}, 1<<17), nil, 413, "body_too_large", "larger than"},
		{"wrong content type", valid, map[string]string{"Content-Type": "application/json"}, 415, "content_type", "application/x-protobuf"},
		{"remote write 2.0", valid, map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 415, "content_type", "1.0"},
		{"wrong encoding", valid, map[string]string{"Content-Encoding": "gzip"}, 415, "content_encoding", "snappy"},
		{"broker down", valid, nil, 503, "kafka_unavailable", "retry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := post(t, h, c.body, c.hdr)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), c.text) {
				t.Fatalf("reason %q does not mention %q", rec.Body, c.text)
			}
			if c.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(source, c.reason)) < 1 {
				t.Fatalf("rejection not counted under reason %s", c.reason)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/write", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d", rec.Code)
	}
}

func TestInvalidSeriesRefusedRestStored(t *testing.T) {
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	h, m := newHandler(t, p, Config{})
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: []prompb.Label{{Name: "__name__", Value: "ok"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
		{Labels: []prompb.Label{{Name: "job", Value: "no-name"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
		{Labels: []prompb.Label{{Name: "__name__", Value: "dup"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}},
	}}
	body, _ := workload.Encode(req)
	rec := post(t, h, body, nil)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "missing metric name") {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	readAll(t, brokers, 1)
	if testutil.ToFloat64(m.Rejected.WithLabelValues(source, "duplicate_label_name")) != 1 {
		t.Fatal("duplicate label rejection not counted")
	}
}

// FuzzRemoteWrite throws arbitrary bodies at the full decode path; it must
// answer without panicking, and only 2xx for bodies that decode.
func FuzzRemoteWrite(f *testing.F) {
	valid, _ := workload.Encode(workload.NewShop(1, time.Hour, 1, time.Unix(0, 0)).Sample(time.Unix(1e9, 0)))
	f.Add(valid)
	f.Add([]byte{})
	f.Add(snappy.Encode(nil, []byte{0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01}))
	h, _ := newHandler(&testing.T{}, acceptSink{}, Config{MaxBodyBytes: 1 << 20, MaxDecodedBytes: 8 << 20})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(t, h, body, nil)
		if rec.Code/100 == 5 {
			t.Fatalf("5xx for client input: %d %s", rec.Code, rec.Body)
		}
	})
}

type acceptSink struct{}

func (acceptSink) Publish(context.Context, ...kafka.Message) error { return nil }

func BenchmarkRemoteWriteDecode(b *testing.B) {
	shop := workload.NewShop(40, time.Hour, 1, time.Unix(0, 0)) // 1200 series
	body, _ := workload.Encode(shop.Sample(time.Unix(1e9, 0)))
	h, _ := newHandler(&testing.T{}, acceptSink{}, Config{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*shop.SeriesCount())/b.Elapsed().Seconds(), "samples/s")
}
