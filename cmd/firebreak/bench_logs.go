package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// logsBenchConfig is what `firebreak bench logs` takes.
type logsBenchConfig struct {
	target          string // loki, otlp or syslog
	url             string
	duration        time.Duration
	concurrency     int
	linesPerRequest int
	streams         int
	verifySQL       string
	verifyTimeout   time.Duration
	jsonOut         bool
}

func cmdBenchLogs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench logs", flag.ContinueOnError)
	var cfg logsBenchConfig
	fs.StringVar(&cfg.target, "target", "loki", "protocol: loki (push API, protobuf + snappy), otlp (OTLP/HTTP logs, protobuf) or syslog (RFC 5424 over TCP, newline framing)")
	fs.StringVar(&cfg.url, "url", "", "loki/otlp: the endpoint, e.g. http://127.0.0.1:8480/loki/api/v1/push or http://127.0.0.1:8480/v1/logs (a base URL gets that path); syslog: host:port of the TCP receiver, e.g. 127.0.0.1:1514")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to send; requests in flight at the end are completed and counted")
	fs.IntVar(&cfg.concurrency, "concurrency", 8, "parallel senders (HTTP) or TCP connections (syslog)")
	fs.IntVar(&cfg.linesPerRequest, "lines-per-request", 2000, "log lines per HTTP request, or per write on a syslog connection")
	fs.IntVar(&cfg.streams, "streams", 60, "distinct streams (service × instance label sets); a request carries lines of up to 8 of them")
	fs.StringVar(&cfg.verifySQL, "verify-sql", "", "firebreak base URL (e.g. http://127.0.0.1:8480): poll SELECT count() FROM logs until what was acked (syslog: written) is stored, and report the end-to-end rate; empty skips")
	fs.DurationVar(&cfg.verifyTimeout, "verify-timeout", 5*time.Minute, "with --verify-sql: how long to wait after sending for the store to catch up before reporting lines as missing")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON object on stdout (progress still goes to stderr)")
	fs.Usage = usageFor(fs, "firebreak bench logs: load a log receiver (Loki push, OTLP/HTTP logs or syslog TCP) with pre-built, realistic lines.\n"+
		"Bodies are built before the clock starts; only timestamps are rewritten per round, so every line is distinct.\n"+
		"HTTP: 5xx and 429 are retried, other 4xx fail the request. syslog has no acknowledgement: lines written count as sent.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	res, err := runLogsBench(ctx, cfg, os.Stderr)
	if res != nil {
		writeBenchResult(res, cfg.jsonOut)
	}
	return err
}

var logsBenchPaths = map[string]string{"loki": "/loki/api/v1/push", "otlp": "/v1/logs"}

func (c *logsBenchConfig) validate() error {
	switch c.target {
	case "loki", "otlp":
		if c.url == "" {
			return fmt.Errorf("bench logs: --url is required, e.g. --url http://127.0.0.1:8480%s", logsBenchPaths[c.target])
		}
		u, err := url.Parse(c.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench logs: --url %q is not an http(s) URL, e.g. http://127.0.0.1:8480%s", c.url, logsBenchPaths[c.target])
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = logsBenchPaths[c.target]
			c.url = u.String()
		}
	case "syslog":
		c.url = strings.TrimPrefix(c.url, "tcp://")
		if _, _, err := net.SplitHostPort(c.url); err != nil {
			return fmt.Errorf("bench logs: --url %q: for --target syslog give the TCP receiver's host:port, e.g. 127.0.0.1:1514", c.url)
		}
	default:
		return fmt.Errorf("bench logs: --target %q: use loki, otlp or syslog", c.target)
	}
	if c.duration <= 0 {
		return fmt.Errorf("bench logs: --duration %s must be positive, e.g. 60s", c.duration)
	}
	if c.concurrency < 1 {
		return fmt.Errorf("bench logs: --concurrency %d must be at least 1", c.concurrency)
	}
	if c.linesPerRequest < 1 || c.linesPerRequest > 100_000 {
		return fmt.Errorf("bench logs: --lines-per-request %d must be 1 to 100000", c.linesPerRequest)
	}
	if c.streams < 1 {
		return fmt.Errorf("bench logs: --streams %d must be at least 1", c.streams)
	}
	if c.verifySQL != "" {
		if u, err := url.Parse(c.verifySQL); err != nil || u.Host == "" {
			return fmt.Errorf("bench logs: --verify-sql %q: want firebreak's base URL, e.g. http://127.0.0.1:8480", c.verifySQL)
		}
		c.verifySQL = strings.TrimRight(c.verifySQL, "/")
	}
	return nil
}

