package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

const benchUsage = `firebreak bench: load generators for measuring Firebreak (or any remote_write receiver).

Usage: firebreak bench <benchmark> [flags]

Benchmarks:
  ingest   send Prometheus remote_write 1.0 as fast as the receiver takes it and report
           acked samples/s, latency and, with --verify-sql, the end-to-end stored rate
  logs     send Loki push, OTLP/HTTP logs or syslog TCP as fast as the receiver takes it; --verify-sql for the stored rate
  nab      score the service's anomaly detector on the Numenta Anomaly Benchmark (docs/nab.md)
  predict  lead time of predictive alerts on generated trends and false alerts on series that never breach
  alert-latency  time from a remote_write with an anomalous point to the alert in Alertmanager
  loghub   log template mining accuracy (grouping, parsing, template F1) on Loghub-2k (docs/log-patterns.md)
  sentiment  accuracy and macro-F1 of the support sentiment model per data set and language (docs/support.md)

Run 'firebreak bench <benchmark> --help' for its flags.`

func cmdBench(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, benchUsage)
		return errors.New("bench: name a benchmark, e.g. firebreak bench ingest --url http://127.0.0.1:8480/api/v1/write")
	}
	switch args[0] {
	case "ingest":
		return cmdBenchIngest(ctx, args[1:])
	case "nab":
		return cmdBenchNAB(ctx, args[1:])
	case "logs":
		return cmdBenchLogs(ctx, args[1:])
	case "predict":
		return cmdBenchPredict(ctx, args[1:])
	case "alert-latency":
		return cmdBenchAlertLatency(ctx, args[1:])
	case "loghub":
		return cmdBenchLoghub(ctx, args[1:])
	case "sentiment":
		return cmdBenchSentiment(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Println(benchUsage)
		return nil
	default:
		return fmt.Errorf("bench: unknown benchmark %q (available: ingest, logs, nab, predict, alert-latency, loghub, sentiment)", args[0])
	}
}

// ingestBenchConfig is what `firebreak bench ingest` takes.
type ingestBenchConfig struct {
	url               string
	duration          time.Duration
	concurrency       int
	series            int
	samplesPerRequest int
	samplesPerSeries  int
	labels            int
	verifySQL         string
	verifyTimeout     time.Duration
	jsonOut           bool
}

func cmdBenchIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	var cfg ingestBenchConfig
	fs.StringVar(&cfg.url, "url", "", "remote_write endpoint to load, e.g. http://127.0.0.1:8480/api/v1/write (firebreak) or http://127.0.0.1:9090/api/v1/write (Prometheus with --web.enable-remote-write-receiver)")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to send; requests in flight at the end are completed and counted")
	fs.IntVar(&cfg.concurrency, "concurrency", 8, "parallel senders (like Prometheus' remote_write shards); each owns a fixed share of the series and sends them in timestamp order")
	fs.IntVar(&cfg.series, "series", 100_000, "distinct series, split evenly among the senders; each sender cycles through its share, one request per samples-per-request/samples-per-series series, timestamps advancing 1 s per cycle")
	fs.IntVar(&cfg.samplesPerRequest, "samples-per-request", 2000, "samples per request; Prometheus' max_samples_per_send default is 2000")
	fs.IntVar(&cfg.samplesPerSeries, "samples-per-series", 1, "samples of each series in one request (1 to 1000): Prometheus forwarding live data sends 1; more is a backfill or catch-up shape, where label work is shared by several samples")
	fs.IntVar(&cfg.labels, "labels", 8, "labels per series including __name__ (3 to 11), like node_exporter or Kubernetes app metrics")
	fs.StringVar(&cfg.verifySQL, "verify-sql", "", "firebreak base URL (e.g. http://127.0.0.1:8480): poll SELECT count() FROM samples_data until what was acked is stored, and report the end-to-end rate; empty skips")
	fs.DurationVar(&cfg.verifyTimeout, "verify-timeout", 5*time.Minute, "with --verify-sql: how long to wait after sending for the store to catch up before reporting samples as missing")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON object on stdout (progress still goes to stderr)")
	fs.Usage = usageFor(fs, "firebreak bench ingest: load a remote_write receiver with pre-encoded, realistic requests.\n"+
		"Bodies are built before the clock starts; every sample is distinct (timestamps advance one second per round), so\n"+
		"a deduplicating store keeps them all. 5xx and 429 are retried as Prometheus does; other 4xx fail the request.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	res, err := runIngestBench(ctx, cfg, os.Stderr)
	if res != nil {
		writeBenchResult(res, cfg.jsonOut)
	}
	return err
}

