package syslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

type testServer struct {
	*Server
	udp, tcp string // host:port
	metrics  *ingest.Metrics
	reg      *prometheus.Registry
	stopped  chan error
}

// start runs a server on loopback UDP and TCP ports publishing to sink.
func start(t testing.TB, sink ingest.Sink, cfg Config) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	m := ingest.NewMetrics(reg)
	s := NewServer(cfg, &ingest.Publisher{Sink: sink, Partitions: partitions}, m, nil)
	ua, err := s.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ta, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, udp: ua.String(), tcp: ta.String(), metrics: m, reg: reg, stopped: make(chan error, 1)}
	go func() { ts.stopped <- s.Serve(context.Background()) }()
	t.Cleanup(func() { s.Close() })
	return ts
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// logger runs Debian's logger(1) with args, against the server.
func logger(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("logger %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestLoggerLinesReachKafka(t *testing.T) {
	bin := testkit.Tool(t, "logger", "bsdutils")
	brokers := startBroker(t)
	p := bus.NewProducer(brokers, "test")
	defer p.Close()
	s := start(t, p, Config{})
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")

	udp := []string{"-n", "127.0.0.1", "-P", port(s.udp), "-d"}
	tcp := []string{"-n", "127.0.0.1", "-P", port(s.tcp), "-T"}
	logger(t, bin, append(udp, "--rfc5424", "-t", "checkout", "-p", "local3.err", "--id=4242", "--msgid", "PAY",
		"--sd-id", "order@32473", "--sd-param", `id="42"`, "--sd-param", `amount="9.90"`, "udp 5424: card declined")...)
	logger(t, bin, append(udp, "--rfc3164", "-t", "cron", "-p", "cron.warning", "udp 3164: job late")...)
	logger(t, bin, append(tcp, "--rfc5424", "-t", "api", "-p", "daemon.info", "tcp 5424 newline: served")...)
	logger(t, bin, append(tcp, "--rfc3164", "--octet-count", "-t", "sshd", "-p", "auth.crit", "tcp 3164 octet: oops")...)
	logger(t, bin, append(tcp, "--rfc5424", "--octet-count", "-t", "db", "-p", "user.debug", "tcp 5424 octet: vacuum")...)

	waitFor(t, "five lines accepted", 10*time.Second, func() bool {
		return testutil.ToFloat64(s.metrics.Accepted.WithLabelValues(source, "logs")) == 5
	})
	got := byBody(readLogs(t, brokers, 5))

	l := got["udp 5424: card declined"]
	if l.Service != "checkout" || l.Labels["app"] != "checkout" || l.Labels["host"] != host || l.Labels["facility"] != "local3" ||
		l.SevNum != 17 || l.SevText != "err" || l.Attrs["order@32473.id"] != "42" || l.Attrs["order@32473.amount"] != "9.90" ||
		l.Attrs[AttrProcID] != "4242" || l.Attrs[AttrMsgID] != "PAY" || l.Attrs["timeQuality.tzKnown"] == "" {
		t.Errorf("5424 over UDP: %+v", l)
	}
	if d := time.Since(time.Unix(0, l.TimeNs)); d < 0 || d > time.Minute {
		t.Errorf("5424 timestamp %v is not the sending time", time.Unix(0, l.TimeNs))
	}
	l = got["udp 3164: job late"]
	if l.Service != "cron" || l.Labels["facility"] != "cron" || l.Labels["host"] != host || l.SevNum != 13 || l.SevText != "warning" {
		t.Errorf("3164 over UDP: %+v", l)
	}
	if d := time.Since(time.Unix(0, l.TimeNs)); d < -time.Minute || d > time.Minute {
		t.Errorf("3164 timestamp (no year, local zone) %v is not the sending time", time.Unix(0, l.TimeNs))
	}
	for body, want := range map[string]struct {
		service, facility string
		sev               uint8
	}{
		"tcp 5424 newline: served": {"api", "daemon", 9},
		"tcp 3164 octet: oops":     {"sshd", "auth", 19},
		"tcp 5424 octet: vacuum":   {"db", "user", 5},
	} {
		l := got[body]
		if l.Service != want.service || l.Labels["facility"] != want.facility || l.SevNum != want.sev {
			t.Errorf("%s: %+v", body, l)
		}
	}
}

// Several connections at once, each with its own framing, one of them
// mixing both: every line arrives, in its connection's order per stream.
func TestConcurrentConnectionsAndFramings(t *testing.T) {
	sink := &countingSink{}
	s := start(t, sink, Config{})
	const perConn = 2000
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			conn, err := net.Dial("tcp", s.tcp)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			var b strings.Builder
			for i := range perConn {
				msg := fmt.Sprintf("<14>1 2026-11-02T10:00:00.%06dZ host%d app%d - - - conn %d line %d", i, c, c, c, i)
				octet := c%3 == 0 || (c%3 == 2 && i%2 == 0) // 0: octet, 1: newline, 2: both
				if octet {
					fmt.Fprintf(&b, "%d %s", len(msg), msg)
				} else {
					b.WriteString(msg + "\n")
				}
			}
			if _, err := conn.Write([]byte(b.String())); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, "all lines", 10*time.Second, func() bool { return sink.count() == 6*perConn })
	seen := map[string]bool{}
	for _, l := range sink.snapshot() {
		if l.Attrs[AttrParseError] != "" {
			t.Fatalf("line not parsed: %q %v", l.Body, l.Attrs)
		}
		seen[l.Body] = true
	}
	if len(seen) != 6*perConn {
		t.Fatalf("%d distinct lines, want %d", len(seen), 6*perConn)
	}
}

