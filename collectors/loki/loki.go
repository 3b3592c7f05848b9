// Package loki receives Loki's push API (POST /loki/api/v1/push) in both of
// its encodings, snappy-compressed protobuf (Promtail, Grafana Alloy) and
// JSON (Fluent Bit, curl), and publishes the lines to the logs topic through
// ingest.Publisher, keyed by stream. It answers as Loki does, so those
// senders work unchanged: 204 once Kafka acknowledged, 400 with a reason,
// 413, 415, and 503 with Retry-After when Kafka did not take the write.
package loki

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

// Path is where the lead mounts the handler (Loki's own path, so senders
// need only the base URL).
const Path = "/loki/api/v1/push"

const source = "loki"

// Config bounds what one push may carry. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds the body as sent, compressed (413 beyond).
	// Default 32 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds the body after snappy, gzip or deflate (413
	// beyond), so a small compressed body cannot expand without limit.
	// Default 128 MiB.
	MaxDecodedBytes int
	// MaxLineBytes refuses longer lines (reason line_too_long), as Loki's
	// max_line_size does. Default 256 KiB, Loki's default.
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
		c.MaxLineBytes = 256 << 10
	}
	return c
}

// Handler serves POST /loki/api/v1/push.
type Handler struct {
	cfg     Config
	pub     *ingest.Publisher
	metrics *ingest.Metrics
	labels  labelCache
	pool    sync.Pool // *state
}

// New builds the handler. pub publishes to the logs topic; m counts
// requests, accepted lines and refusals under source "loki".
func New(cfg Config, pub *ingest.Publisher, m *ingest.Metrics) *Handler {
	return &Handler{cfg: cfg.withDefaults(), pub: pub, metrics: m}
}

// state is per-request memory, pooled across requests.
type state struct {
	body     bytes.Buffer
	inflated []byte // after gzip or deflate
	decoded  []byte // after snappy
	dec      decoder
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.metrics.WriteError(w, source, ingest.Errorf(http.StatusMethodNotAllowed, "method", "the Loki push API takes POST, not %s", r.Method))
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
	if rej := st.dec.rejected; len(rej) > 0 {
		// As Loki's distributor does: keep the valid lines, then answer
		// 400 so the sender logs why the rest was refused (and does not
		// retry lines that would be refused again).
		for reason, n := range rej {
			h.metrics.Rejected.WithLabelValues(source, reason).Add(float64(n))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "stored %d lines; refused %s\n", stored, st.dec.describeRejections())
		h.metrics.Requests.WithLabelValues(source, "400").Inc()
		return
	}
	w.WriteHeader(http.StatusNoContent)
	h.metrics.Requests.WithLabelValues(source, "204").Inc()
}

type encoding int

const (
	encProtobuf encoding = iota
	encJSON
)

func (h *Handler) handle(r *http.Request, st *state) (int, *ingest.HTTPError) {
	enc, herr := contentType(r)
	if herr != nil {
		return 0, herr
	}
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity", "gzip", "deflate":
	case "snappy":
		// Loki tolerates this header on protobuf bodies, which are snappy
		// anyway; a JSON body is never snappy.
		if enc == encJSON {
			return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
				"Content-Encoding snappy is for protobuf pushes: send JSON plain, gzip or deflate")
		}
	default:
		return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
			"Content-Encoding %q not supported: send identity, gzip or deflate (protobuf bodies are snappy-compressed)", ce)
	}

	st.body.Reset()
	if _, err := st.body.ReadFrom(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return 0, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"body larger than %d bytes: send smaller batches (Promtail/Alloy batch_size, Fluent Bit Buffer_Size)", h.cfg.MaxBodyBytes)
		}
		return 0, ingest.Errorf(http.StatusBadRequest, "read_error", "reading body: %v", err)
	}
	body := st.body.Bytes()
	if ce == "gzip" || ce == "deflate" {
		if body, herr = h.decompress(ce, body, st); herr != nil {
			return 0, herr
		}
	}

	st.dec.cfg = &h.cfg
	st.dec.labels = &h.labels
	switch enc {
	case encJSON:
		if err := st.dec.decodeJSON(body); err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_json", "body is not a Loki JSON push (%s): %v", jsonShape, err)
		}
	default:
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_snappy", "protobuf pushes are snappy block format: %v", err)
		}
		if n > h.cfg.MaxDecodedBytes {
			return 0, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"decoded body would be %d bytes, limit %d: send smaller batches", n, h.cfg.MaxDecodedBytes)
		}
		if cap(st.decoded) < n {
			st.decoded = make([]byte, n)
		}
		raw, err := snappy.Decode(st.decoded[:n], body)
		if err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_snappy", "snappy decode: %v", err)
		}
		if err := st.dec.decodeProto(raw); err != nil {
			return 0, ingest.Errorf(http.StatusBadRequest, "bad_protobuf", "body is not a logproto.PushRequest: %v", err)
		}
	}

	if len(st.dec.streams) == 0 {
		return 0, nil
	}
	n, err := h.pub.PublishLogs(r.Context(), st.dec.streams)
	if err != nil {
		return 0, ingest.PublishError(err)
	}
	return n, nil
}

// decompress inflates a gzip or deflate body, bounded by MaxDecodedBytes.
func (h *Handler) decompress(ce string, body []byte, st *state) ([]byte, *ingest.HTTPError) {
	var zr io.Reader
	if ce == "gzip" {
		gz, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, ingest.Errorf(http.StatusBadRequest, "bad_gzip", "Content-Encoding gzip but the body is not gzip: %v", err)
		}
		defer gz.Close()
		zr = gz
	} else {
		fr := flate.NewReader(bytes.NewReader(body))
		defer fr.Close()
		zr = fr
	}
	buf := bytes.NewBuffer(st.inflated[:0])
	n, err := buf.ReadFrom(io.LimitReader(zr, int64(h.cfg.MaxDecodedBytes)+1))
	st.inflated = buf.Bytes()[:0]
	if err != nil {
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_"+ce, "%s body: %v", ce, err)
	}
	if n > int64(h.cfg.MaxDecodedBytes) {
		return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"decompressed body larger than %d bytes: send smaller batches", h.cfg.MaxDecodedBytes)
	}
	return buf.Bytes(), nil
}

// contentType picks the encoding as Loki does, except that a type that is
// neither is refused (415) instead of being tried as protobuf.
func contentType(r *http.Request) (encoding, *ingest.HTTPError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return encProtobuf, nil // Loki's default: Promtail before 2.0 sent none
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/x-protobuf":
		return encProtobuf, nil
	case mt == "application/json":
		return encJSON, nil
	}
	return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
		"Content-Type %q not supported: the Loki push API takes application/x-protobuf (snappy) or application/json", ct)
}

// describeRejections renders the refusals for the reply body: counts by
// reason, then the first few details.
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
