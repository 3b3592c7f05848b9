package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// Seeded data: known values, so answers can be checked exactly.
const (
	metricRequests = "fbtest_requests"
	metricLatency  = "fbtest_latency_seconds"
	metricMany     = "fbtest_many"
	manySeries     = 105 // more than the plugin's 100-series cap
	seedEvery      = 15 * time.Second
	seedPoints     = 120 // 30 minutes

	// A latency series for the detector: enough points at a short interval
	// to pass its warm-up (about 130 points), with a little noise, then a
	// spike as its last point, which the detector reports as an anomaly
	// and the alerter as an alert (the spike is recent enough to page).
	metricSpiky  = "fbtest_spiky_seconds"
	spikyEvery   = 5 * time.Second
	spikyPoints  = 300
	spikyValue   = 3.2
	spikyService = "payments"
)

// seriesSpec is one seeded series; value(i) is its i-th point. Points are
// seedEvery apart, the first at the seed's start, unless every and points
// are set: then the last point is at the seed's end.
type seriesSpec struct {
	labels map[string]string // including __name__
	value  func(i int) float64
	every  time.Duration
	points int
}

func seedSpecs() []seriesSpec {
	specs := []seriesSpec{
		{labels: map[string]string{"__name__": metricRequests, "service": "checkout", "instance": "a"}, value: func(int) float64 { return 10 }},
		{labels: map[string]string{"__name__": metricRequests, "service": "checkout", "instance": "b"}, value: func(int) float64 { return 20 }},
		{labels: map[string]string{"__name__": metricRequests, "service": "cart", "instance": "a"}, value: func(i int) float64 { return float64(i) }},
		{labels: map[string]string{"__name__": metricLatency, "service": "checkout"}, value: func(int) float64 { return 0.25 }},
	}
	specs = append(specs, seriesSpec{
		labels: map[string]string{"__name__": metricSpiky, "service": spikyService, "instance": "p1"},
		value: func(i int) float64 {
			if i == spikyPoints-1 {
				return spikyValue
			}
			return 0.1 + 0.002*float64(i%7)
		},
		every: spikyEvery, points: spikyPoints,
	})
	for k := range manySeries {
		specs = append(specs, seriesSpec{labels: map[string]string{"__name__": metricMany, "idx": fmt.Sprintf("%03d", k)}, value: func(int) float64 { return 1 }})
	}
	return specs
}

// env is one firebreak process with seeded data, shared by the package's tests.
type env struct {
	root    string // repository root
	base    string // http://127.0.0.1:PORT
	seedEnd time.Time
	// rangeFrom/rangeTo cover every seeded point.
	rangeFrom, rangeTo time.Time
	// uid of the data source pointing at this firebreak; "" is "firebreak".
	// The SDK caches one instance per uid, so two firebreaks need two.
	uid string
	// pid of the firebreak process, whose CPU time benchmarks read.
	pid int
}

func (e *env) dataSourceUID() string {
	if e.uid == "" {
		return "firebreak"
	}
	return e.uid
}