// logsResult is what one run measured.
type logsResult struct {
	Target          string  `json:"target"`
	URL             string  `json:"url"`
	Concurrency     int     `json:"concurrency"`
	LinesPerRequest int     `json:"lines_per_request"`
	Streams         int     `json:"streams"`
	Templates       int     `json:"templates"`
	LineBytes       float64 `json:"line_bytes"`          // the log message alone
	BodyBytesPerLn  float64 `json:"body_bytes_per_line"` // what goes on the wire
	PrepareSeconds  float64 `json:"prepare_seconds"`

	sendFigures
	AckedLines     int64   `json:"acked_lines"` // syslog: written
	AckedPerSecond float64 `json:"acked_lines_per_second"`
	FailedLines    int64   `json:"failed_lines"`

	Verify *verifyResult `json:"verify,omitempty"`
}

func (r *logsResult) print(w io.Writer) {
	p := func(k, f string, a ...any) { fmt.Fprintf(w, "  %-20s %s\n", k, fmt.Sprintf(f, a...)) }
	acked := "acked"
	if r.Target == "syslog" {
		acked = "written"
	}
	fmt.Fprintf(w, "firebreak bench logs --target %s → %s\n", r.Target, r.URL)
	p("load", "%d senders, %d lines/request, %d streams, %d distinct bodies", r.Concurrency, r.LinesPerRequest, r.Streams, r.Templates)
	p("bodies", "%.0f bytes/line of message, %.0f bytes/line on the wire, built in %.1f s before the clock", r.LineBytes, r.BodyBytesPerLn, r.PrepareSeconds)
	p(acked, "%s lines in %s requests over %.1f s", group(r.AckedLines), group(r.AckedRequests), r.SendSeconds)
	p(acked+" rate", "%s lines/s", group(int64(r.AckedPerSecond)))
	p("request latency", "p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	p("errors", "%d requests failed (%s lines), %d attempts retried; responses %v", r.FailedRequests, group(r.FailedLines), r.RetriedAttempts, r.StatusCounts)
	for _, e := range r.FirstErrors {
		p("", "%s", e)
	}
	p("sender", "%.1f s CPU user+sys = %.2f cores of this machine (shared with the receiver), peak RSS %.0f MiB", r.SenderCPUSecs, r.SenderCores, r.SenderMaxRSSMiB)
	if v := r.Verify; v != nil {
		distinct := group(v.DistinctRows)
		if v.DistinctRows < 0 {
			distinct = "count FINAL failed: " + v.DistinctError
		}
		p("stored", "%s rows in logs (%s distinct)", group(v.StoredRows), distinct)
		if v.CaughtUp {
			p("end-to-end rate", "%s lines/s stored (%.1f s from first send to last stored)", group(int64(v.E2EPerSecond)), v.E2ESeconds)
			p("writer lag", "%.1f s after the last send", v.WriterLagSeconds)
		} else {
			p("MISSING", "%s %s lines not stored after waiting (writer lag > --verify-timeout, or lost)", group(v.MissingSamples), acked)
		}
	}
}

// Log timestamps: line n of the run (a global sequence) is at
// logsBaseSec + n µs, counted over the nanoseconds 3e8..1e9 of each second
// only. Seconds and nanos then always take 5-byte varints in Loki's
// protobuf, so they are rewritten in place, and every line is distinct at
// syslog's microsecond precision.
const (
	logsNanoFloor = 300_000_000
	logsNanoSpan  = 1_000_000_000 - logsNanoFloor
)

func logsTime(baseSec int64, n int64) (sec, nanos int64) {
	u := n * 1000
	return baseSec + u/logsNanoSpan, logsNanoFloor + u%logsNanoSpan
}

// logsStream is one label set: a service instance.
type logsStream struct {
	service, instance, host string
	pid                     int
}

var logsBenchServices = []string{"gateway", "checkout", "payment", "inventory", "delivery", "search", "identity", "notification"}

func logsStreams(n int) []logsStream {
	out := make([]logsStream, n)
	for s := range out {
		svc := logsBenchServices[s%len(logsBenchServices)]
		k := s / len(logsBenchServices)
		out[s] = logsStream{
			service:  svc,
			instance: fmt.Sprintf("%s-%08x-%d", svc, uint32(s)*2654435761, k),
			host:     fmt.Sprintf("node-%02d.eu-west-1.internal", s%23),
			pid:      1000 + (s*7919)%30000,
		}
	}
	return out
}

// logsChatter is what services say, with variable parts.
var logsChatter = []string{
	"GET /api/products/%d 200 %dms",
	"POST /api/checkout 302 %dms bytes=%d",
	"cart %d validated in %dms",
	"order %d created for customer c-%d",
	"authorised payment for order %d amount %d.42 EUR",
	"reserved %d units of sku-%d",
	"parcel p-%d handed to carrier %d",
	"search q=%d returned %d hits",
	"session refreshed for user u-%d after %ds",
	"cache miss for key product:%d, loaded in %dms",
}

type logsSeverity struct {
	text   string
	otlp   logspb.SeverityNumber
	syslog int
}

var (
	sevInfo  = logsSeverity{"info", logspb.SeverityNumber_SEVERITY_NUMBER_INFO, 6}
	sevDebug = logsSeverity{"debug", logspb.SeverityNumber_SEVERITY_NUMBER_DEBUG, 7}
	sevWarn  = logsSeverity{"warn", logspb.SeverityNumber_SEVERITY_NUMBER_WARN, 4}
	sevError = logsSeverity{"error", logspb.SeverityNumber_SEVERITY_NUMBER_ERROR, 3}
)

type logsLine struct {
	stream int
	sev    logsSeverity
	msg    string
}

// logsLineFor is line l of body g: about 120 bytes of message.
func logsLineFor(g, l, spr, streams int) logsLine {
	rng := rand.New(rand.NewPCG(uint64(g), uint64(l)))
	ln := logsLine{stream: (g*spr + l%spr) % streams, sev: sevInfo}
	var msg string
	switch r := rng.IntN(100); {
	case r < 1:
		ln.sev = sevError
		msg = fmt.Sprintf("request %d failed: %s", rng.IntN(1_000_000), []string{"connection reset by peer", "context deadline exceeded", "upstream returned 503"}[rng.IntN(3)])
	case r < 4:
		ln.sev = sevWarn
		msg = fmt.Sprintf("upstream slow: %dms above budget", 200+rng.IntN(3000))
	case r < 14:
		ln.sev = sevDebug
		msg = fmt.Sprintf("pool stats idle=%d busy=%d waiters=%d", rng.IntN(64), rng.IntN(64), rng.IntN(8))
	default:
		msg = fmt.Sprintf(logsChatter[rng.IntN(len(logsChatter))], rng.IntN(100_000), rng.IntN(1000))
	}
	ln.msg = fmt.Sprintf("%s request_id=%08x trace_id=%016x%016x", msg, rng.Uint32(), rng.Uint64(), rng.Uint64())
	return ln
}

// logsTemplate is one pre-built request body whose timestamps sit at known
// offsets.
type logsTemplate struct {
	raw    []byte  // loki: the protobuf before snappy; otlp: the body; syslog: newline-framed lines
	stamp  []int32 // per line: offset of its timestamp in raw
	stamp2 []int32 // otlp: per line, offset of observed_time_unix_nano
	lines  int
	msgB   int // bytes of messages
	wire   int // bytes sent per request (loki: after snappy)
}

// patch writes the timestamps of round for template g (of n).
func (t *logsTemplate) patch(target string, baseSec int64, round, g, n int) {
	first := (int64(round)*int64(n) + int64(g)) * int64(t.lines)
	for l, off := range t.stamp {
		sec, nanos := logsTime(baseSec, first+int64(l))
		switch target {
		case "loki":
			putVarint5(t.raw[off:], uint64(sec))
			putVarint5(t.raw[off+6:], uint64(nanos))
		case "otlp":
			ts := uint64(sec*1e9 + nanos)
			binary.LittleEndian.PutUint64(t.raw[off:], ts)
			binary.LittleEndian.PutUint64(t.raw[t.stamp2[l]:], ts) // observed_time_unix_nano
		case "syslog":
			// AppendFormat may write past its result: format aside, then copy.
			var scratch [64]byte
			copy(t.raw[off:off+27], time.Unix(sec, nanos).UTC().AppendFormat(scratch[:0], "2006-01-02T15:04:05.000000Z07:00"))
		}
	}
}

func putVarint5(b []byte, u uint64) {
	for i := 0; i < 4; i++ {
		b[i] = byte(u) | 0x80
		u >>= 7
	}
	b[4] = byte(u)
}

// buildLogsTemplates builds n bodies of cfg.linesPerRequest lines.
func buildLogsTemplates(cfg logsBenchConfig, n int, baseSec int64) ([]*logsTemplate, error) {
	streams := logsStreams(cfg.streams)
	spr := min(cfg.streams, 8)
	out := make([]*logsTemplate, n)
	for g := range out {
		lines := make([]logsLine, cfg.linesPerRequest)
		t := &logsTemplate{lines: len(lines)}
		for l := range lines {
			lines[l] = logsLineFor(g, l, spr, cfg.streams)
			t.msgB += len(lines[l].msg)
		}
		var err error
		switch cfg.target {
		case "loki":
			err = t.buildLoki(lines, streams, baseSec)
		case "otlp":
			err = t.buildOTLP(lines, streams)
		case "syslog":
			t.buildSyslog(lines, streams)
		}
		if err != nil {
			return nil, fmt.Errorf("bench logs: internal error building request bodies: %w", err)
		}
		out[g] = t
	}
	// Self-check: a patched body decodes to the lines with the right times.
	t := out[len(out)-1]
	t.patch(cfg.target, baseSec, 3, len(out)-1, len(out))
	if err := t.check(cfg.target, baseSec, 3, len(out)-1, len(out)); err != nil {
		return nil, fmt.Errorf("bench logs: internal error, body self-check failed: %w", err)
	}
	return out, nil
}

// Sentinels mark where each line's timestamp landed in the encoding.
const logsSentinelSec = 1 << 30

func (t *logsTemplate) buildLoki(lines []logsLine, streams []logsStream, baseSec int64) error {
	idx := map[int]int{}
	var req push.PushRequest
	for l, ln := range lines {
		i, ok := idx[ln.stream]
		if !ok {
			s := streams[ln.stream]
			i = len(req.Streams)
			idx[ln.stream] = i
			req.Streams = append(req.Streams, push.Stream{Labels: fmt.Sprintf(`{env="production", host=%q, instance=%q, service_name=%q}`, s.host, s.instance, s.service)})
		}
		req.Streams[i].Entries = append(req.Streams[i].Entries, push.Entry{
			Timestamp: time.Unix(logsSentinelSec, int64(logsNanoFloor+l)),
			Line:      "level=" + ln.sev.text + " " + ln.msg,
		})
	}
	raw, err := req.Marshal()
	if err != nil {
		return err
	}
	t.raw = raw
	t.stamp = make([]int32, len(lines))
	pat := make([]byte, 12)
	for l := range lines {
		pat[0] = 0x08
		putVarint5(pat[1:], logsSentinelSec)
		pat[6] = 0x10
		putVarint5(pat[7:], uint64(logsNanoFloor+l))
		at := bytes.Index(raw, pat)
		if at < 0 || bytes.Index(raw[at+1:], pat) >= 0 {
			return fmt.Errorf("loki: timestamp of line %d not found exactly once", l)
		}
		t.stamp[l] = int32(at + 1)
	}
	t.wire = len(snappy.Encode(nil, raw))
	return nil
}

const logsSentinelNs = uint64(0xfeed) << 48

func (t *logsTemplate) buildOTLP(lines []logsLine, streams []logsStream) error {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	idx := map[int]*logspb.ScopeLogs{}
	var req collogs.ExportLogsServiceRequest
	for l, ln := range lines {
		sl, ok := idx[ln.stream]
		if !ok {
			s := streams[ln.stream]
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "github.com/" + s.service + "/log", Version: "1.4.2"}}
			idx[ln.stream] = sl
			req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					str("service.name", s.service), str("service.instance.id", s.instance),
					str("host.name", s.host), str("deployment.environment", "production"),
				}},
				ScopeLogs: []*logspb.ScopeLogs{sl},
			})
		}
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
			TimeUnixNano:         logsSentinelNs | uint64(l),
			ObservedTimeUnixNano: logsSentinelNs | uint64(l),
			SeverityNumber:       ln.sev.otlp,
			SeverityText:         ln.sev.text,
			Body:                 &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: ln.msg}},
		})
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(&req)
	if err != nil {
		return err
	}
	t.raw = raw
	t.stamp = make([]int32, len(lines))
	t.stamp2 = make([]int32, len(lines))
	pat := make([]byte, 9)
	for l := range lines {
		// time_unix_nano (field 1, tag 0x09) and observed_time_unix_nano
		// (field 11, tag 0x59), both fixed64.
		for i, tag := range []byte{0x09, 0x59} {
			pat[0] = tag
			binary.LittleEndian.PutUint64(pat[1:], logsSentinelNs|uint64(l))
			at := bytes.Index(raw, pat)
			if at < 0 || bytes.Index(raw[at+1:], pat) >= 0 {
				return fmt.Errorf("otlp: timestamp %d of line %d not found exactly once", i, l)
			}
			if i == 0 {
				t.stamp[l] = int32(at + 1)
			} else {
				t.stamp2[l] = int32(at + 1)
			}
		}
	}
	t.wire = len(raw)
	return nil
}

