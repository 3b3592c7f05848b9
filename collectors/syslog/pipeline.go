package syslog

import (
	"context"
	"sync"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
)

// A pipeline takes chunks of parsed lines from the readers of one transport,
// merges them into batches (BatchLines lines, or whatever arrived within
// BatchWait) and publishes each batch with one PublishLogs call, up to
// Publishers calls at a time.
//
// When Kafka does not acknowledge, a TCP pipeline retries the batch until
// it is taken: its publishers stop, the batcher stops, the readers block on
// submit and stop reading their connections, and the senders' TCP windows
// close. Nothing is dropped; the senders buffer or block, as syslog senders
// do. A UDP pipeline cannot push back (the kernel would drop instead,
// uncounted by us), so it drops the batch and counts its lines as refused
// with reason kafka_unavailable.
type pipeline struct {
	s         *Server
	transport string // "tcp" or "udp", for logs
	retry     bool

	in  chan *chunk
	out chan *batch

	// ctx bounds publishing: cancelled DrainTimeout after shutdown begins.
	ctx    context.Context
	cancel context.CancelFunc

	batcherDone chan struct{}
	publishers  sync.WaitGroup

	chunks  sync.Pool // *chunk
	batches sync.Pool // *batch

	mu          sync.Mutex
	failingFrom time.Time // zero while Kafka acknowledges
	lastWarn    time.Time
}

// chunk is what one reader hands over at a time.
type chunk struct {
	lines []line
}

// chunkLines bounds a chunk so that a busy connection hands over often.
const chunkLines = 512

// batch is one PublishLogs call's worth of lines, grouped by stream.
type batch struct {
	index    map[streamKey]int
	streams  []ingest.LogStream
	lines    int
	unparsed int
}

func (b *batch) add(l *line) {
	i, ok := b.index[l.key]
	if !ok {
		i = len(b.streams)
		b.index[l.key] = i
		if i < cap(b.streams) {
			b.streams = b.streams[:i+1]
			b.streams[i].Service, b.streams[i].Labels = l.key.service, l.key.labels()
			b.streams[i].Entries = b.streams[i].Entries[:0]
		} else {
			b.streams = append(b.streams, ingest.LogStream{Service: l.key.service, Labels: l.key.labels()})
		}
	}
	b.streams[i].Entries = append(b.streams[i].Entries, l.entry)
	b.lines++
	if l.unparsed {
		b.unparsed++
	}
}

func (b *batch) reset() {
	clear(b.index)
	for i := range b.streams {
		clear(b.streams[i].Entries)
		b.streams[i].Labels = nil
	}
	b.streams = b.streams[:0]
	b.lines, b.unparsed = 0, 0
}

func newPipeline(s *Server, transport string, retry bool) *pipeline {
	p := &pipeline{
		s: s, transport: transport, retry: retry,
		in:          make(chan *chunk, 16),
		out:         make(chan *batch),
		batcherDone: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.batcher()
	for range s.cfg.Publishers {
		p.publishers.Add(1)
		go p.publisher()
	}
	return p
}

func (p *pipeline) getChunk() *chunk {
	if c, ok := p.chunks.Get().(*chunk); ok {
		return c
	}
	return &chunk{lines: make([]line, 0, chunkLines)}
}

// submit hands a chunk over, blocking while the pipeline is full (that is
// the backpressure). An empty chunk is kept by the caller.
func (p *pipeline) submit(c *chunk) *chunk {
	if len(c.lines) == 0 {
		return c
	}
	p.in <- c
	return p.getChunk()
}

func (p *pipeline) batcher() {
	defer close(p.batcherDone)
	defer close(p.out)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var cur *batch
	flush := func() {
		timer.Stop()
		if cur != nil && cur.lines > 0 {
			p.out <- cur
			cur = nil
		}
	}
	for {
		select {
		case c, ok := <-p.in:
			if !ok {
				flush()
				return
			}
			if cur == nil {
				cur, _ = p.batches.Get().(*batch)
				if cur == nil {
					cur = &batch{index: map[streamKey]int{}}
				}
				timer.Reset(p.s.cfg.BatchWait)
			}
			for i := range c.lines {
				cur.add(&c.lines[i])
			}
			clear(c.lines)
			c.lines = c.lines[:0]
			p.chunks.Put(c)
			if cur.lines >= p.s.cfg.BatchLines {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

func (p *pipeline) publisher() {
	defer p.publishers.Done()
	for b := range p.out {
		p.publish(b)
		b.reset()
		p.batches.Put(b)
	}
}

func (p *pipeline) publish(b *batch) {
	m := p.s.metrics
	backoff := 100 * time.Millisecond
	for {
		_, err := p.s.pub.PublishLogs(p.ctx, b.streams)
		if err == nil {
			p.recovered()
			if parsed := b.lines - b.unparsed; parsed > 0 {
				m.Accepted.WithLabelValues(source, "logs").Add(float64(parsed))
			}
			if b.unparsed > 0 {
				m.Accepted.WithLabelValues(source, "unparsed").Add(float64(b.unparsed))
			}
			return
		}
		if !p.retry || p.ctx.Err() != nil {
			reason := "kafka_unavailable"
			if p.ctx.Err() != nil {
				reason = "shutdown"
			}
			m.Rejected.WithLabelValues(source, reason).Add(float64(b.lines))
			p.s.log.Error("syslog lines dropped: kafka did not acknowledge", "transport", p.transport,
				"lines", b.lines, "reason", reason, "err", err)
			return
		}
		p.failing(err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// failing logs an outage once, then every 30 s while it lasts.
func (p *pipeline) failing(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.failingFrom.IsZero() {
		p.failingFrom = now
	} else if now.Sub(p.lastWarn) < 30*time.Second {
		return
	}
	p.lastWarn = now
	p.s.log.Warn("kafka unavailable: syslog TCP reading paused until it acknowledges (senders are held back, nothing is dropped)",
		"transport", p.transport, "since", p.failingFrom, "err", err)
}

func (p *pipeline) recovered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failingFrom.IsZero() {
		p.s.log.Info("kafka acknowledges again: syslog reading resumed", "transport", p.transport,
			"paused", time.Since(p.failingFrom).Round(time.Millisecond))
		p.failingFrom = time.Time{}
	}
}

// close stops the pipeline once its readers are gone and returns when what
// was read is published (the server cancels ctx when DrainTimeout is up,
// and the rest is counted as refused).
func (p *pipeline) close() {
	close(p.in)
	<-p.batcherDone
	p.publishers.Wait()
	p.cancel()
}
