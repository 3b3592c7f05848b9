package syslog

import (
	"errors"
	"net"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch is how many datagrams one read takes from the socket at most
// (recvmmsg on Linux), which is also the chunk handed to the pipeline.
const udpBatch = 64

// readUDP reads one UDP socket until it is closed: each datagram is one
// message (RFC 5426). Reading blocks while the pipeline is full; the
// kernel then drops what overflows the socket buffer, and those drops are
// counted from SO_RXQ_OVFL.
func (s *Server) readUDP(c udpConn, p *pipeline) {
	var pc interface {
		ReadBatch([]ipv4.Message, int) (int, error)
	}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		pc = ipv4.NewPacketConn(c.UDPConn)
	} else {
		pc = ipv6.NewPacketConn(c.UDPConn)
	}
	size := min(s.cfg.MaxMessageBytes, 65535) + 1 // one more: a full buffer means too long
	msgs := make([]ipv4.Message, udpBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, size)}
		msgs[i].OOB = make([]byte, 64)
	}
	ps := newParser(s.cfg.Location)
	ch := p.getChunk()
	defer func() { p.submit(ch) }()
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			var ne net.Error
			if errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
				return
			}
			s.log.Warn("syslog: UDP read failed", "addr", c.LocalAddr().String(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if n == 0 {
			continue
		}
		now := time.Now()
		for i := range n {
			m := &msgs[i]
			peer := func() string { return hostOnly(m.Addr) }
			if m.N >= size || m.Flags&msgTrunc != 0 {
				s.metrics.Rejected.WithLabelValues(source, "message_too_long").Inc()
				s.log.Debug("syslog: message refused, too long", "transport", "udp", "peer", peer(), "max", s.cfg.MaxMessageBytes)
				continue
			}
			if frame := trimEnd(m.Buffers[0][:m.N]); len(frame) > 0 {
				ch.lines = ps.parse(frame, now, peer, ch.lines)
			}
		}
		// The kernel's count is cumulative for the socket: the last
		// datagram's is the newest.
		if last := &msgs[n-1]; last.NN > 0 {
			if drops, ok := dropsFromOOB(last.OOB[:last.NN]); ok {
				c.drops.observe(drops)
			}
		}
		ch = p.submit(ch)
	}
}