func (t *logsTemplate) buildSyslog(lines []logsLine, streams []logsStream) {
	const stampLen = len("2006-01-02T15:04:05.000000Z")
	for l, ln := range lines {
		s := streams[ln.stream]
		t.raw = fmt.Appendf(t.raw, "<%d>1 ", 16*8+ln.sev.syslog) // facility local0
		t.stamp = append(t.stamp, int32(len(t.raw)))
		t.raw = append(t.raw, strings.Repeat("0", stampLen)...)
		t.raw = fmt.Appendf(t.raw, " %s %s %d - [meta instance=%q] %s\n", s.host, s.service, s.pid, s.instance, ln.msg)
		_ = l
	}
	t.wire = len(t.raw)
}

// check decodes a patched body as the receiver would and compares the
// timestamps and messages.
func (t *logsTemplate) check(target string, baseSec int64, round, g, n int) error {
	first := (int64(round)*int64(n) + int64(g)) * int64(t.lines)
	want := func(l int) time.Time { s, ns := logsTime(baseSec, first+int64(l)); return time.Unix(s, ns) }
	var got []time.Time
	switch target {
	case "loki":
		var req push.PushRequest
		dec, err := snappy.Decode(nil, snappy.Encode(nil, t.raw))
		if err != nil {
			return err
		}
		if err := req.Unmarshal(dec); err != nil {
			return err
		}
		for _, s := range req.Streams {
			for _, e := range s.Entries {
				got = append(got, e.Timestamp)
			}
		}
	case "otlp":
		var req collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(t.raw, &req); err != nil {
			return err
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					if r.ObservedTimeUnixNano != r.TimeUnixNano {
						return errors.New("otlp: observed time differs from time")
					}
					got = append(got, time.Unix(0, int64(r.TimeUnixNano)))
				}
			}
		}
	case "syslog":
		for _, line := range bytes.Split(bytes.TrimSuffix(t.raw, []byte("\n")), []byte("\n")) {
			f := bytes.Fields(line)
			ts, err := time.Parse(time.RFC3339Nano, string(f[1]))
			if err != nil {
				return err
			}
			got = append(got, ts)
		}
	}
	if len(got) != t.lines {
		return fmt.Errorf("%s: %d lines decoded, want %d", target, len(got), t.lines)
	}
	// Lines are grouped by stream in the encodings: compare as sets.
	wantAll := make([]int64, t.lines)
	gotAll := make([]int64, t.lines)
	for l := range wantAll {
		wantAll[l] = want(l).UnixNano()
		gotAll[l] = got[l].UnixNano()
	}
	slices.Sort(wantAll)
	slices.Sort(gotAll)
	if !slices.Equal(wantAll, gotAll) {
		return fmt.Errorf("%s: decoded timestamps differ from the patched ones (first %v, want %v)", target, time.Unix(0, gotAll[0]), time.Unix(0, wantAll[0]))
	}
	return nil
}

