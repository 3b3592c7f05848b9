package syslog

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

var (
	bench5424 = []byte(`<165>1 2026-11-02T10:00:00.123456Z web-7 checkout 4242 ORDER [req@32473 id="a1b2c3" path="/api/orders"] order 1234 placed by customer 998, total 42.50 EUR, 3 items`)
	bench3164 = []byte(`<38>Nov  2 10:00:00 web-7 sshd[4242]: Accepted publickey for deploy from 10.0.0.7 port 51234 ssh2: ED25519 SHA256:abc`)
)

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"rfc5424", bench5424}, {"rfc3164", bench3164}} {
		b.Run(c.name, func(b *testing.B) {
			p := newParser(time.UTC)
			now := time.Now()
			peer := func() string { return "" }
			var out []line
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				out = p.parse(c.msg, now, peer, out[:0])
				if out[0].unparsed {
					b.Fatal(out[0].entry.Attributes)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			cpu.report(b, float64(b.N))
		})
	}
}

// block builds n newline-framed RFC 5424 lines from 10 hosts and apps.
func block(n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, "<165>1 2026-11-02T10:00:%02d.%06dZ web-%d app-%d %d - [req@32473 id=\"%d\"] request %d served in %d ms\n",
			i%60, i%1_000_000, i%10, i%10, 4000+i%7, i, i, i%97)
	}
	return buf.Bytes()
}

// tcpThroughput sends b.N blocks over conns TCP connections and waits until
// every line was acknowledged by the sink: lines/s end to end through
// framing, parsing, batching, keying and PublishLogs.
func tcpThroughput(b *testing.B, sink ingest.Sink, conns int) {
	const perBlock = 10_000
	s := start(b, sink, Config{})
	data := block(perBlock)
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", s.tcp)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	accepted := func() float64 { return testutil.ToFloat64(s.metrics.Accepted.WithLabelValues(source, "logs")) }
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := startCPU()
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	for _, c := range cs {
		wg.Go(func() {
			for range work {
				if _, err := c.Write(data); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := float64(b.N * perBlock)
	deadline := time.Now().Add(time.Minute)
	for accepted() < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %v of %v lines accepted", accepted(), want)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(want/b.Elapsed().Seconds(), "lines/s")
	cpu.report(b, want)
}

func BenchmarkTCP(b *testing.B) {
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) { tcpThroughput(b, acceptSink{}, conns) })
	}
}

// BenchmarkTCPToBroker is the whole path: syslog over TCP to a real
// embedded broker, acks=all.
func BenchmarkTCPToBroker(b *testing.B) {
	brokers := startBroker(b)
	p := bus.NewProducer(brokers, "bench")
	defer p.Close()
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) { tcpThroughput(b, p, conns) })
	}
}