func TestBadInputIsKeptAndCounted(t *testing.T) {
	sink := &countingSink{}
	s := start(t, sink, Config{MaxMessageBytes: 100, MaxConnections: 2})

	conn, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "just some text, no PRI\n")
	fmt.Fprint(conn, "<13>hello from a minimal sender\n")
	fmt.Fprint(conn, strings.Repeat("x", 150)+"\n")
	fmt.Fprint(conn, "<13>1 2026-11-02T10:00:00Z h ok - - - after the long one\n")
	conn.Close()
	u, err := net.Dial("udp", s.udp)
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("<999>not a priority"))
	u.Write([]byte("<13>1 2026-11-02T10:00:00Z h ok - - - " + strings.Repeat("y", 200)))
	u.Close()

	waitFor(t, "lines", 5*time.Second, func() bool { return sink.count() == 4 })
	got := byBody(sink.snapshot())
	raw := got["just some text, no PRI"]
	if raw.Service != UnknownService || raw.SevNum != 0 || raw.Attrs[AttrParseError] == "" || raw.Attrs[AttrPeer] != "127.0.0.1" {
		t.Errorf("unparsable line must be kept raw with the reason: %+v", raw)
	}
	if l := got["<13>hello from a minimal sender"]; l.SevNum != 10 || l.Labels["facility"] != "user" || l.Attrs[AttrParseError] == "" {
		t.Errorf("PRI of a partial message gives severity and facility: %+v", l)
	}
	if _, ok := got["<999>not a priority"]; !ok {
		t.Error("UDP garbage must be kept")
	}
	if l := got["after the long one"]; l.Service != "ok" {
		t.Errorf("the connection must go on after a refused message: %+v", got)
	}
	waitFor(t, "counters", 2*time.Second, func() bool {
		return testutil.ToFloat64(s.metrics.Accepted.WithLabelValues(source, "unparsed")) == 3 &&
			testutil.ToFloat64(s.metrics.Accepted.WithLabelValues(source, "logs")) == 1 &&
			testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(source, "message_too_long")) == 2
	})

	// Connection limit: the third concurrent connection is closed.
	var open []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open = append(open, c)
		fmt.Fprint(c, "<13>1 - h a - - - keepalive\n") // makes sure it was accepted
	}
	waitFor(t, "two connections open", 2*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 2
	})
	c3, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	c3.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c3.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection was not closed")
	}
	if testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(source, "too_many_connections")) != 1 {
		t.Fatal("refused connection not counted")
	}
}

