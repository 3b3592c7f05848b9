// Package syslog receives syslog over UDP and TCP, RFC 5424 and RFC 3164
// (detected per message by github.com/leodido/go-syslog/v4), with
// octet-counting or newline framing on TCP (detected per connection, see
// framing.go), and publishes the messages to the logs topic through
// ingest.Publisher, batched for throughput.
//
// A message becomes a log entry: service = APP-NAME (else HOSTNAME, else
// unknown_service); stream labels host, app, facility; severity mapped to
// OpenTelemetry numbers (parse.go); structured data and PROCID/MSGID as
// attributes; MSG as the body; the message's timestamp (arrival time when it
// has none; RFC 3164's missing year and zone as in parse.go). A message
// neither grammar accepts is stored whole as the body of an entry of
// unknown_service with attribute syslog.parse_error, and counted as
// accepted kind "unparsed" so it shows on /metrics; it is never dropped.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

const source = "syslog"

// KernelDropsMetric counts datagrams the kernel dropped on the UDP sockets.
const KernelDropsMetric = "firebreak_collector_syslog_udp_kernel_drops_total"

// Config tunes the server. Zero values take the defaults.
type Config struct {
	// MaxMessageBytes refuses longer messages (counted as refused, reason
	// message_too_long; the connection goes on). Default 64 KiB.
	MaxMessageBytes int
	// BatchLines and BatchWait bound a batch: it is published when it
	// holds BatchLines lines or BatchWait after its first line, whichever
	// comes first. Defaults 4096 lines, 5 ms.
	BatchLines int
	BatchWait  time.Duration
	// Publishers is how many batches per transport may wait for Kafka at
	// once. Default 2.
	Publishers int
	// MaxConnections bounds concurrent TCP connections; beyond it new ones
	// are closed (refused, reason too_many_connections). Default 1024.
	MaxConnections int
	// UDPReadBufferBytes is the receive buffer asked for on UDP sockets
	// (the kernel caps it at net.core.rmem_max). A larger buffer rides out
	// bursts; what still overflows is counted on
	// firebreak_collector_syslog_udp_kernel_drops_total. Default 8 MiB.
	UDPReadBufferBytes int
	// Location is the time zone of RFC 3164 timestamps, which carry none.
	// Default time.Local.
	Location *time.Location
	// TLS, when set, serves TCP as syslog over TLS (RFC 5425).
	TLS *tls.Config
	// DrainTimeout bounds how long shutdown waits for Kafka to take what
	// was already read. Default 5 s.
	DrainTimeout time.Duration
	// Registerer, when set, gets the UDP kernel drop counter.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.BatchLines <= 0 {
		c.BatchLines = 4096
	}
	if c.BatchWait <= 0 {
		c.BatchWait = 5 * time.Millisecond
	}
	if c.Publishers <= 0 {
		c.Publishers = 2
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.UDPReadBufferBytes <= 0 {
		c.UDPReadBufferBytes = 8 << 20
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	return c
}

// Server receives syslog on the sockets opened with ListenUDP and ListenTCP
// once Serve runs.
type Server struct {
	cfg         Config
	pub         *ingest.Publisher
	metrics     *ingest.Metrics
	log         *slog.Logger
	kernelDrops *dropCollector

	mu      sync.Mutex
	serving bool
	closed  bool
	udp     []udpConn
	tcp     []net.Listener
	conns   map[net.Conn]struct{}
	stop    context.CancelFunc
	done    chan struct{}
}

// NewServer builds a server; open sockets with ListenUDP and ListenTCP,
// then run Serve. pub publishes to the logs topic; m counts accepted and
// refused lines under source "syslog".
func NewServer(cfg Config, pub *ingest.Publisher, m *ingest.Metrics, log *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	drops := newDropCollector()
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(drops); err != nil {
			var are prometheus.AlreadyRegisteredError
			if existing, ok := are.ExistingCollector.(*dropCollector); errors.As(err, &are) && ok {
				drops = existing // several servers on one registry: one sum
			} else {
				log.Error("registering the syslog UDP drop counter", "err", err)
			}
		}
	}
	return &Server{cfg: cfg, pub: pub, metrics: m, log: log, kernelDrops: drops, conns: map[net.Conn]struct{}{}}
}

// udpConn is a UDP socket with its drop count.
type udpConn struct {
	*net.UDPConn
	drops *udpSocket
}

// ListenUDP opens a UDP socket (e.g. ":514" or "127.0.0.1:0") and returns
// its bound address. Call before Serve.
func (s *Server) ListenUDP(addr string) (net.Addr, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslog UDP address %q: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("syslog: listen on UDP %s: %w", addr, err)
	}
	if err := c.SetReadBuffer(s.cfg.UDPReadBufferBytes); err != nil {
		s.log.Warn("syslog: could not size the UDP receive buffer", "addr", addr, "err", err)
	}
	sock := &udpSocket{}
	inode, err := enableDropCounter(c)
	if err != nil {
		s.log.Warn("syslog: the kernel will not report UDP drops on this socket", "addr", addr, "err", err)
	}
	sock.inode = inode
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving || s.closed {
		c.Close()
		return nil, errors.New("syslog: ListenUDP after Serve or Close")
	}
	s.kernelDrops.add(sock)
	s.udp = append(s.udp, udpConn{c, sock})
	return c.LocalAddr(), nil
}

