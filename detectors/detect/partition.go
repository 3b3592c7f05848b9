package detect

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// partition is the state of one metrics partition this process owns. Only
// its loop goroutine touches it (nSeries is read by Stage.Series).
type partition struct {
	stage  *Stage
	id     int
	series map[uint64]*series

	nextOffset int64 // the offset after the last record consumed
	caughtUp   bool  // the last fetch found nothing new

	// Event-time clock for silences: the newest point's time, and the wall
	// time it was seen; live data lets the clock run on with the wall
	// clock (a source that stops must be noticed even if all stop).
	watermark     int64
	watermarkWall time.Time
	reporting     []int64 // scratch: newest points of the reporting series (silenceClock)

	cur       *series // the series being decoded
	labelBuf  [][]byte
	bands     []records.Band // the current series' bands, moved into bandBuf
	bandBuf   records.BandBatchBuilder
	anomalies []kafka.Message
	forgotten []uint64 // series dropped since the last checkpoint (tombstones to write)

	nSeries atomic.Int64
}

func newPartition(s *Stage, id int) *partition {
	return &partition{stage: s, id: id, series: map[uint64]*series{}, nextOffset: -1}
}

// consume decodes one metrics record and runs its points. A record the
// detector cannot decode is skipped and counted: the writer dead-letters
// the same record, and detection must not stall on it.
func (p *partition) consume(msg kafka.Message) error {
	err := records.DecodeSamples(msg.Value, p, &p.labelBuf)
	p.endSeries()
	if !msg.Time.IsZero() {
		p.stage.metrics.recordDelay.Observe(time.Since(msg.Time).Seconds())
	}
	if err != nil {
		p.stage.metrics.malformed.Inc()
		p.stage.log.Warn("detector skipped an undecodable metrics record (the writer dead-letters it)",
			"partition", msg.Partition, "offset", msg.Offset, "err", err)
	}
	return nil
}

// Series implements records.SampleVisitor.
func (p *partition) Series(id uint64, labels [][]byte) error {
	p.endSeries()
	s := p.series[id]
	if s == nil {
		s = p.newSeries(id, labels)
	}
	p.cur = s
	return nil
}

// Point implements records.SampleVisitor.
func (p *partition) Point(ts int64, v float64) { p.observe(p.cur, ts, v) }

// endSeries moves the current series' bands into the record builder.
func (p *partition) endSeries() {
	if p.cur != nil && len(p.bands) > 0 {
		p.bandBuf.Add(p.cur.id, p.cur.metric, p.bands)
	}
	p.bands = p.bands[:0]
	p.cur = nil
}

func (p *partition) newSeries(id uint64, labels [][]byte) *series {
	s := &series{id: id, det: *newDetector(p.stage.cfg)}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels = append(s.labels, records.Label{Name: string(labels[i]), Value: string(labels[i+1])})
	}
	records.SortLabels(s.labels)
	p.describe(s)
	p.add(s)
	return s
}

func newDetector(cfg Config) *anomaly.Detector { return anomaly.NewDetector(cfg.Detector) }

// describe derives what the series' labels say: metric, service, rules.
func (p *partition) describe(s *series) {
	s.metric = s.label(records.MetricNameLabel)
	s.service = ""
	for _, name := range p.stage.cfg.ServiceLabels {
		if v := s.label(name); v != "" {
			s.service = v
			break
		}
	}
	s.attachRules(p.stage.cfg.Rules)
}

func (p *partition) add(s *series) {
	p.series[s.id] = s
	p.nSeries.Add(1)
	p.stage.metrics.series.Inc()
}

func (p *partition) remove(s *series) {
	delete(p.series, s.id)
	p.nSeries.Add(-1)
	p.stage.metrics.series.Dec()
}

func (p *partition) advanceWatermark(ts int64) {
	p.watermark, p.watermarkWall = ts, time.Now()
}

// clock is the partition's event time now: the watermark, run on by the
// wall clock when the data is live and read up to date (a replay or a
// backfill of history only moves by its own points).
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

