package logdetect

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// partition is the state of one logs partition this process owns. Only its
// loop goroutine touches it (nServices and nTemplates are read by
// Stage.Services and Stage.Templates).
type partition struct {
	stage    *Stage
	id       int
	services map[string]*service

	nextOffset int64 // the offset after the last record consumed; -1: none
	offset     int64 // the record being decoded
	caughtUp   bool  // the last fetch found nothing new
	lru        uint64

	// Event-time clock for closing idle services' minutes: the newest
	// line's time and the wall time it was seen (see clock).
	watermark     int64
	watermarkWall time.Time

	cur     *service // the stream being decoded; nil: its lines are skipped
	scratch records.LogScratch

	lineBuf   records.LogTemplateBatchBuilder
	patterns  []kafka.Message
	anomalies []kafka.Message
	pending   int            // bytes queued in patterns and anomalies
	evicted   map[string]int // services dropped since the last checkpoint → their chunk count (tombstones to write)

	nServices  atomic.Int64
	nTemplates atomic.Int64
}

func newPartition(s *Stage, id int) *partition {
	return &partition{stage: s, id: id, services: map[string]*service{}, nextOffset: -1, evicted: map[string]int{}}
}

// consume decodes one logs record and mines its lines. A record the stage
// cannot decode is skipped and counted: the writer dead-letters the same
// record, and detection must not stall on it. Lines decoded before the
// damage are kept (they are valid lines).
func (p *partition) consume(msg kafka.Message) {
	p.offset = msg.Offset
	if err := records.DecodeLogs(msg.Value, p, &p.scratch); err != nil {
		p.stage.metrics.malformed.Inc()
		p.stage.log.Warn("log detector skipped an undecodable logs record (the writer dead-letters it)",
			"partition", msg.Partition, "offset", msg.Offset, "err", err)
	}
	p.cur = nil
}

// Stream implements records.LogVisitor.
func (p *partition) Stream(_ uint64, name []byte, _ [][]byte) error {
	s := p.services[string(name)]
	if s == nil {
		s = p.addService(string(name))
	}
	p.lru++
	s.touch = p.lru
	if p.offset <= s.skipThrough {
		// A replay after a restart: the service's checkpoint already
		// holds these lines.
		p.cur = nil
		return nil
	}
	s.lastOffset = p.offset
	p.cur = s
	return nil
}

// Entry implements records.LogVisitor.
func (p *partition) Entry(e *records.LogEntryRef) {
	if p.cur == nil {
		p.stage.metrics.skipped.Inc()
		return
	}
	p.observe(p.cur, e)
}

// addService creates a service's state, evicting the least recently seen
// service when the partition holds MaxServices.
func (p *partition) addService(name string) *service {
	if len(p.services) >= p.stage.cfg.MaxServices {
		var lru *service
		for _, s := range p.services {
			if lru == nil || s.touch < lru.touch {
				lru = s
			}
		}
		p.evict(lru)
	}
	s := newService(name, &p.stage.cfg)
	p.add(s)
	return s
}

func (p *partition) add(s *service) {
	p.services[s.name] = s
	p.nServices.Add(1)
	p.nTemplates.Add(int64(s.live))
	p.stage.metrics.services.Inc()
	p.stage.metrics.templates.Add(float64(s.live))
}

// evict drops a service: its open minutes are published, its checkpoint
// is deleted at the next checkpoint.
func (p *partition) evict(s *service) {
	p.closeThrough(s, s.newestMs/minuteMs)
	delete(p.services, s.name)
	if s.chunks > 0 {
		p.evicted[s.name] = s.chunks
	}
	p.nServices.Add(-1)
	p.nTemplates.Add(-int64(s.live))
	p.stage.metrics.services.Dec()
	p.stage.metrics.templates.Sub(float64(s.live))
	p.stage.metrics.evicted.Inc()
}