func (c *ingestBenchConfig) validate() error {
	if c.url == "" {
		return errors.New("bench ingest: --url is required, e.g. --url http://127.0.0.1:8480/api/v1/write")
	}
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bench ingest: --url %q is not an http(s) URL; give the full endpoint, e.g. http://127.0.0.1:8480/api/v1/write", c.url)
	}
	if c.duration <= 0 {
		return fmt.Errorf("bench ingest: --duration %s must be positive, e.g. 60s", c.duration)
	}
	if c.concurrency < 1 {
		return fmt.Errorf("bench ingest: --concurrency %d must be at least 1", c.concurrency)
	}
	if c.samplesPerRequest < 1 {
		return fmt.Errorf("bench ingest: --samples-per-request %d must be at least 1", c.samplesPerRequest)
	}
	if c.labels < 3 || c.labels > 3+len(benchExtraLabels) {
		return fmt.Errorf("bench ingest: --labels %d out of range: use 3 to %d", c.labels, 3+len(benchExtraLabels))
	}
	if c.samplesPerSeries < 1 || c.samplesPerSeries > benchRound || c.samplesPerRequest%c.samplesPerSeries != 0 {
		return fmt.Errorf("bench ingest: --samples-per-series %d must be 1 to %d and divide --samples-per-request %d", c.samplesPerSeries, benchRound, c.samplesPerRequest)
	}
	if perReq := c.samplesPerRequest / c.samplesPerSeries; c.series < c.concurrency*perReq {
		return fmt.Errorf("bench ingest: --series %d is less than --concurrency × series per request (%d): every sender needs series of its own (Prometheus shards the same way); raise --series or lower the others",
			c.series, c.concurrency*perReq)
	}
	if c.verifySQL != "" {
		if u, err := url.Parse(c.verifySQL); err != nil || u.Host == "" {
			return fmt.Errorf("bench ingest: --verify-sql %q: want firebreak's base URL, e.g. http://127.0.0.1:8480", c.verifySQL)
		}
		c.verifySQL = strings.TrimRight(c.verifySQL, "/")
	}
	return nil
}

// ingestResult is what one run measured.
type ingestResult struct {
	URL               string  `json:"url"`
	Concurrency       int     `json:"concurrency"`
	Series            int     `json:"series"`
	SamplesPerRequest int     `json:"samples_per_request"`
	SamplesPerSeries  int     `json:"samples_per_series"`
	Labels            int     `json:"labels"`
	PrepareSeconds    float64 `json:"prepare_seconds"`
	BodyBytesPerSamp  float64 `json:"body_bytes_per_sample"`
	SnappyBytesPerSmp float64 `json:"snappy_encode_bytes_per_sample"`

	sendFigures
	AckedSamples   int64   `json:"acked_samples"`
	AckedPerSecond float64 `json:"acked_samples_per_second"`
	FailedSamples  int64   `json:"failed_samples"`

	Verify *verifyResult `json:"verify,omitempty"`
}

// verifyResult is the end-to-end check of one run; "samples" reads "lines"
// for bench logs.
type verifyResult struct {
	BaselineRows     int64   `json:"baseline_rows"`
	StoredRows       int64   `json:"stored_rows"`
	DistinctRows     int64   `json:"distinct_rows"` // count() FINAL, -1 if it failed
	DistinctError    string  `json:"distinct_error,omitempty"`
	CaughtUp         bool    `json:"caught_up"`
	MissingSamples   int64   `json:"missing_samples"`
	E2ESeconds       float64 `json:"e2e_seconds"`
	E2EPerSecond     float64 `json:"e2e_stored_samples_per_second"`
	WriterLagSeconds float64 `json:"writer_lag_seconds"`
}