// silenceClock is the event time overdue series are judged against: the
// upper median of the newest points of the series still reporting (not
// silent, not retired), run on by the wall clock like clock. Not the
// newest point: series do not move in step (remote_write shards drift
// apart in a catch-up, a backfill may carry one series' history ahead of
// the others), and one series running ahead must not make the others
// look silent. A silence needs the typical series to have moved on
// without it; when (nearly) everything stops, the wall clock's run-on
// finds it once the data was live.
func (p *partition) silenceClock(now time.Time) int64 {
	clock := p.clock(now)
	if clock == 0 {
		return 0
	}
	p.reporting = p.reporting[:0]
	for _, s := range p.series {
		if !s.silent && !s.retired && s.lastTs > 0 {
			p.reporting = append(p.reporting, s.lastTs)
		}
	}
	if len(p.reporting) == 0 {
		return clock
	}
	slices.Sort(p.reporting)
	median := p.reporting[len(p.reporting)/2]
	return clock - (p.watermark - median)
}

// checkSilence opens a silence for every series overdue by its learned
// cadence, and forgets series silent for SilenceForget.
func (p *partition) checkSilence(now time.Time) {
	clock := p.silenceClock(now)
	if clock == 0 {
		return
	}
	cfg := &p.stage.cfg
	for _, s := range p.series {
		if s.retired {
			continue
		}
		m := s.det.Baseline()
		if s.silent {
			if clock-s.lastTs > cfg.SilenceForget.Milliseconds() {
				p.remove(s)
				p.forgotten = append(p.forgotten, s.id)
			}
			continue
		}
		if m.Learning() || m.Cadence() <= 0 {
			continue
		}
		wait := max(int64(cfg.SilenceFactor*m.Cadence()), cfg.SilenceMin.Milliseconds())
		if clock-s.lastTs <= wait {
			continue
		}
		s.silent, s.dirty = true, true
		due := s.lastTs + int64(m.Cadence())
		p.emit(s, records.Anomaly{Kind: records.KindSilence, State: records.StateOpen, TimeMs: due,
			Value: 0, Expected: m.Expect(due), LastSeenMs: s.lastTs, CadenceMs: m.Cadence(), Score: 1})
	}
}

// emit queues an anomaly event of s.
func (p *partition) emit(s *series, a records.Anomaly) {
	a.SeriesID, a.Metric, a.Service = s.id, s.metric, s.service
	a.Labels = s.labelMap()
	b, err := records.EncodeAnomaly(&a)
	if err != nil { // only unencodable labels could do this; count, never stall
		p.stage.metrics.malformed.Inc()
		return
	}
	p.anomalies = append(p.anomalies, kafka.Message{Topic: records.TopicAnomalies, Key: a.Key(), Value: b})
	p.stage.metrics.anomalies.WithLabelValues(a.Kind, a.State).Inc()
}

func (p *partition) pendingBytes() int {
	n := 0
	if p.bandBuf.Series() > 0 {
		n += p.bandBuf.Size()
	}
	for _, m := range p.anomalies {
		n += len(m.Value)
	}
	return n
}

// flush publishes the queued bands and anomalies and waits for the acks.
func (p *partition) flush(ctx context.Context) error {
	var msgs []kafka.Message
	if p.bandBuf.Series() > 0 {
		msgs = append(msgs, kafka.Message{Topic: records.TopicBands, Key: p.bandBuf.Key(),
			Value: p.bandBuf.AppendRecord(nil)})
	}
	msgs = append(msgs, p.anomalies...)
	if len(msgs) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := p.stage.pub.Publish(ctx, msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.stage.log.Warn("detector could not publish, retrying", "partition", p.id, "err", err, "attempt", attempt)
		bus.Sleep(ctx, bus.Backoff(attempt))
	}
	p.stage.metrics.bandsPublished.Add(float64(p.bandBuf.Bands()))
	p.bandBuf.Reset()
	p.anomalies = p.anomalies[:0]
	return nil
}

func (p *partition) String() string { return fmt.Sprintf("partition %d", p.id) }
