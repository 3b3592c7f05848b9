// Package remotewrite receives Prometheus remote_write 1.0 (snappy-compressed
// prompb.WriteRequest) and publishes the samples to the metrics topic, keyed
// so that each series always lands in the same partition.
package remotewrite

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const source = "remote_write"

// Config bounds what one request may carry.
type Config struct {
	// MaxBodyBytes bounds the compressed body (413 beyond). Default 32 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the body after snappy (413 beyond). Default 256 MiB.
	MaxDecodedBytes int
	// MaxRecordBytes splits a partition's points into several records
	// beyond this size. Default 1 MiB.
	MaxRecordBytes int
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxDecodedBytes <= 0 {
		c.MaxDecodedBytes = 256 << 20
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 1 << 20
	}
	return c
}

// Handler serves POST /api/v1/write.
type Handler struct {
	cfg        Config
	sink       ingest.Sink
	partitions ingest.Partitions
	metrics    *ingest.Metrics
	pool       sync.Pool // *state
}

// New builds the handler.
func New(cfg Config, sink ingest.Sink, partitions ingest.Partitions, m *ingest.Metrics) *Handler {
	return &Handler{cfg: cfg.withDefaults(), sink: sink, partitions: partitions, metrics: m}
}

// state is per-request scratch memory, pooled so that a steady stream of
// requests allocates little beyond what prompb's decoder does.
type state struct {
	body     bytes.Buffer
	decoded  []byte
	req      writeRequest
	labels   []records.LabelBytes
	points   []records.Point
	builders []records.SampleBatchBuilder
	values   [][]byte
	msgs     []kafka.Message
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.metrics.WriteError(w, source, ingest.Errorf(http.StatusMethodNotAllowed, "method", "remote_write takes POST, not %s", r.Method))
		return
	}
	st, _ := h.pool.Get().(*state)
	if st == nil {
		st = &state{}
	}
	defer h.pool.Put(st)

	result, herr := h.handle(r, st)
	if herr != nil {
		h.metrics.WriteError(w, source, herr)
		return
	}
	h.metrics.Accepted.WithLabelValues(source, "samples").Add(float64(result.samples))
	if result.metadata > 0 {
		h.metrics.Accepted.WithLabelValues(source, "metadata").Add(float64(result.metadata))
	}
	if result.rejected.any() {
		// Prometheus' own receiver does the same: keep what is valid, then
		// say 400 so the sender logs why the rest was refused.
		msg := result.rejected.String()
		for reason, n := range result.rejected {
			h.metrics.Rejected.WithLabelValues(source, reason).Add(float64(n))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "stored %d samples; refused: %s\n", result.samples, msg)
		h.metrics.Requests.WithLabelValues(source, "400").Inc()
		return
	}
	w.WriteHeader(http.StatusNoContent)
	h.metrics.Requests.WithLabelValues(source, "204").Inc()
}

type outcome struct {
	samples, metadata int
	rejected          rejections
}

// rejections counts refused items by reason.
type rejections map[string]int

func (r rejections) any() bool { return len(r) > 0 }