func (r *ingestResult) print(w io.Writer) {
	p := func(k, f string, a ...any) { fmt.Fprintf(w, "  %-20s %s\n", k, fmt.Sprintf(f, a...)) }
	fmt.Fprintf(w, "firebreak bench ingest → %s\n", r.URL)
	p("load", "%d senders, %d series, %d samples/request, %d sample(s) per series per request, %d labels/series", r.Concurrency, r.Series, r.SamplesPerRequest, r.SamplesPerSeries, r.Labels)
	p("bodies", "%.1f bytes/sample (snappy.Encode of the same request: %.1f), built in %.1f s before the clock", r.BodyBytesPerSamp, r.SnappyBytesPerSmp, r.PrepareSeconds)
	p("acked", "%s samples in %s requests over %.1f s", group(r.AckedSamples), group(r.AckedRequests), r.SendSeconds)
	p("acked rate", "%s samples/s", group(int64(r.AckedPerSecond)))
	p("request latency", "p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	p("errors", "%d requests failed (%s samples), %d attempts retried; responses %v", r.FailedRequests, group(r.FailedSamples), r.RetriedAttempts, r.StatusCounts)
	for _, e := range r.FirstErrors {
		p("", "%s", e)
	}
	p("sender", "%.1f s CPU user+sys = %.2f cores of this machine (shared with the receiver), peak RSS %.0f MiB", r.SenderCPUSecs, r.SenderCores, r.SenderMaxRSSMiB)
	if v := r.Verify; v != nil {
		p("stored", "%s rows in samples_data (%s distinct by series and time)", group(v.StoredRows), distinctText(v))
		if v.CaughtUp {
			p("end-to-end rate", "%s samples/s stored (%.1f s from first send to last stored)", group(int64(v.E2EPerSecond)), v.E2ESeconds)
			p("writer lag", "%.1f s after the last ack", v.WriterLagSeconds)
		} else {
			p("MISSING", "%s acked samples not stored after waiting (writer lag > --verify-timeout, or lost)", group(v.MissingSamples))
		}
	}
}

func distinctText(v *verifyResult) string {
	if v.DistinctRows < 0 {
		return "count FINAL failed: " + v.DistinctError
	}
	return group(v.DistinctRows)
}

// group renders 1234567 as 1,234,567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// benchRound is the timestamp step between a series' consecutive samples.
const benchRound = 1000 // ms

func runIngestBench(ctx context.Context, cfg ingestBenchConfig, progress io.Writer) (*ingestResult, error) {
	res := &ingestResult{URL: cfg.url, Concurrency: cfg.concurrency, Series: cfg.series,
		SamplesPerRequest: cfg.samplesPerRequest, SamplesPerSeries: cfg.samplesPerSeries, Labels: cfg.labels}

	prepStart := time.Now()
	// Timestamps start half an hour back and advance a second per round:
	// recent enough for TTLs and for Prometheus' head block (which refuses
	// samples more than an hour older than its newest), distinct per round.
	baseMs := time.Now().Add(-30 * time.Minute).Truncate(time.Second).UnixMilli()
	tmpls, err := buildTemplates(cfg, baseMs)
	if err != nil {
		return nil, err
	}
	var bodyBytes, snappyBytes, samples int
	for _, t := range tmpls {
		bodyBytes += len(t.body)
		snappyBytes += t.snappyLen
		samples += len(t.valOff)
	}
	res.BodyBytesPerSamp = float64(bodyBytes) / float64(samples)
	res.SnappyBytesPerSmp = float64(snappyBytes) / float64(samples)
	res.PrepareSeconds = time.Since(prepStart).Seconds()
	fmt.Fprintf(progress, "bench: %d request bodies (%d series, %.0f bytes/sample) ready in %.1f s; sending to %s for %s with %d senders\n",
		len(tmpls), cfg.series, res.BodyBytesPerSamp, res.PrepareSeconds, cfg.url, cfg.duration, cfg.concurrency)

	load := &loadRun{workers: cfg.concurrency, duration: cfg.duration, jobs: len(tmpls), unit: "samples", verb: "acked"}
	if cfg.verifySQL != "" {
		v := &verifier{base: cfg.verifySQL, client: &http.Client{Timeout: 60 * time.Second}, table: "samples_data", unit: "samples"}
		n, err := v.count(ctx, false)
		if err != nil {
			return nil, fmt.Errorf("bench ingest: --verify-sql %s: %w (is firebreak running there? the bench needs its read API)", cfg.verifySQL, err)
		}
		v.baseline = n
		load.verify = v
	}

	counts, transport := benchTransport(cfg.concurrency)
	defer transport.CloseIdleConnections()
	load.counts = counts
	sender := &workload.Sender{URL: cfg.url, Client: &http.Client{Transport: counts, Timeout: 60 * time.Second}, MaxAttempts: 10}

	// Probe once so a wrong URL fails in a second with a clear message,
	// not after a minute of errors. The probe is an empty request.
	if err := probe(ctx, sender); err != nil {
		return nil, err
	}
	load.send = func(ctx context.Context, _, job, round int) (int64, error) {
		t := tmpls[job]
		t.patch(round, baseMs+int64(round)*benchRound)
		return int64(len(t.valOff)), sender.SendEncoded(ctx, t.body)
	}

	out := load.run(ctx, progress)
	res.sendFigures = out.sendFigures
	res.AckedSamples, res.FailedSamples = out.acked, out.failed
	res.AckedPerSecond = float64(out.acked) / res.SendSeconds
	if ctx.Err() != nil {
		return res, fmt.Errorf("bench ingest: interrupted after %.1f s", res.SendSeconds)
	}
	if res.AckedSamples == 0 {
		return res, fmt.Errorf("bench ingest: the receiver acknowledged nothing (see the errors above); check that %s is a remote_write endpoint and that it is healthy", cfg.url)
	}
	if load.verify != nil {
		res.Verify, err = load.verifyStored(ctx, out, cfg.verifyTimeout, "ingest", cfg.verifySQL, progress)
	}
	return res, err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rusage is this process' CPU time so far (user + system), in seconds, and
// its peak resident memory in MiB.
func rusage() (cpuSecs, maxRSSMiB float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), float64(ru.Maxrss) / 1024 // Linux: KiB
}

func probe(ctx context.Context, s *workload.Sender) error {
	body := snappy.Encode(nil, nil) // an empty WriteRequest
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	one := *s
	one.MaxAttempts = 1
	if err := one.SendEncoded(pctx, body); err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("bench ingest: cannot reach %s: %w (is the receiver running? for Prometheus start it with --web.enable-remote-write-receiver)", s.URL, err)
		}
		return fmt.Errorf("bench ingest: %s refused an empty remote_write request: %w (is this a remote_write endpoint? firebreak's is /api/v1/write)", s.URL, err)
	}
	return nil
}