var (
	envOnce   sync.Once
	shared    *env
	envErr    error
	envSkip   string
	cleanups  []func()
	cleanupMu sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

func atExit(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

// required reports whether missing tools must fail (CI) rather than skip.
func required() bool { return os.Getenv("FIREBREAK_REQUIRE_TOOLS") == "1" }

func missing(t testing.TB, msg string) {
	t.Helper()
	if required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// firebreak returns the shared running firebreak, starting it on first use.
func firebreak(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() { shared, envSkip, envErr = startEnv() })
	if envSkip != "" {
		missing(t, envSkip)
	}
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

// repoRoot finds the repository root: the directory above this module
// holding cmd/firebreak.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cmd", "firebreak", "main.go")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no cmd/firebreak above %s: run the tests inside the firebreak repository", dir)
		}
		dir = parent
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startEnv builds firebreak, runs it on free loopback ports and seeds it.
// It returns a skip reason when the embedded engine is not installed.
func startEnv() (*env, string, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, "", err
	}
	tmp, err := os.MkdirTemp("", "firebreak-plugin-it")
	if err != nil {
		return nil, "", err
	}
	atExit(func() { os.RemoveAll(tmp) })

	bin := filepath.Join(tmp, "firebreak")
	build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("building firebreak in %s: %v\n%s", root, err, out)
	}

	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(tmp, "firebreak.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "run", "--data-dir", filepath.Join(tmp, "data"), "--http-addr", addr,
		"--broker-listen", "127.0.0.1:0", "--partitions", "2", "--batch-wait", "100ms", "--log-level", "warn", "--otlp-grpc-addr", "", "--syslog-udp-addr", "", "--syslog-tcp-addr", "",
		// Only the seeded series: answers are checked exactly.
		"--self-metrics-interval", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so cleanup stops it and its children; and
	// killed with this test process should that die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	atExit(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return string(b)
	}

	e := &env{root: root, base: "http://" + addr, pid: cmd.Process.Pid}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(e.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			log := logTail()
			if strings.Contains(log, "chDB library not installed") {
				return nil, "embedded ClickHouse engine not installed: run `go run ./cmd/firebreak setup` at the repository root, or set CHDB_LIB_PATH", nil
			}
			return nil, "", fmt.Errorf("firebreak exited before it was ready:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("firebreak not healthy after 90 s:\n%s", logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := e.seed(); err != nil {
		return nil, "", fmt.Errorf("seeding: %v\n%s", err, logTail())
	}
	return e, "", nil
}

// seed sends every seeded series through remote_write and waits until the
// store holds all points.
func (e *env) seed() error {
	// Points start on a minute so that one-minute steps hold four each.
	start := time.Now().Truncate(time.Minute).Add(-seedEvery*seedPoints - 2*time.Minute)
	e.seedEnd = start.Add(seedEvery * (seedPoints - 1))
	e.rangeFrom, e.rangeTo = start.Add(-10*time.Minute), e.seedEnd.Add(10*time.Minute)
	specs := seedSpecs()
	var body []byte
	want := 0
	for _, s := range specs {
		var ts []byte
		names := make([]string, 0, len(s.labels))
		for n := range s.labels {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendString(l, n)
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendString(l, s.labels[n])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, l)
		}
		points, every, first := seedPoints, seedEvery, start
		if s.labels["__name__"] == metricMany {
			points = 1
		}
		if s.points > 0 {
			points, every = s.points, s.every
			first = e.seedEnd.Add(-every * time.Duration(points-1))
		}
		for i := range points {
			var smp []byte
			smp = protowire.AppendTag(smp, 1, protowire.Fixed64Type)
			smp = protowire.AppendFixed64(smp, math.Float64bits(s.value(i)))
			smp = protowire.AppendTag(smp, 2, protowire.VarintType)
			smp = protowire.AppendVarint(smp, uint64(first.Add(time.Duration(i)*every).UnixMilli()))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, smp)
			want++
		}
		body = protowire.AppendTag(body, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, ts)
	}
	req, err := http.NewRequest(http.MethodPost, e.base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("remote_write: HTTP %d: %s", resp.StatusCode, msg)
	}

	// Both tables must be complete: samples for the points, series for the labels.
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := e.count("SELECT count() FROM samples_data FINAL")
		if err != nil {
			return err
		}
		s, err := e.count("SELECT count() FROM series FINAL")
		if err != nil {
			return err
		}
		if n == want && s == len(specs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("store holds %d of %d points and %d of %d series after 60 s", n, want, s, len(specs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) count(sql string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/api/v1/sql?query="+url.QueryEscape(sql), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Rows  [][]json.Number `json:"rows"`
		Error string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Rows) != 1 {
		return 0, fmt.Errorf("%s: HTTP %d %s %v", sql, resp.StatusCode, r.Error, err)
	}
	n, err := r.Rows[0][0].Int64()
	return int(n), err
}

// settingsJSON is the data source's jsonData pointing at this firebreak.
func (e *env) settingsJSON() []byte {
	b, _ := json.Marshal(map[string]any{"url": e.base, "timeoutSeconds": 20})
	return b
}
