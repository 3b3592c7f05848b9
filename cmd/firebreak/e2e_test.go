package main

// End-to-end tests: the real firebreak binary as a subprocess, with the
// embedded broker and engine, driven over HTTP as users drive it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "firebreak-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "firebreak")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building firebreak: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running firebreak.
type proc struct {
	cmd     *exec.Cmd
	base    string // http://host:port
	broker  string
	dataDir string
	logPath string
	syslog  string        // TCP and UDP syslog address, when the test chose it
	done    chan struct{} // closed when the process has exited
	exitErr error
}

// start runs `firebreak run` on dataDir and waits for /healthz.
func start(t *testing.T, dataDir string, httpAddr, brokerAddr string, extra ...string) *proc {
	t.Helper()
	return startCommand(t, "run", dataDir, httpAddr, brokerAddr, extra...)
}

func startCommand(t *testing.T, command, dataDir string, httpAddr, brokerAddr string, extra ...string) *proc {
	t.Helper()
	testkit.ChdbLib(t)
	if httpAddr == "" {
		httpAddr = freeAddr(t)
	}
	if brokerAddr == "" {
		brokerAddr = freeAddr(t)
	}
	logPath := filepath.Join(t.TempDir(), "firebreak.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	syslogAddr := freeAddr(t) // TCP and UDP on the same port number
	args := append([]string{command, "--data-dir", dataDir, "--http-addr", httpAddr, "--broker-listen", brokerAddr,
		"--partitions", "4", "--batch-wait", "200ms", "--otlp-grpc-addr", freeAddr(t),
		"--syslog-udp-addr", syslogAddr, "--syslog-tcp-addr", syslogAddr,
		// Tests count the samples they sent; firebreak's own metrics would add
		// to them. A test that wants them passes the flag again (the last wins).
		"--self-metrics-interval", "0"}, extra...)
	cmd := exec.Command(binPath, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, base: "http://" + httpAddr, broker: brokerAddr, dataDir: dataDir, logPath: logPath, syslog: syslogAddr, done: make(chan struct{})}
	go func() { p.exitErr = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("firebreak log:\n%s", tail(string(b), 4000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("firebreak exited before ready: %v\n%s", p.exitErr, tail(string(b), 4000))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("firebreak not healthy after 60s\n%s", tail(string(b), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *proc) kill9(t *testing.T) {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// sqlResult is the /api/v1/sql answer.
type sqlResult struct {
	Columns []struct{ Name, Type string } `json:"columns"`
	Rows    [][]json.RawMessage           `json:"rows"`
	Error   string                        `json:"error"`
}

func (p *proc) sql(t *testing.T, q string) (int, sqlResult) {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/sql?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r sqlResult
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("sql answer not JSON: %v: %s", err, body)
	}
	return resp.StatusCode, r
}

// countAndSum polls until the store holds want points or the timeout passes.
func (p *proc) waitCount(t *testing.T, want int64, timeout time.Duration) (count int64, sum float64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, r := p.sql(t, "SELECT count() AS n, sum(value) AS s FROM samples")
		if code != 200 {
			t.Fatalf("count query: %d %s", code, r.Error)
		}
		json.Unmarshal(r.Rows[0][0], &count)
		json.Unmarshal(r.Rows[0][1], &sum)
		if count >= want || time.Now().After(deadline) {
			return count, sum
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// series builds n series of one metric.
func seriesRequest(first, n, points int, t0 int64) (*prompb.WriteRequest, float64) {
	req := &prompb.WriteRequest{}
	sum := 0.0
	for s := first; s < first+n; s++ {
		ts := prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "e2e_value"}, {Name: "series", Value: fmt.Sprint(s)}, {Name: "job", Value: "e2e"},
		}}
		for p := 0; p < points; p++ {
			v := float64(s*1000 + p)
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t0 + int64(p)*1000, Value: v})
			sum += v
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	return req, sum
}

func TestRemoteWrite200kExactlyOnce(t *testing.T) {
	remoteWrite200kExactlyOnce(t, start(t, t.TempDir(), "", ""))
}

// The same through a ClickHouse server (clickhouse-go/v2, native protocol)
// where CLICKHOUSE_ADDR names a modern one, e.g. docker-compose's.
func TestRemoteWrite200kExactlyOnceOnServer(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR not set: the server-path suite needs a ClickHouse server >= 24 (docker compose up clickhouse)")
	}
	user, pass := os.Getenv("CLICKHOUSE_USER"), os.Getenv("CLICKHOUSE_PASSWORD")
	if user == "" {
		user = "default"
	}
	db := fmt.Sprintf("firebreak_e2e_%d", time.Now().UnixNano())
	dsn := fmt.Sprintf("clickhouse://%s:%s@%s/%s", url.QueryEscape(user), url.QueryEscape(pass), addr, db)
	// The database must exist before the DSN can name it.
	setup := fmt.Sprintf("clickhouse://%s:%s@%s/default", url.QueryEscape(user), url.QueryEscape(pass), addr)
	if out, err := exec.Command("go", "run", "../../internal/testkit/chexec", setup, "CREATE DATABASE "+db).CombinedOutput(); err != nil {
		t.Fatalf("create database: %v\n%s", err, out)
	}
	remoteWrite200kExactlyOnce(t, start(t, t.TempDir(), "", "", "--clickhouse-dsn", dsn))
}

func remoteWrite200kExactlyOnce(t *testing.T, p *proc) {
	sender := workload.NewSender(p.base + "/api/v1/write")
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	want := 0.0
	// 1000 series x 200 points, 10 series (2000 samples) per request.
	for s := 0; s < 1000; s += 10 {
		req, sum := seriesRequest(s, 10, 200, t0)
		want += sum
		if err := sender.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	count, sum := p.waitCount(t, 200_000, 60*time.Second)
	if count != 200_000 || sum != want {
		t.Fatalf("store holds %d points summing to %v, want 200000 summing to %v", count, sum, want)
	}
	// The same points sent again (a sender retrying) change nothing.
	req, _ := seriesRequest(0, 10, 200, t0)
	if err := sender.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if count, _ := p.waitCount(t, 200_001, 3*time.Second); count != 200_000 {
		t.Fatalf("after a re-send the store holds %d points", count)
	}
}

func TestKillDashNineLosesAndDuplicatesNothing(t *testing.T) {
	dataDir := t.TempDir()
	httpAddr, brokerAddr := freeAddr(t), freeAddr(t)
	p := start(t, dataDir, httpAddr, brokerAddr)
	sender := workload.NewSender(p.base + "/api/v1/write")
	sender.MaxAttempts = 1000 // keep retrying while the process is down
	sender.Client.Timeout = 5 * time.Second

	const series, points, perReq = 500, 300, 1 // 150,000 points in 500 requests
	t0 := time.Now().Add(-2 * time.Hour).UnixMilli()
	sent := make(chan error, 1)
	var requests atomic.Int64
	go func() {
		for s := 0; s < series; s += perReq {
			req, _ := seriesRequest(s, perReq, points, t0)
			if err := sender.Send(context.Background(), req); err != nil {
				sent <- err
				return
			}
			requests.Add(1)
			time.Sleep(10 * time.Millisecond) // keep the stream going across the kill
		}
		sent <- nil
	}()
	// Kill once part of the data is stored, while requests are in flight.
	p.waitCount(t, 40_000, 60*time.Second)
	p.kill9(t)
	atKill := requests.Load()
	t.Logf("killed after %d of %d requests were acknowledged", atKill, series/perReq)
	if atKill >= series/perReq {
		t.Fatal("the sender finished before the kill: the test proves nothing")
	}
	p2 := start(t, dataDir, httpAddr, brokerAddr)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	count, _ := p2.waitCount(t, series*points, 90*time.Second)
	if count != series*points {
		t.Fatalf("after kill -9 and restart the store holds %d points, want exactly %d", count, series*points)
	}
}

func TestSIGTERMDrainsWithinTenSeconds(t *testing.T) {
	dataDir := t.TempDir()
	httpAddr, brokerAddr := freeAddr(t), freeAddr(t)
	p := start(t, dataDir, httpAddr, brokerAddr, "--batch-wait", "5s", "--batch-rows", "1000000")
	sender := workload.NewSender(p.base + "/api/v1/write")
	req, _ := seriesRequest(0, 100, 100, time.Now().Add(-time.Hour).UnixMilli())
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // read by the writer, batch still open (5 s)
	began := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v", p.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	t.Logf("SIGTERM to exit: %v", time.Since(began))
	p2 := start(t, dataDir, httpAddr, brokerAddr)
	if count, _ := p2.waitCount(t, 10_000, 30*time.Second); count != 10_000 {
		t.Fatalf("after drain and restart: %d points, want 10000", count)
	}
	// The drain committed: nothing was left to replay twice, and the
	// raw table (before FINAL) holds each point once.
	code, r := p2.sql(t, "SELECT count() FROM samples_data")
	if code != 200 || string(r.Rows[0][0]) != "10000" {
		t.Fatalf("raw rows after drain: %d %s %v", code, r.Error, r.Rows)
	}
}

func TestKcatListsEmbeddedBrokerTopics(t *testing.T) {
	kcat := testkit.Tool(t, "kcat", "kcat")
	p := start(t, t.TempDir(), "", "")
	out, err := exec.Command(kcat, "-b", p.broker, "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	for _, topic := range []string{"firebreak.metrics", "firebreak.deadletter"} {
		if !strings.Contains(string(out), `topic "`+topic+`"`) {
			t.Fatalf("kcat does not list %s:\n%s", topic, out)
		}
	}
	// And a non-Go client can read what firebreak wrote.
	sender := workload.NewSender(p.base + "/api/v1/write")
	req, _ := seriesRequest(0, 1, 3, time.Now().UnixMilli())
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(kcat, "-b", p.broker, "-C", "-t", "firebreak.metrics", "-e", "-f", "%t %p %o\n").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "firebreak.metrics") {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
}

func TestSQLEndpoint(t *testing.T) {
	p := start(t, t.TempDir(), "", "")
	sender := workload.NewSender(p.base + "/api/v1/write")
	// Recent (inside the samples TTL), on a whole hour so the buckets below are exact.
	start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	t0 := start.UnixMilli()
	req, _ := seriesRequest(0, 2, 120, t0)
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.waitCount(t, 240, 30*time.Second); n != 240 {
		t.Fatalf("stored %d samples, want 240", n)
	}

	code, r := p.sql(t, "SELECT series_id, time, value, labels, metric_name FROM samples ORDER BY time, value LIMIT 1")
	if code != 200 {
		t.Fatalf("%d %s", code, r.Error)
	}
	if r.Columns[1].Name != "time" || !strings.HasPrefix(r.Columns[1].Type, "DateTime64(3") {
		t.Fatalf("columns %+v", r.Columns)
	}
	if want := start.Format(time.RFC3339); string(r.Rows[0][1]) != `"`+want+`"` && string(r.Rows[0][1]) != `"`+start.Format("2006-01-02T15:04:05.000Z")+`"` {
		t.Fatalf("time not RFC 3339: %s", r.Rows[0][1])
	}
	if r.Rows[0][0][0] == '"' {
		t.Fatalf("64-bit integer quoted: %s", r.Rows[0][0])
	}
	if !strings.Contains(string(r.Rows[0][3]), `"job":"e2e"`) {
		t.Fatalf("labels: %s", r.Rows[0][3])
	}

	for _, q := range []string{
		"INSERT INTO samples_data VALUES ('x', 1, now64(3), 1)",
		"DROP TABLE samples_data",
		"SELECT 1 SETTINGS readonly = 0",
		"SELEKT nonsense",
		"SELECT number FROM system.numbers LIMIT 1000000",
	} {
		code, r := p.sql(t, q)
		if code != 400 || r.Error == "" {
			t.Errorf("%q: status %d error %q, want 400 with ClickHouse's message", q, code, r.Error)
		}
	}
	// POST takes the query as the body.
	resp, err := http.Post(p.base+"/api/v1/sql", "text/plain", strings.NewReader("SELECT 40 + 2 AS answer"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `[[42]]`) {
		t.Fatalf("POST sql: %d %s", resp.StatusCode, body)
	}

	// Series by matcher, then a range query of one of them at a step.
	resp, err = http.Get(p.base + "/api/v1/series?match[]=" + url.QueryEscape(`{__name__="e2e_value",series=~"0|1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var series struct {
		Series []struct {
			SeriesID json.Number       `json:"series_id"`
			Labels   map[string]string `json:"labels"`
		} `json:"series"`
	}
	json.NewDecoder(resp.Body).Decode(&series)
	resp.Body.Close()
	if len(series.Series) != 2 {
		t.Fatalf("series: %+v", series)
	}
	q := url.Values{"match": {`{__name__="e2e_value",series="1"}`}, "start": {start.Format(time.RFC3339)},
		"end": {start.Add(2 * time.Minute).Format(time.RFC3339)}, "step": {"60s"}, "agg": {"count"}}
	resp, err = http.Get(p.base + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var rng struct {
		Points [][2]float64 `json:"points"`
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &rng); err != nil || resp.StatusCode != 200 {
		t.Fatalf("query_range %d: %s", resp.StatusCode, body)
	}
	if len(rng.Points) != 2 || rng.Points[0][1] != 60 || rng.Points[1][1] != 60 {
		t.Fatalf("query_range points %v, want two 60-point buckets", rng.Points)
	}
}

// logContains reports whether the process log has s (for diagnostics).
func logContains(path, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}