// statusCounter counts responses by status code; it wraps the transport so
// retries inside workload.Sender are visible.
type statusCounter struct {
	next      http.RoundTripper
	mu        sync.Mutex
	codes     map[int]int64
	netErrors int64
}

func (c *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	if err != nil {
		if r.Context().Err() == nil {
			c.netErrors++
		}
	} else {
		c.codes[resp.StatusCode]++
	}
	c.mu.Unlock()
	return resp, err
}

// retried counts attempts the sender retries: 5xx, 429 and network errors.
func (c *statusCounter) retried() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.netErrors
	for code, k := range c.codes {
		if code >= 500 || code == http.StatusTooManyRequests {
			n += k
		}
	}
	return n
}

func (c *statusCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for code, k := range c.codes {
		out[strconv.Itoa(code)] = k
	}
	if c.netErrors > 0 {
		out["network_error"] = c.netErrors
	}
	return out
}

// verifier asks firebreak's read API how many samples are stored.
type verifier struct {
	base     string
	client   *http.Client
	baseline int64
	table    string // what to count: samples_data or logs
	unit     string // for progress lines: samples or lines
}

func (v *verifier) count(ctx context.Context, final bool) (int64, error) {
	q := "SELECT count() FROM " + v.table
	if final {
		q += " FINAL"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+"/api/v1/sql?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var out struct {
		Rows [][]json.Number `json:"rows"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Rows) != 1 || len(out.Rows[0]) != 1 {
		return 0, fmt.Errorf("unexpected answer to %q: %.200s", q, raw)
	}
	return out.Rows[0][0].Int64()
}

// wait polls until acked samples are stored or timeout passes.
func (v *verifier) wait(ctx context.Context, acked int64, start, sendEnd time.Time, timeout time.Duration, progress io.Writer) (*verifyResult, error) {
	r := &verifyResult{BaselineRows: v.baseline, DistinctRows: -1}
	limit := time.Now().Add(timeout)
	lastPrint := time.Now()
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := v.count(qctx, false)
		cancel()
		now := time.Now()
		if err == nil {
			r.StoredRows = n - v.baseline
			if r.StoredRows >= acked {
				r.CaughtUp = true
				r.E2ESeconds = now.Sub(start).Seconds()
				r.E2EPerSecond = float64(r.StoredRows) / r.E2ESeconds
				r.WriterLagSeconds = now.Sub(sendEnd).Seconds()
				break
			}
		} else if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if now.After(limit) {
			break
		}
		if now.Sub(lastPrint) >= 5*time.Second {
			fmt.Fprintf(progress, "bench: stored %s of %s acked %s\n", group(r.StoredRows), group(acked), v.unit)
			lastPrint = now
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.MissingSamples = max(0, acked-r.StoredRows)
	// Distinct count: duplicates (a retried request Kafka had stored)
	// collapse; what remains must equal what was acked.
	qctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if n, err := v.count(qctx, true); err == nil {
		r.DistinctRows = n - v.baseline
	} else {
		r.DistinctError = err.Error()
	}
	return r, nil
}

// benchTemplate is one pre-encoded request: a snappy-compressed
// prompb.WriteRequest whose sample values and timestamps sit in literal runs
// at known offsets, so the next round rewrites 14 bytes a sample in place
// instead of encoding again.
type benchTemplate struct {
	body      []byte
	valOff    []int32 // offset of each sample's float64; its timestamp varint starts 9 bytes later
	seriesIdx []int32 // per sample: its series
	counter   []bool  // per sample: its series is a counter
	perSeries int     // samples of each series in the request
	snappyLen int     // size snappy.Encode gives for the same request, for comparison
}

// patch sets the samples of t to round's values and timestamps: a series'
// j-th sample is at ts + j·(round length / samples per series).
func (t *benchTemplate) patch(round int, ts int64) {
	step := int64(benchRound / t.perSeries)
	for k, off := range t.valOff {
		j := k % t.perSeries
		v := benchValue(int(t.seriesIdx[k]), round*t.perSeries+j, t.counter[k])
		binary.LittleEndian.PutUint64(t.body[off:], math.Float64bits(v))
		putVarint6(t.body[off+9:], ts+int64(j)*step)
	}
}

// benchValue is a plausible value: counters grow, gauges wobble.
func benchValue(series, round int, counter bool) float64 {
	base := float64(uint32(series)*2654435761%100000) / 10
	if counter {
		return base + float64(round*(1+series%17))
	}
	return base * (1 + 0.01*float64((round+series)%7))
}

// Timestamps are written as exactly 6-byte varints (35 ≤ bits < 42: years
// 1971 to 2109 in milliseconds), so patching never moves a byte.
const minTs6, maxTs6 = int64(1) << 35, int64(1)<<42 - 1

func putVarint6(b []byte, v int64) {
	u := uint64(v)
	for i := 0; i < 5; i++ {
		b[i] = byte(u) | 0x80
		u >>= 7
	}
	b[5] = byte(u)
}

// benchMetric is a metric family with the one label that tells its series
// apart on a host (eight values each).
type benchMetric struct {
	name, job, detail string
	values            [8]string
	counter           bool
}

var benchMetrics = []benchMetric{
	{"node_cpu_seconds_total", "node", "mode", [8]string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}, true},
	{"node_disk_read_bytes_total", "node", "device", [8]string{"nvme0n1", "nvme1n1", "sda", "sdb", "sdc", "sdd", "dm-0", "dm-1"}, true},
	{"node_disk_written_bytes_total", "node", "device", [8]string{"nvme0n1", "nvme1n1", "sda", "sdb", "sdc", "sdd", "dm-0", "dm-1"}, true},
	{"node_network_receive_bytes_total", "node", "device", [8]string{"eth0", "eth1", "bond0", "lo", "docker0", "cni0", "flannel.1", "veth1"}, true},
	{"node_network_transmit_bytes_total", "node", "device", [8]string{"eth0", "eth1", "bond0", "lo", "docker0", "cni0", "flannel.1", "veth1"}, true},
	{"node_filesystem_avail_bytes", "node", "mountpoint", [8]string{"/", "/boot", "/var", "/var/lib/docker", "/home", "/tmp", "/data", "/srv"}, false},
	{"node_memory_MemAvailable_bytes", "node", "numa_node", [8]string{"0", "1", "2", "3", "4", "5", "6", "7"}, false},
	{"http_requests_total", "api", "handler", [8]string{"/api/v1/orders", "/api/v1/cart", "/api/v1/users", "/api/v1/search", "/api/v1/payments", "/healthz", "/metrics", "/api/v1/items"}, true},
	{"http_request_duration_seconds_bucket", "api", "le", [8]string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"}, true},
	{"http_request_duration_seconds_count", "api", "method", [8]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT"}, true},
	{"process_resident_memory_bytes", "api", "container", [8]string{"app", "sidecar", "proxy", "init", "worker", "cron", "exporter", "agent"}, false},
	{"go_goroutines", "api", "container", [8]string{"app", "sidecar", "proxy", "init", "worker", "cron", "exporter", "agent"}, false},
}

// benchExtraLabels are added after __name__, instance and the metric's own
// label, in this order, to reach --labels.
var benchExtraLabels = []string{"job", "cluster", "env", "region", "namespace", "pod", "zone", "team"}

var (
	benchNamespaces = []string{"shop", "payments", "search", "identity", "logistics", "platform"}
	benchZones      = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}
)

// benchLabels returns series i's labels, sorted by name as Prometheus sends
// them. (metric, host, detail) is a bijection of i, so label sets are
// distinct.
func benchLabels(i, n int) ([]prompb.Label, bool) {
	m := benchMetrics[i%len(benchMetrics)]
	q := i / len(benchMetrics)
	host, d := q/8, q%8
	ns := benchNamespaces[host%len(benchNamespaces)]
	ls := []prompb.Label{
		{Name: "__name__", Value: m.name},
		{Name: "instance", Value: fmt.Sprintf("10.%d.%d.%d:9100", 16+host>>16&0x0f, host>>8&0xff, host&0xff)},
		{Name: m.detail, Value: m.values[d]},
	}
	for _, name := range benchExtraLabels[:n-3] {
		var v string
		switch name {
		case "job":
			v = m.job
		case "cluster":
			v = fmt.Sprintf("prod-eu-%d", host%4)
		case "env":
			v = "production"
		case "region":
			v = "eu-west-1"
		case "namespace":
			v = ns
		case "pod":
			v = fmt.Sprintf("%s-%08x-%05x", ns, uint32(host)*2654435761, host)
		case "zone":
			v = benchZones[host%len(benchZones)]
		case "team":
			v = "team-" + ns
		}
		ls = append(ls, prompb.Label{Name: name, Value: v})
	}
	slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls, m.counter
}

// buildTemplates encodes one request per group of samples-per-request series.
func buildTemplates(cfg ingestBenchConfig, baseMs int64) ([]*benchTemplate, error) {
	if baseMs < minTs6 || baseMs+int64(24*time.Hour/time.Millisecond) > maxTs6 {
		return nil, fmt.Errorf("bench ingest: the clock reads %s, outside what this benchmark's fixed-width timestamps cover", time.UnixMilli(baseMs))
	}
	var out []*benchTemplate
	perReq := cfg.samplesPerRequest / cfg.samplesPerSeries
	for first := 0; first < cfg.series; first += perReq {
		last := min(first+perReq, cfg.series)
		t, raw := encodeTemplate(first, last, cfg.labels, cfg.samplesPerSeries, baseMs)
		t.snappyLen = len(snappy.Encode(nil, raw))
		if first == 0 {
			if err := checkTemplate(t, raw, first, last, cfg.labels, baseMs); err != nil {
				return nil, fmt.Errorf("bench ingest: internal error, request encoding self-check failed: %w", err)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// encodeTemplate writes the raw protobuf of series [first, last), perSeries
// samples each, and its
// snappy block. Label pairs seen earlier in the request become snappy copies
// (most labels repeat across series); series headers, new label pairs and
// the samples are literals. The decoder accepts any such stream.
func encodeTemplate(first, last, nLabels, perSeries int, ts int64) (*benchTemplate, []byte) {
	t := &benchTemplate{perSeries: perSeries}
	var raw []byte
	type segment struct {
		start, end int
		label      bool // a whole Label field (0x0a len name value): may be copied
		sample     bool
	}
	var segs []segment
	var pairBuf, tsBuf []byte
	for i := first; i < last; i++ {
		ls, counter := benchLabels(i, nLabels)
		tsBuf = tsBuf[:0]
		var labelSegs []segment
		for _, l := range ls {
			pairBuf = pairBuf[:0]
			pairBuf = append(pairBuf, 0x0a)
			pairBuf = binary.AppendUvarint(pairBuf, uint64(len(l.Name)))
			pairBuf = append(pairBuf, l.Name...)
			pairBuf = append(pairBuf, 0x12)
			pairBuf = binary.AppendUvarint(pairBuf, uint64(len(l.Value)))
			pairBuf = append(pairBuf, l.Value...)
			s := len(tsBuf)
			tsBuf = append(tsBuf, 0x0a)
			tsBuf = binary.AppendUvarint(tsBuf, uint64(len(pairBuf)))
			tsBuf = append(tsBuf, pairBuf...)
			labelSegs = append(labelSegs, segment{start: s, end: len(tsBuf), label: true})
		}
		// Samples: 0x12 len=16 { 0x09 float64, 0x10 varint6 } each; patch
		// fills in values and timestamps.
		sampleAt := len(tsBuf)
		for range perSeries {
			tsBuf = append(tsBuf, 0x12, 16, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10)
			tsBuf = append(tsBuf, 0, 0, 0, 0, 0, 0)
		}
		// TimeSeries field header.
		hdrStart := len(raw)
		raw = append(raw, 0x0a)
		raw = binary.AppendUvarint(raw, uint64(len(tsBuf)))
		segs = append(segs, segment{start: hdrStart, end: len(raw)})
		base := len(raw)
		raw = append(raw, tsBuf...)
		for _, s := range labelSegs {
			segs = append(segs, segment{start: base + s.start, end: base + s.end, label: true})
		}
		for j := range perSeries {
			at := base + sampleAt + j*18
			segs = append(segs, segment{start: at, end: at + 18, sample: true})
			t.seriesIdx = append(t.seriesIdx, int32(i))
			t.counter = append(t.counter, counter)
		}
	}

	// Fill in round 0 so raw is a complete request (patch rewrites the same
	// bytes in the compressed body).
	{
		k := 0
		for _, sg := range segs {
			if sg.sample {
				j := k % perSeries
				binary.LittleEndian.PutUint64(raw[sg.start+3:], math.Float64bits(benchValue(int(t.seriesIdx[k]), j, t.counter[k])))
				putVarint6(raw[sg.start+12:], ts+int64(j)*int64(benchRound/perSeries))
				k++
			}
		}
	}

	// Snappy block: uvarint decoded length, then literals and copies.
	out := binary.AppendUvarint(nil, uint64(len(raw)))
	var lit []byte     // pending literal
	var litMarks []int // offsets in lit of sample values
	copySrc, copyLen := -1, 0
	pos := 0 // decoded position of the next segment
	flushLit := func() {
		for len(lit) > 0 {
			n := min(len(lit), 65536)
			switch {
			case n <= 60:
				out = append(out, byte(n-1)<<2)
			case n <= 256:
				out = append(out, 60<<2, byte(n-1))
			default:
				out = append(out, 61<<2, byte(n-1), byte((n-1)>>8))
			}
			at := len(out)
			out = append(out, lit[:n]...)
			rest := litMarks[:0]
			for _, m := range litMarks {
				if m < n {
					t.valOff = append(t.valOff, int32(at+m))
				} else {
					rest = append(rest, m-n)
				}
			}
			litMarks = rest
			lit = lit[n:]
		}
		lit = lit[:0]
	}
	emitCopy := func(dst, src, n int) {
		for n > 0 {
			k := min(n, 64)
			off := dst - src
			out = append(out, byte(k-1)<<2|2, byte(off), byte(off>>8))
			dst += k
			src += k
			n -= k
		}
	}
	dict := map[string]int{}
	pendingDst := -1 // decoded position where the pending copy run starts
	flushRun := func() {
		if copyLen > 0 {
			emitCopy(pendingDst, copySrc, copyLen)
		}
		copySrc, copyLen, pendingDst = -1, 0, -1
	}
	for _, s := range segs {
		b := raw[s.start:s.end]
		if s.label {
			if src, ok := dict[string(b)]; ok && pos-src <= 65535 && pos-src > 0 {
				dict[string(b)] = pos
				if copyLen > 0 && copySrc+copyLen == src && pendingDst+copyLen == pos && pos-copySrc <= 65535 {
					copyLen += len(b)
				} else {
					flushRun()
					flushLit()
					copySrc, copyLen, pendingDst = src, len(b), pos
				}
				pos += len(b)
				continue
			}
			dict[string(b)] = pos
		}
		flushRun()
		if s.sample {
			litMarks = append(litMarks, len(lit)+3)
		}
		lit = append(lit, b...)
		pos += len(b)
	}
	flushRun()
	flushLit()
	t.body = out
	return t, raw
}

// checkTemplate proves the hand-made encoding is what a receiver decodes:
// snappy yields raw, prompb yields the labels, values and timestamps, and a
// patch changes only values and timestamps.
func checkTemplate(t *benchTemplate, raw []byte, first, last, nLabels int, ts int64) error {
	for _, round := range []int{0, 7} {
		rts := ts + int64(round)*benchRound
		t.patch(round, rts)
		dec, err := snappy.Decode(nil, t.body)
		if err != nil {
			return fmt.Errorf("snappy: %w", err)
		}
		if round == 0 && string(dec) != string(raw) {
			return errors.New("snappy round trip differs from the raw request")
		}
		var req prompb.WriteRequest
		if err := req.Unmarshal(dec); err != nil {
			return fmt.Errorf("protobuf: %w", err)
		}
		if len(req.Timeseries) != last-first || len(t.valOff) != (last-first)*t.perSeries {
			return fmt.Errorf("%d series decoded, %d patch points, want %d series of %d samples", len(req.Timeseries), len(t.valOff), last-first, t.perSeries)
		}
		for k, s := range req.Timeseries {
			want, counter := benchLabels(first+k, nLabels)
			if !slices.EqualFunc(s.Labels, want, func(a, b prompb.Label) bool { return a.Name == b.Name && a.Value == b.Value }) {
				return fmt.Errorf("series %d: labels %v, want %v", first+k, s.Labels, want)
			}
			if len(s.Samples) != t.perSeries {
				return fmt.Errorf("series %d: %d samples, want %d", first+k, len(s.Samples), t.perSeries)
			}
			for j, smp := range s.Samples {
				wantTs := rts + int64(j)*int64(benchRound/t.perSeries)
				if smp.Timestamp != wantTs || smp.Value != benchValue(first+k, round*t.perSeries+j, counter) {
					return fmt.Errorf("series %d sample %d: %v, want timestamp %d", first+k, j, smp, wantTs)
				}
			}
		}
	}
	return nil
}

// writeBenchResult prints a finished run to stdout: indented JSON with
// --json, the human summary otherwise (progress went to stderr).
func writeBenchResult(res interface{ print(io.Writer) }, jsonOut bool) {
	if !jsonOut {
		res.print(os.Stdout)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
}