func (p *partition) remove() {
	p.stage.metrics.services.Sub(float64(len(p.services)))
	p.stage.metrics.templates.Sub(float64(p.nTemplates.Load()))
}

func (p *partition) advanceWatermark(ts int64) {
	p.watermark, p.watermarkWall = ts, time.Now()
}

// clock is the partition's event time now: the watermark, run on by the
// wall clock when the data is live and read up to date (a replay or a
// backfill only moves by its own lines).
func (p *partition) clock(now time.Time) int64 {
	if p.watermark == 0 {
		return 0
	}
	live := p.watermarkWall.UnixMilli()-p.watermark < 5*time.Minute.Milliseconds()
	if live && p.caughtUp {
		return p.watermark + now.Sub(p.watermarkWall).Milliseconds()
	}
	return p.watermark
}

// closeIdle closes the minutes of services that stopped logging: once the
// partition's clock is IdleClose past a minute's end, nothing late is
// expected any more.
func (p *partition) closeIdle(now time.Time) {
	clock := p.clock(now)
	if clock == 0 {
		return
	}
	upTo := (clock-p.stage.cfg.IdleClose.Milliseconds())/minuteMs - 1
	for _, s := range p.services {
		if m, ok := s.open(); ok && m <= upTo {
			p.closeThrough(s, min(upTo, s.newestMs/minuteMs))
		}
	}
}

// emitPattern queues a pattern record, pinned to this partition.
func (p *partition) emitPattern(x *records.Pattern) {
	x.Partition = p.id
	b, err := records.EncodePattern(x)
	if err != nil {
		p.stage.metrics.malformed.Inc()
		return
	}
	p.patterns = append(p.patterns, kafka.Message{Topic: records.TopicPatterns, Key: x.Key(), Value: b,
		Headers: []kafka.Header{p.stage.header(p.id)}})
	p.pending += len(b)
	p.stage.metrics.patterns.WithLabelValues(x.Kind).Inc()
}

// queueAnomaly queues an anomaly event for the anomalies topic.
func (p *partition) queueAnomaly(a *records.Anomaly, reason string) {
	b, err := records.EncodeAnomaly(a)
	if err != nil {
		p.stage.metrics.malformed.Inc()
		return
	}
	p.anomalies = append(p.anomalies, kafka.Message{Topic: records.TopicAnomalies, Key: a.Key(), Value: b})
	p.pending += len(b)
	p.stage.metrics.anomalies.WithLabelValues(reason).Inc()
}

func (p *partition) pendingBytes() int {
	n := p.pending
	if p.lineBuf.Lines() > 0 {
		n += p.lineBuf.Size()
	}
	return n
}

// flush publishes the queued line assignments, patterns and anomalies and
// waits for the acks.
func (p *partition) flush(ctx context.Context) error {
	msgs := make([]kafka.Message, 0, 1+len(p.patterns)+len(p.anomalies))
	if p.lineBuf.Lines() > 0 {
		msgs = append(msgs, kafka.Message{Topic: records.TopicLogTemplates, Value: p.lineBuf.AppendRecord(nil),
			Headers: []kafka.Header{p.stage.header(p.id)}})
	}
	msgs = append(msgs, p.patterns...)
	msgs = append(msgs, p.anomalies...)
	if len(msgs) == 0 {
		return nil
	}
	if err := p.stage.publish(ctx, p.id, msgs); err != nil {
		return err
	}
	p.stage.metrics.assigned.Add(float64(p.lineBuf.Lines()))
	p.lineBuf.Reset()
	clear(p.patterns)
	clear(p.anomalies)
	p.patterns, p.anomalies, p.pending = p.patterns[:0], p.anomalies[:0], 0
	return nil
}

// drop discards queued outputs (Offline and benchmarks).
func (p *partition) drop() {
	p.lineBuf.Reset()
	p.patterns, p.anomalies, p.pending = p.patterns[:0], p.anomalies[:0], 0
}