// While Kafka does not acknowledge, TCP lines are neither dropped nor
// acknowledged: the server stops reading, the sender's writes block; when
// Kafka is back everything arrives. UDP lines in the same outage are
// dropped and counted.
func TestTCPBackpressureUDPDrops(t *testing.T) {
	sink := &countingSink{}
	gate := &gateSink{next: sink}
	gate.set(true, nil)
	s := start(t, gate, Config{BatchLines: 256})

	conn, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	line := "<14>1 2026-11-02T10:00:00Z h app - - - " + strings.Repeat("p", 200) + " %d\n"
	sent := 0
	blocked := false
	for sent < 200_000 {
		conn.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := fmt.Fprintf(conn, line, sent); err != nil {
			blocked = true
			break
		}
		sent++
	}
	if !blocked {
		t.Fatalf("sent %d lines while Kafka was down and the writes never blocked", sent)
	}
	t.Logf("writes blocked after %d lines while Kafka was down", sent)
	if sink.count() != 0 || testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(source, "kafka_unavailable")) != 0 {
		t.Fatal("TCP lines dropped or published during the outage")
	}

	u, _ := net.Dial("udp", s.udp)
	u.Write([]byte("<14>1 - h app - - - lost over udp"))
	u.Close()
	waitFor(t, "UDP drop counted", 5*time.Second, func() bool {
		return testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(source, "kafka_unavailable")) == 1
	})

	gate.set(false, nil)
	// The partially written line is finished, then the connection closed.
	conn.SetWriteDeadline(time.Time{})
	fmt.Fprintf(conn, "\n")
	conn.Close()
	waitFor(t, "every TCP line after recovery", 20*time.Second, func() bool { return sink.count() >= sent })
	time.Sleep(50 * time.Millisecond)
	if n := sink.count(); n != sent && n != sent+1 { // +1: the line cut by the write deadline
		t.Fatalf("%d lines arrived, %d were sent", n, sent)
	}
}

func TestUDPKernelDropsCounted(t *testing.T) {
	sink := &countingSink{}
	gate := &gateSink{next: sink}
	release := make(chan struct{})
	gate.set(false, release) // Kafka hangs: the pipeline fills, the reader stops
	s := start(t, gate, Config{UDPReadBufferBytes: 4096, BatchLines: 64, Publishers: 1})
	u, err := net.Dial("udp", s.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	msg := []byte("<14>1 - h app - - - " + strings.Repeat("d", 500))
	for range 5000 {
		u.Write(msg)
	}
	close(release)
	// Every datagram sent either arrived or is counted as dropped by the
	// kernel, read back from the socket's own count.
	// (Loopback can also drop in the device backlog before the socket, which
	// no socket counter sees: allow 1% for that on a busy machine.)
	accounted := func() int { return sink.count() + int(testutil.ToFloat64(s.kernelDrops)) }
	last, stable := -1, 0
	waitFor(t, "arrived + dropped to settle", 10*time.Second, func() bool {
		n := accounted()
		if n == last {
			stable++
		} else {
			last, stable = n, 0
		}
		return n == 5000 || stable >= 60
	})
	if n := accounted(); n < 4950 || n > 5000 {
		t.Fatalf("arrived %d + counted drops %v = %d, sent 5000", sink.count(), testutil.ToFloat64(s.kernelDrops), n)
	}
	if testutil.ToFloat64(s.kernelDrops) == 0 {
		t.Fatal("no drops counted with a 4 KiB buffer and a stalled reader")
	}
	n, err := testutil.GatherAndCount(s.reg, KernelDropsMetric)
	if err != nil || n != 1 {
		t.Fatalf("%s not registered: %v", KernelDropsMetric, err)
	}
	t.Logf("sent 5000 datagrams: kernel dropped %v, %d arrived", testutil.ToFloat64(s.kernelDrops), sink.count())
}

// Close publishes what was read before returning.
func TestShutdownPublishesWhatWasRead(t *testing.T) {
	sink := &countingSink{}
	s := start(t, sink, Config{BatchWait: time.Hour, BatchLines: 1 << 20}) // only shutdown flushes
	conn, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 100 {
		fmt.Fprintf(conn, "<14>1 - h app - - - line %d\n", i)
	}
	time.Sleep(200 * time.Millisecond)
	if sink.count() != 0 {
		t.Fatal("published before the batch was full")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if sink.count() != 100 {
		t.Fatalf("%d of 100 lines published at shutdown", sink.count())
	}
	select {
	case <-s.stopped:
	case <-time.After(time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestSeverityAndYear(t *testing.T) {
	for i := 1; i < 8; i++ {
		if severities[i] >= severities[i-1] {
			t.Fatalf("severity map not monotone at %d", i)
		}
	}
	p := newParser(time.UTC)
	jan1 := time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC)
	for _, c := range []struct {
		frame string
		now   time.Time
		want  time.Time
	}{
		{"<13>Dec 31 23:59:58 h app: late", jan1, time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)},
		{"<13>Jan  1 00:04:59 h app: now", jan1, time.Date(2027, 1, 1, 0, 4, 59, 0, time.UTC)},
		{"<13>Jan  3 00:00:00 h app: clock ahead", jan1, time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC)},
		{"<13>2025-06-01T10:00:00.5+02:00 h app: rfc3339 in 3164", jan1, time.Date(2025, 6, 1, 8, 0, 0, 5e8, time.UTC)},
		{"<13>2025-06-01T10:00:00.123456Z h app: rsyslog forward format", jan1, time.Date(2025, 6, 1, 10, 0, 0, 123456e3, time.UTC)},
		{"<13>2025-06-01T10:00:00Z h app: whole seconds", jan1, time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)},
		{"<13>1 - h app - - - no time", jan1, jan1},
	} {
		got := p.parse([]byte(c.frame), c.now, func() string { return "" }, nil)
		if len(got) != 1 || got[0].unparsed || got[0].entry.TimeNs != c.want.UnixNano() {
			t.Errorf("%s: got %v (%+v), want %v", c.frame, time.Unix(0, got[0].entry.TimeNs).UTC(), got[0], c.want)
		}
	}
	ny := time.FixedZone("EST", -5*3600)
	got := newParser(ny).parse([]byte("<13>Nov  2 10:00:00 h app: zoned"), time.Date(2026, 11, 2, 15, 1, 0, 0, time.UTC), nil, nil)
	if want := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC); got[0].entry.TimeNs != want.UnixNano() {
		t.Errorf("3164 in the configured zone: %v, want %v", time.Unix(0, got[0].entry.TimeNs).UTC(), want)
	}
}

