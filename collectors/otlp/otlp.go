// Package otlp receives OpenTelemetry metrics and logs over OTLP/HTTP
// (POST /v1/metrics and /v1/logs, protobuf or JSON, optionally gzip) and
// OTLP/gRPC, decodes them with OpenTelemetry's pdata, maps them onto
// Firebreak's records (docs/otlp.md has the tables) and publishes them
// through the shared ingest.Publisher, so series and streams are keyed
// exactly as every other collector keys them.
//
// A request is answered only after Kafka acknowledged what it carried:
// 200 with an ExportResponse (partial_success when some items were
// refused), 400 for a body that does not decode, 413 beyond the size
// limits, 415 for an unknown Content-Type or Content-Encoding, 503 with
// Retry-After (gRPC: Unavailable with RetryInfo) when Kafka did not
// acknowledge.
package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

// Sources, the value of the source label on the collector counters.
const (
	SourceHTTP = "otlp_http"
	SourceGRPC = "otlp_grpc"
)

// DefaultResourceLabels are the resource attributes promoted to metric
// labels when Config.ResourceLabels is nil, besides service.name (→
// service) and service.instance.id (→ instance), which always are. They
// name where a series runs without multiplying series per process.
var DefaultResourceLabels = []string{
	"service.namespace",
	"deployment.environment",
	"deployment.environment.name",
	"host.name",
	"k8s.*",
}

// Config bounds what one request may carry and how it is mapped.
type Config struct {
	// MaxBodyBytes bounds a request body as sent (compressed or not); 413
	// beyond. Default 16 MiB.
	MaxBodyBytes int64
	// MaxDecodedBytes bounds a body after gzip; 413 beyond. Default 64 MiB.
	// The gRPC listener's bound is GRPCOptions.MaxRecvBytes.
	MaxDecodedBytes int64
	// MaxLabels bounds the labels of one metric series (__name__ included)
	// and of one log stream. A data point or a resource's log records with
	// more are refused with reason too_many_labels. Default 64.
	MaxLabels int
	// MaxLogBodyBytes bounds one log record's body; a larger record is
	// refused with reason log_body_too_large. Default 64 KiB.
	MaxLogBodyBytes int
	// ResourceLabels lists the resource attributes promoted to metric labels
	// besides service.name and service.instance.id: exact attribute names,
	// or prefixes ending in "*" ("k8s.*"). nil means DefaultResourceLabels;
	// an empty, non-nil slice promotes none. Log streams carry every
	// resource attribute regardless.
	ResourceLabels []string
	// UnitSuffixes appends Prometheus unit suffixes to metric names
	// (http.server.duration with unit "s" → http_server_duration_seconds,
	// unit "1" on a gauge → _ratio), as Prometheus' default OTLP
	// translation does. Off by default: names stay as the sender chose
	// them, only sanitized, and monotonic cumulative sums get _total.
	UnitSuffixes bool
	// ExpHistogramBucketsPerOctave is the resolution exponential histograms
	// are stored at: le boundaries are powers of 2^(1/N). A finer histogram
	// is merged down to it, so boundaries (and thus series) stay the same
	// whatever scale the sender's SDK picks. A power of two from 1 to 2^20;
	// default 8 (≈9% wide buckets, OTel scale 3).
	ExpHistogramBucketsPerOctave int
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.MaxDecodedBytes <= 0 {
		c.MaxDecodedBytes = 64 << 20
	}
	if c.MaxLabels <= 0 {
		c.MaxLabels = 64
	}
	if c.MaxLogBodyBytes <= 0 {
		c.MaxLogBodyBytes = 64 << 10
	}
	if c.ResourceLabels == nil {
		c.ResourceLabels = DefaultResourceLabels
	}
	if c.ExpHistogramBucketsPerOctave <= 0 {
		c.ExpHistogramBucketsPerOctave = 8
	}
	return c
}