func runLogsBench(ctx context.Context, cfg logsBenchConfig, progress io.Writer) (*logsResult, error) {
	res := &logsResult{Target: cfg.target, URL: cfg.url, Concurrency: cfg.concurrency, LinesPerRequest: cfg.linesPerRequest, Streams: cfg.streams}
	prepStart := time.Now()
	// Lines start half an hour back and advance 1 µs each (0.7 s of log
	// time per second: 9 M lines take 13 s), well within any TTL.
	baseSec := time.Now().Add(-30 * time.Minute).Unix()
	nT := cfg.concurrency * 4
	tmpls, err := buildLogsTemplates(cfg, nT, baseSec)
	if err != nil {
		return nil, err
	}
	var msgB, wire int
	for _, t := range tmpls {
		msgB += t.msgB
		wire += t.wire
	}
	res.Templates = nT
	res.LineBytes = float64(msgB) / float64(nT*cfg.linesPerRequest)
	res.BodyBytesPerLn = float64(wire) / float64(nT*cfg.linesPerRequest)
	res.PrepareSeconds = time.Since(prepStart).Seconds()
	fmt.Fprintf(progress, "bench: %d %s bodies (%d lines each, %.0f bytes/line on the wire) ready in %.1f s; sending to %s for %s with %d senders\n",
		nT, cfg.target, cfg.linesPerRequest, res.BodyBytesPerLn, res.PrepareSeconds, cfg.url, cfg.duration, cfg.concurrency)

	load := &loadRun{workers: cfg.concurrency, duration: cfg.duration, jobs: nT, unit: "lines", verb: "acked"}
	if cfg.target == "syslog" {
		load.verb = "written"
	}
	if cfg.verifySQL != "" {
		v := &verifier{base: cfg.verifySQL, client: &http.Client{Timeout: 60 * time.Second}, table: "logs", unit: "lines"}
		n, err := v.count(ctx, false)
		if err != nil {
			return nil, fmt.Errorf("bench logs: --verify-sql %s: %w (is firebreak running there? the bench needs its read API)", cfg.verifySQL, err)
		}
		v.baseline = n
		load.verify = v
	}

	// send delivers one body; it is what differs between targets.
	var send func(ctx context.Context, w int, body []byte) error
	var conns []net.Conn
	switch cfg.target {
	case "loki", "otlp":
		counts, transport := benchTransport(cfg.concurrency)
		defer transport.CloseIdleConnections()
		load.counts = counts
		sender := &workload.Sender{URL: cfg.url, Client: &http.Client{Transport: counts, Timeout: 60 * time.Second}, MaxAttempts: 10}
		ct := "application/x-protobuf"
		empty := []byte{} // an empty ExportLogsServiceRequest
		if cfg.target == "loki" {
			empty = snappy.Encode(nil, nil) // an empty PushRequest
		}
		one := *sender
		one.MaxAttempts = 1
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := one.SendBody(pctx, empty, ct)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench logs: %s refused an empty %s request: %w (is the receiver running, and is this its %s endpoint?)", cfg.url, cfg.target, err, logsBenchPaths[cfg.target])
		}
		send = func(ctx context.Context, _ int, body []byte) error { return sender.SendBody(ctx, body, ct) }
	case "syslog":
		conns = make([]net.Conn, cfg.concurrency)
		d := net.Dialer{Timeout: 5 * time.Second}
		for i := range conns {
			c, err := d.DialContext(ctx, "tcp", cfg.url)
			if err != nil {
				for _, c := range conns[:i] {
					c.Close()
				}
				return nil, fmt.Errorf("bench logs: cannot reach the syslog TCP receiver at %s: %w (firebreak run --syslog-tcp-addr)", cfg.url, err)
			}
			conns[i] = c
		}
		send = func(ctx context.Context, w int, body []byte) error {
			if conns[w] == nil {
				c, err := d.DialContext(ctx, "tcp", cfg.url)
				if err != nil {
					return err
				}
				conns[w] = c
			}
			conns[w].SetWriteDeadline(time.Now().Add(60 * time.Second))
			if _, err := conns[w].Write(body); err != nil {
				conns[w].Close()
				conns[w] = nil // the receiver may have taken part of it; reconnect
				return err
			}
			return nil
		}
	}

	// Loki bodies are snappy-compressed per send, into a buffer per sender.
	snappyBufs := make([][]byte, cfg.concurrency)
	load.send = func(ctx context.Context, w, job, round int) (int64, error) {
		t := tmpls[job]
		t.patch(cfg.target, baseSec, round, job, nT)
		body := t.raw
		if cfg.target == "loki" {
			snappyBufs[w] = snappy.Encode(snappyBufs[w][:cap(snappyBufs[w])], t.raw)
			body = snappyBufs[w]
		}
		return int64(t.lines), send(ctx, w, body)
	}

	out := load.run(ctx, progress)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	res.sendFigures = out.sendFigures
	res.AckedLines, res.FailedLines = out.acked, out.failed
	res.AckedPerSecond = float64(out.acked) / res.SendSeconds
	if ctx.Err() != nil {
		return res, fmt.Errorf("bench logs: interrupted after %.1f s", res.SendSeconds)
	}
	if res.AckedLines == 0 {
		return res, fmt.Errorf("bench logs: the receiver took nothing (see the errors above); check that %s is a %s receiver and that it is healthy", cfg.url, cfg.target)
	}
	if load.verify != nil {
		res.Verify, err = load.verifyStored(ctx, out, cfg.verifyTimeout, "logs", cfg.verifySQL, progress)
	}
	return res, err
}