func TestListenAfterServeRefused(t *testing.T) {
	s := start(t, &countingSink{}, Config{})
	waitFor(t, "serving", time.Second, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.serving })
	if _, err := s.ListenTCP("127.0.0.1:0"); err == nil {
		t.Fatal("ListenTCP after Serve accepted")
	}
}

func TestUDPOverIPv6AndTCPOverTLS(t *testing.T) {
	// httptest's server carries a ready self-signed certificate and a
	// client config that trusts it.
	hs := httptest.NewUnstartedServer(nil)
	hs.StartTLS()
	defer hs.Close()
	serverTLS := hs.TLS.Clone()
	clientTLS := hs.Client().Transport.(*http.Transport).TLSClientConfig

	sink := &countingSink{}
	m := ingest.NewMetrics(prometheus.NewRegistry())
	s := NewServer(Config{TLS: serverTLS}, &ingest.Publisher{Sink: sink, Partitions: partitions}, m, nil)
	ta, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	ua, err := s.ListenUDP("[::1]:0")
	if err != nil {
		t.Logf("no IPv6 loopback here, UDP over IPv6 not tried: %v", err)
		want = 0
	}
	go s.Serve(context.Background())
	defer s.Close()

	c, err := tls.Dial("tcp", ta.String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "<13>1 - h tlsapp - - - over tls\n")
	c.Close()
	if ua != nil {
		u, err := net.Dial("udp", ua.String())
		if err != nil {
			t.Fatal(err)
		}
		u.Write([]byte("<13>1 - h v6app - - - over ipv6"))
		u.Close()
	}
	waitFor(t, "lines", 5*time.Second, func() bool { return sink.count() == 1+want })
	got := byBody(sink.snapshot())
	if got["over tls"].Service != "tlsapp" || (want == 1 && got["over ipv6"].Service != "v6app") {
		t.Fatalf("%+v", got)
	}
}

// With Kafka down, shutdown still ends within DrainTimeout, and the lines
// it could not publish are counted, not silently lost.
func TestShutdownWithKafkaDownIsBounded(t *testing.T) {
	gate := &gateSink{next: &countingSink{}}
	gate.set(true, nil)
	s := start(t, gate, Config{DrainTimeout: 300 * time.Millisecond, BatchLines: 10})
	conn, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 50 {
		fmt.Fprintf(conn, "<14>1 - h app - - - line %d\n", i)
	}
	waitFor(t, "publishing attempts", 2*time.Second, func() bool {
		gate.mu.Lock()
		defer gate.mu.Unlock()
		return gate.calls > 0
	})
	begin := time.Now()
	s.Close()
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("shutdown took %v with a 300ms drain timeout", d)
	}
	if n := testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(source, "shutdown")); n != 50 {
		t.Fatalf("%v lines counted as refused at shutdown, want 50", n)
	}
}