// Collector receives OTLP metrics and logs over HTTP and gRPC.
type Collector struct {
	cfg      Config
	pub      *ingest.Publisher
	metrics  *ingest.Metrics
	expScale int32 // the scale exponential histograms are stored at

	metricStates sync.Pool // *metricState
	logStates    sync.Pool // *logState
	bodies       sync.Pool // *bytes.Buffer
}

// New builds the collector. pub carries the sink and the partition counts;
// m counts requests and items under the sources otlp_http and otlp_grpc.
func New(cfg Config, pub *ingest.Publisher, m *ingest.Metrics) *Collector {
	cfg = cfg.withDefaults()
	scale := int32(0)
	for n := cfg.ExpHistogramBucketsPerOctave; n > 1 && scale < 20; n >>= 1 {
		scale++
	}
	return &Collector{cfg: cfg, pub: pub, metrics: m, expScale: scale}
}

// HTTPHandler serves POST /v1/metrics and POST /v1/logs; mount it at /v1/.
// It also answers when mounted with the /v1 prefix stripped.
func (c *Collector) HTTPHandler() http.Handler {
	return http.HandlerFunc(c.serveHTTP)
}

// signal is what an endpoint carries.
type signal int

const (
	signalMetrics signal = iota
	signalLogs
)

func (c *Collector) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var sig signal
	switch p := strings.TrimSuffix(r.URL.Path, "/"); {
	case p == "/v1/metrics" || p == "/metrics" || p == "metrics":
		sig = signalMetrics
	case p == "/v1/logs" || p == "/logs" || p == "logs":
		sig = signalLogs
	default:
		c.metrics.WriteError(w, SourceHTTP, ingest.Errorf(http.StatusNotFound, "unknown_path",
			"%s is not an OTLP endpoint here: this receiver takes metrics at /v1/metrics and logs at /v1/logs (not traces)", r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		c.metrics.WriteError(w, SourceHTTP, ingest.Errorf(http.StatusMethodNotAllowed, "method",
			"OTLP/HTTP takes POST, not %s", r.Method))
		return
	}
	enc, herr := requestEncoding(r)
	if herr != nil {
		c.metrics.WriteError(w, SourceHTTP, herr)
		return
	}
	buf, _ := c.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer c.putBody(buf)
	body, herr := c.readBody(r, buf)
	if herr != nil {
		c.writeStatus(w, enc, herr, true)
		return
	}
	var res outcome
	var resp []byte
	switch sig {
	case signalMetrics:
		req := pmetricotlp.NewExportRequest()
		if err := enc.unmarshal(req, body); err != nil {
			c.writeStatus(w, enc, enc.decodeError("ExportMetricsServiceRequest", err), true)
			return
		}
		res, herr = c.exportMetrics(r.Context(), req.Metrics(), SourceHTTP)
		if herr == nil {
			resp, herr = enc.marshal(metricsResponse(res))
		}
	case signalLogs:
		req := plogotlp.NewExportRequest()
		if err := enc.unmarshal(req, body); err != nil {
			c.writeStatus(w, enc, enc.decodeError("ExportLogsServiceRequest", err), true)
			return
		}
		res, herr = c.exportLogs(r.Context(), req.Logs(), SourceHTTP)
		if herr == nil {
			resp, herr = enc.marshal(logsResponse(res))
		}
	}
	if herr != nil {
		// Item-level reasons are counted already: count the request only.
		c.writeStatus(w, enc, herr, herr.Reason != reasonAllRefused)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
	c.metrics.Requests.WithLabelValues(SourceHTTP, "200").Inc()
}

func (c *Collector) putBody(buf *bytes.Buffer) {
	if buf.Cap() > 4<<20 { // do not pin one huge request's memory
		return
	}
	buf.Reset()
	c.bodies.Put(buf)
}

// readBody reads the body into buf, inflating gzip, within the limits.
func (c *Collector) readBody(r *http.Request, buf *bytes.Buffer) ([]byte, *ingest.HTTPError) {
	tooBig := func(what string, limit int64) *ingest.HTTPError {
		return ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"%s larger than %d bytes: send smaller batches (exporter batch size / max request size)", what, limit)
	}
	var src io.Reader = http.MaxBytesReader(nil, r.Body, c.cfg.MaxBodyBytes)
	gzipped := isGzip(r.Header.Get("Content-Encoding"))
	if gzipped {
		zr, err := gzip.NewReader(src)
		if err != nil {
			if isMaxBytes(err) {
				return nil, tooBig("body", c.cfg.MaxBodyBytes)
			}
			return nil, ingest.Errorf(http.StatusBadRequest, "bad_gzip", "Content-Encoding is gzip but the body is not gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(src, c.cfg.MaxDecodedBytes+1))
	switch {
	case isMaxBytes(err):
		return nil, tooBig("body", c.cfg.MaxBodyBytes)
	case err != nil && gzipped:
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_gzip", "gzip body is corrupt or truncated: %v", err)
	case err != nil:
		return nil, ingest.Errorf(http.StatusBadRequest, "read_error", "reading body: %v", err)
	case int64(buf.Len()) > c.cfg.MaxDecodedBytes:
		return nil, tooBig("decoded body", c.cfg.MaxDecodedBytes)
	}
	return buf.Bytes(), nil
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

func isGzip(ce string) bool { return strings.EqualFold(strings.TrimSpace(ce), "gzip") }

// encoding is the request's (and so the response's) body encoding.
type encoding int

const (
	encProto encoding = iota
	encJSON
)

func requestEncoding(r *http.Request) (encoding, *ingest.HTTPError) {
	ce := strings.TrimSpace(r.Header.Get("Content-Encoding"))
	if ce != "" && !isGzip(ce) && !strings.EqualFold(ce, "identity") {
		return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
			"Content-Encoding %q not supported: send gzip or no encoding", ce)
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err == nil && (mt == "application/x-protobuf" || mt == "application/protobuf"):
		return encProto, nil
	case err == nil && mt == "application/json":
		return encJSON, nil
	}
	return 0, ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
		"Content-Type %q not supported: OTLP/HTTP sends application/x-protobuf or application/json", ct)
}

func (e encoding) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// otlpMessage is what pdata's request and response wrappers share.
type otlpMessage interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

func (e encoding) unmarshal(m otlpMessage, body []byte) error {
	if e == encJSON {
		if err := ingest.CheckJSONStrings(body); err != nil {
			return err
		}
		return m.UnmarshalJSON(body)
	}
	return m.UnmarshalProto(body)
}

func (e encoding) marshal(m otlpMessage) ([]byte, *ingest.HTTPError) {
	var b []byte
	var err error
	if e == encJSON {
		b, err = m.MarshalJSON()
	} else {
		b, err = m.MarshalProto()
	}
	if err != nil {
		return nil, ingest.Errorf(http.StatusInternalServerError, "encode_response", "encoding the response: %v", err)
	}
	return b, nil
}

func (e encoding) decodeError(msg string, err error) *ingest.HTTPError {
	if e == encJSON {
		return ingest.Errorf(http.StatusBadRequest, "bad_json", "body is not an OTLP/JSON %s: %v", msg, err)
	}
	return ingest.Errorf(http.StatusBadRequest, "bad_protobuf", "body is not a protobuf %s: %v", msg, err)
}

// writeStatus answers with a google.rpc.Status in the request's encoding,
// as the OTLP/HTTP specification asks, and counts the request (and its
// reason unless items were counted already).
func (c *Collector) writeStatus(w http.ResponseWriter, enc encoding, e *ingest.HTTPError, countReason bool) {
	st := status.New(grpcCode(e.Status), e.Message).Proto()
	var body []byte
	if enc == encJSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
	c.metrics.Requests.WithLabelValues(SourceHTTP, strconv.Itoa(e.Status)).Inc()
	if countReason {
		c.metrics.Rejected.WithLabelValues(SourceHTTP, e.Reason).Inc()
	}
}

// grpcCode is the gRPC code for an HTTP status, as the OTLP specification
// pairs them.
func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case 499:
		return codes.Canceled
	}
	return codes.Internal
}

// reasonAllRefused marks the reply to a request whose every item was
// refused; its items were counted under their own reasons.
const reasonAllRefused = "all_refused"

// outcome is what became of one request's items.
type outcome struct {
	accepted int // samples (metrics) or log records, acknowledged by Kafka
	items    int // data points or log records in the request
	rejected rejections
	msg      string // set by finish when items were refused
}

// rejections counts refused data points or log records by reason.
type rejections map[string]int

func (o *outcome) reject(reason string, n int) {
	if n <= 0 {
		return
	}
	if o.rejected == nil {
		o.rejected = rejections{}
	}
	o.rejected[reason] += n
}

func (o *outcome) refused() int {
	n := 0
	for _, k := range o.rejected {
		n += k
	}
	return n
}

// message says what was refused and why, most frequent reason first.
func (o *outcome) message(cfg *Config, what string) string {
	reasons := make([]string, 0, len(o.rejected))
	for r := range o.rejected {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if o.rejected[reasons[i]] != o.rejected[reasons[j]] {
			return o.rejected[reasons[i]] > o.rejected[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "refused %d of %d %s: ", o.refused(), o.items, what)
	for i, r := range reasons {
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "%d %s (%s)", o.rejected[r], r, explain(cfg, r))
	}
	return sb.String()
}

// explain says in words what a rejection reason means.
func explain(cfg *Config, reason string) string {
	switch reason {
	case "empty_metric_name":
		return "metric name is empty"
	case "invalid_metric_name":
		return "metric name has no character Prometheus allows"
	case "invalid_label_name":
		return "an attribute name is empty or only underscores"
	case "too_many_labels":
		return fmt.Sprintf("more than %d labels, resource labels included", cfg.MaxLabels)
	case "invalid_utf8":
		return "a metric name, attribute name or value is not valid UTF-8"
	case "missing_value":
		return "number data point without a value"
	case "unspecified_temporality":
		return "sum or histogram with AGGREGATION_TEMPORALITY_UNSPECIFIED"
	case "invalid_histogram":
		return "bucket_counts must have one entry more than explicit_bounds; exponential scale within -10..20"
	case "log_body_too_large":
		return fmt.Sprintf("log body larger than %d bytes", cfg.MaxLogBodyBytes)
	}
	return strings.ReplaceAll(reason, "_", " ")
}

// finish counts an export's items and turns an all-refused request into an
// error; a partly refused one is answered with partial_success.
func (c *Collector) finish(res outcome, source, kind, what string) (outcome, *ingest.HTTPError) {
	for r, n := range res.rejected {
		c.metrics.Rejected.WithLabelValues(source, r).Add(float64(n))
	}
	if res.accepted > 0 {
		c.metrics.Accepted.WithLabelValues(source, kind).Add(float64(res.accepted))
	}
	if res.refused() == 0 {
		return res, nil
	}
	res.msg = res.message(&c.cfg, what)
	if res.refused() == res.items {
		return res, &ingest.HTTPError{Status: http.StatusBadRequest, Reason: reasonAllRefused, Message: res.msg}
	}
	return res, nil
}

func metricsResponse(res outcome) pmetricotlp.ExportResponse {
	resp := pmetricotlp.NewExportResponse()
	if n := res.refused(); n > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(int64(n))
		resp.PartialSuccess().SetErrorMessage(res.msg)
	}
	return resp
}

func logsResponse(res outcome) plogotlp.ExportResponse {
	resp := plogotlp.NewExportResponse()
	if n := res.refused(); n > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(n))
		resp.PartialSuccess().SetErrorMessage(res.msg)
	}
	return resp
}

// publishError maps a sink failure to the reply: the sender gave up
// (499), or Kafka did not acknowledge (503 with Retry-After).
func publishError(ctx context.Context, err error) *ingest.HTTPError {
	if ctx.Err() != nil {
		err = fmt.Errorf("%w: %v", context.Canceled, err)
	}
	return ingest.PublishError(err)
}