// ListenTCP opens a TCP listener (TLS when Config.TLS is set) and returns
// its bound address. Call before Serve.
func (s *Server) ListenTCP(addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslog: listen on TCP %s: %w", addr, err)
	}
	bound := l.Addr()
	if s.cfg.TLS != nil {
		l = tls.NewListener(l, s.cfg.TLS)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving || s.closed {
		l.Close()
		return nil, errors.New("syslog: ListenTCP after Serve or Close")
	}
	s.tcp = append(s.tcp, l)
	return bound, nil
}

// Serve receives until ctx ends or Close is called, then shuts down: stops
// accepting, reads what the sockets already hold (for up to 100 ms),
// publishes what was read (for up to DrainTimeout; lines Kafka still did
// not take are counted as refused, reason shutdown) and returns.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return errors.New("syslog: Serve called twice or after Close")
	}
	s.serving = true
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()
	defer close(s.done)

	tcpPipe := newPipeline(s, "tcp", true)
	udpPipe := newPipeline(s, "udp", false)
	var readers, conns sync.WaitGroup
	for _, u := range udp {
		readers.Go(func() { s.readUDP(u, udpPipe) })
		s.log.Info("syslog listening", "transport", "udp", "addr", u.LocalAddr().String())
	}
	for _, l := range tcp {
		readers.Go(func() { s.accept(ctx, l, tcpPipe, &conns) })
		s.log.Info("syslog listening", "transport", "tcp", "addr", l.Addr().String(), "tls", s.cfg.TLS != nil)
	}

	<-ctx.Done()

	// Publishing gets DrainTimeout from now, whatever else waits.
	deadline := time.AfterFunc(s.cfg.DrainTimeout, func() { tcpPipe.cancel(); udpPipe.cancel() })
	defer deadline.Stop()
	grace := time.Now().Add(100 * time.Millisecond)
	s.mu.Lock()
	s.closed = true
	for _, l := range tcp {
		l.Close()
	}
	for c := range s.conns {
		c.SetReadDeadline(grace) // read what already arrived, then stop
	}
	for _, u := range udp {
		u.SetReadDeadline(grace)
	}
	s.mu.Unlock()
	readers.Wait()
	conns.Wait()
	for _, u := range udp {
		u.Close()
	}
	var wg sync.WaitGroup
	wg.Go(tcpPipe.close)
	wg.Go(udpPipe.close)
	wg.Wait()
	return nil
}

// Close stops Serve and waits for it to finish, or closes the sockets if
// Serve never ran.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.serving {
		s.closed = true
		for _, l := range s.tcp {
			l.Close()
		}
		for _, u := range s.udp {
			u.Close()
		}
		s.mu.Unlock()
		return nil
	}
	stop, done := s.stop, s.done
	s.mu.Unlock()
	stop()
	<-done
	return nil
}

func (s *Server) accept(ctx context.Context, l net.Listener, p *pipeline, conns *sync.WaitGroup) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog: accept failed, retrying", "addr", l.Addr().String(), "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.closed || len(s.conns) >= s.cfg.MaxConnections {
			full := !s.closed
			s.mu.Unlock()
			// Counted before the close, so whoever sees the connection
			// refused also sees it counted.
			if full {
				s.metrics.Rejected.WithLabelValues(source, "too_many_connections").Inc()
				s.log.Warn("syslog: connection refused, too many open", "peer", c.RemoteAddr().String(), "max", s.cfg.MaxConnections)
			}
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		conns.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(c, p)
		})
	}
}

// serveConn reads one TCP connection to its end, handing parsed lines to
// the pipeline a chunk at a time (when the chunk is full or nothing more
// is buffered, so a quiet sender's line is not held back).
func (s *Server) serveConn(c net.Conn, p *pipeline) {
	peer := func() string { return hostOnly(c.RemoteAddr()) }
	fr := newFramer(c, s.cfg.MaxMessageBytes)
	ps := newParser(s.cfg.Location)
	ch := p.getChunk()
	defer func() { p.submit(ch) }()
	for {
		frame, err := fr.next()
		switch {
		case err == nil:
			ch.lines = ps.parse(frame, time.Now(), peer, ch.lines)
		case errors.Is(err, errTooLong):
			s.metrics.Rejected.WithLabelValues(source, "message_too_long").Inc()
			s.log.Debug("syslog: message refused, too long", "transport", "tcp", "peer", peer(), "bytes", fr.skipped, "max", s.cfg.MaxMessageBytes)
		default:
			var ne net.Error
			if !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, io.EOF) {
				s.log.Debug("syslog: connection ended", "peer", peer(), "framing", fr.mode.String(), "err", err)
			}
			return
		}
		if len(ch.lines) >= chunkLines || (fr.buffered() == 0 && len(ch.lines) > 0) {
			ch = p.submit(ch)
		}
	}
}

func hostOnly(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