func (r rejections) String() string {
	parts := make([]string, 0, len(r))
	for reason, n := range r {
		parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(reason, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func (h *Handler) handle(r *http.Request, st *state) (outcome, *ingest.HTTPError) {
	var out outcome
	if herr := checkHeaders(r); herr != nil {
		return out, herr
	}
	st.body.Reset()
	if _, err := st.body.ReadFrom(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return out, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"body larger than %d bytes: send smaller batches (remote_write max_samples_per_send)", h.cfg.MaxBodyBytes)
		}
		return out, ingest.Errorf(http.StatusBadRequest, "read_error", "reading body: %v", err)
	}
	n, err := snappy.DecodedLen(st.body.Bytes())
	if err != nil {
		return out, ingest.Errorf(http.StatusBadRequest, "bad_snappy", "body is not snappy block format: %v", err)
	}
	if n > h.cfg.MaxDecodedBytes {
		return out, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"decoded body would be %d bytes, limit %d: send smaller batches", n, h.cfg.MaxDecodedBytes)
	}
	if cap(st.decoded) < n {
		st.decoded = make([]byte, n)
	}
	decoded, err := snappy.Decode(st.decoded[:n], st.body.Bytes())
	if err != nil {
		return out, ingest.Errorf(http.StatusBadRequest, "bad_snappy", "snappy decode: %v", err)
	}
	if err := st.req.unmarshal(decoded); err != nil {
		return out, ingest.Errorf(http.StatusBadRequest, "bad_protobuf", "body is not a prometheus.WriteRequest: %v", err)
	}
	out.metadata = st.req.metadata

	parts := h.partitions(records.TopicMetrics)
	if parts < 1 {
		parts = 1
	}
	if cap(st.builders) < parts {
		st.builders = make([]records.SampleBatchBuilder, parts)
	}
	st.builders = st.builders[:parts]
	for i := range st.builders {
		st.builders[i].Reset()
	}
	st.msgs = st.msgs[:0]
	st.values = st.values[:0]

	for i := range st.req.series {
		ts := &st.req.series[i]
		if ts.histograms > 0 {
			out.reject("native_histograms_unsupported", ts.histograms)
		}
		samples := st.req.seriesSamples(ts)
		if len(samples) == 0 {
			continue
		}
		st.labels = append(st.labels[:0], st.req.seriesLabels(ts)...)
		records.SortLabelBytes(st.labels)
		if reason := validateLabels(st.labels); reason != "" {
			out.reject(reason, len(samples))
			continue
		}
		st.points = st.points[:0]
		for _, smp := range samples {
			st.points = append(st.points, records.Point{TimestampMs: smp.timestampMs, Value: smp.value})
		}
		id := records.SeriesIDBytes(st.labels)
		b := &st.builders[records.Partition(id, parts)]
		b.AddBytes(id, st.labels, st.points)
		out.samples += len(st.points)
		if b.Size() >= h.cfg.MaxRecordBytes {
			st.msgs = append(st.msgs, st.record(b))
			b.Reset()
		}
	}
	for i := range st.builders {
		if st.builders[i].Series() > 0 {
			st.msgs = append(st.msgs, st.record(&st.builders[i]))
		}
	}
	if len(st.msgs) > 0 {
		if err := h.sink.Publish(r.Context(), st.msgs...); err != nil {
			return out, ingest.PublishError(err)
		}
	}
	return out, nil
}

func (o *outcome) reject(reason string, n int) {
	if o.rejected == nil {
		o.rejected = rejections{}
	}
	o.rejected[reason] += n
}

func (st *state) record(b *records.SampleBatchBuilder) kafka.Message {
	// Values must outlive the pooled builders until Publish returns; they
	// are kept in st.values and reused by the next request.
	var buf []byte
	if len(st.values) < cap(st.values) {
		buf = st.values[:len(st.values)+1][len(st.values)][:0]
	}
	buf = b.AppendRecord(buf)
	st.values = append(st.values, buf)
	return kafka.Message{Topic: records.TopicMetrics, Key: b.Key(), Value: buf}
}

func checkHeaders(r *http.Request) *ingest.HTTPError {
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-protobuf" {
			return ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
				"Content-Type %q not supported: remote_write sends application/x-protobuf", ct)
		}
		if p, ok := params["proto"]; ok && p != "prometheus.WriteRequest" {
			return ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
				"remote_write message %q not supported: this receiver speaks remote_write 1.0 (prometheus.WriteRequest); set protobuf_message: prometheus.WriteRequest", p)
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "snappy") {
		return ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
			"Content-Encoding %q not supported: remote_write bodies are snappy-compressed", ce)
	}
	return nil
}

// validateLabels returns a rejection reason, or "" for a valid label set
// (sorted): a metric name, no empty or duplicate names, valid UTF-8.
func validateLabels(ls []records.LabelBytes) string {
	hasName := false
	for i, l := range ls {
		if len(l.Name) == 0 {
			return "empty_label_name"
		}
		if i > 0 && string(ls[i-1].Name) == string(l.Name) {
			return "duplicate_label_name"
		}
		if string(l.Name) == records.MetricNameLabel && len(l.Value) > 0 {
			hasName = true
		}
		if !utf8.Valid(l.Name) || !utf8.Valid(l.Value) {
			return "invalid_utf8"
		}
	}
	if !hasName {
		return "missing_metric_name"
	}
	return ""
}
