// Package jsonlines receives logs as JSON lines (one JSON object per line)
// at POST /api/v1/logs and publishes them to the logs topic through
// ingest.Publisher, one stream per service and label set.
//
// A line:
//
//	{"time":"2026-11-02T10:00:00.123Z","service":"checkout","severity":"error",
//	 "message":"card declined","attributes":{"order":42},"labels":{"env":"prod"},
//	 "trace_id":"4bf9…","span_id":"00f0…"}
//
// Only message is required. The rules (time formats, aliases, what becomes
// an attribute) are in docs/logs-collectors.md and in decode.go.
package jsonlines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

// Path is where the lead mounts the handler.
const Path = "/api/v1/logs"

const source = "jsonlines"

// Config bounds what one request may carry. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds the body as sent (413 beyond). Default 32 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds a gzip body after decompression (413 beyond).
	// Default 128 MiB.
	MaxDecodedBytes int
	// MaxLineBytes refuses longer lines (reason line_too_long); the other
	// lines are kept. Default 1 MiB.
	MaxLineBytes int
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxDecodedBytes <= 0 {
		c.MaxDecodedBytes = 128 << 20
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	return c
}

// Handler serves POST /api/v1/logs.
type Handler struct {
	cfg     Config
	pub     *ingest.Publisher
	metrics *ingest.Metrics
	now     func() time.Time
	pool    sync.Pool // *state
}

// New builds the handler. pub publishes to the logs topic; m counts
// requests, accepted lines and refusals under source "jsonlines".
func New(cfg Config, pub *ingest.Publisher, m *ingest.Metrics) *Handler {
	return &Handler{cfg: cfg.withDefaults(), pub: pub, metrics: m, now: time.Now}
}

type state struct {
	body     bytes.Buffer
	inflated []byte
	dec      decoder
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.metrics.WriteError(w, source, ingest.Errorf(http.StatusMethodNotAllowed, "method", "JSON lines are sent with POST, not %s", r.Method))
		return
	}
	st, _ := h.pool.Get().(*state)
	if st == nil {
		st = &state{}
	}
	defer func() {
		st.dec.reset()
		h.pool.Put(st)
	}()

	stored, herr := h.handle(r, st)
	if herr != nil {
		h.metrics.WriteError(w, source, herr)
		return
	}
	if stored > 0 {
		h.metrics.Accepted.WithLabelValues(source, "logs").Add(float64(stored))
	}
	d := &st.dec
	if len(d.rejected) > 0 {
		// As remote_write and Loki do: the valid lines are stored, the
		// reply says 400 and names the refused lines, so the sender logs
		// them and does not retry lines that would be refused again.
		for reason, n := range d.rejected {
			h.metrics.Rejected.WithLabelValues(source, reason).Add(float64(n))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "stored %d of %d lines; refused %s\n", stored, d.lines, d.describeRejections())
		h.metrics.Requests.WithLabelValues(source, "400").Inc()
		return
	}
	w.WriteHeader(http.StatusNoContent)
	h.metrics.Requests.WithLabelValues(source, "204").Inc()
}

func (h *Handler) handle(r *http.Request, st *state) (int, *ingest.HTTPError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !acceptedType(ct) {
		return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
			"Content-Type %q not supported: send application/x-ndjson (or application/json, text/plain), one JSON object per line", ct)
	}
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if ce != "" && ce != "identity" && ce != "gzip" {
		return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
			"Content-Encoding %q not supported: send the body plain or gzip", ce)
	}
	st.body.Reset()
	if _, err := st.body.ReadFrom(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return 0, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"body larger than %d bytes: send smaller batches", h.cfg.MaxBodyBytes)
		}
		return 0, ingest.Errorf(http.StatusBadRequest, "read_error", "reading body: %v", err)
	}
	body := st.body.Bytes()
	if ce == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_gzip", "Content-Encoding gzip but the body is not gzip: %v", err)
		}
		buf := bytes.NewBuffer(st.inflated[:0])
		n, err := buf.ReadFrom(io.LimitReader(zr, int64(h.cfg.MaxDecodedBytes)+1))
		zr.Close()
		st.inflated = buf.Bytes()[:0]
		if err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_gzip", "gzip body: %v", err)
		}
		if n > int64(h.cfg.MaxDecodedBytes) {
			return 0, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"decompressed body larger than %d bytes: send smaller batches", h.cfg.MaxDecodedBytes)
		}
		body = buf.Bytes()
	}

	d := &st.dec
	d.maxLineBytes = h.cfg.MaxLineBytes
	d.decode(body, h.now())
	streams := d.streams
	if len(streams) == 0 {
		return 0, nil
	}
	n, err := h.pub.PublishLogs(r.Context(), streams)
	if err != nil {
		return 0, ingest.PublishError(err)
	}
	return n, nil
}

func acceptedType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/x-jsonlines",
		"application/json", "text/plain":
		return true
	}
	return false
}

// describeRejections renders the refusals: counts by reason, then the first
// lines by number.
func (d *decoder) describeRejections() string {
	reasons := make([]string, 0, len(d.rejected))
	for reason := range d.rejected {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	var b strings.Builder
	for i, reason := range reasons {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", d.rejected[reason], strings.ReplaceAll(reason, "_", " "))
	}
	if len(d.details) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(d.details, "; "))
		if d.moreDetails > 0 {
			fmt.Fprintf(&b, "; and %d more", d.moreDetails)
		}
	}
	return b.String()
}
