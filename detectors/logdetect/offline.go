package logdetect

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Offline runs lines through the stage's per-line code without Kafka: the
// same miners, minutes, rates and anomaly events as the service, for
// tests, benchmarks and tools that replay recorded logs. Lines are taken
// in the order given (the replay guard does not apply).
type Offline struct {
	p *partition
}

// NewOffline builds an offline stage; cfg.Brokers is ignored.
func NewOffline(cfg Config) *Offline {
	st := New(cfg, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &Offline{p: newPartition(st, 0)}
}

// Output is what lines produced: their templates, pattern records and
// anomaly events.
type Output struct {
	TemplateIDs []uint64 // per line given, in order (Observe)
	Patterns    []*records.Pattern
	Anomalies   []*records.Anomaly
}

// Observe mines one line of service. entryID is the line's content key
// (records.EntryIDs; any unique number will do offline).
func (o *Offline) Observe(service string, entryID uint64, e *records.LogEntry) (Output, error) {
	p := o.p
	p.offset++
	s := p.services[service]
	if s == nil {
		s = p.addService(service)
	}
	p.lru++
	s.touch, s.lastOffset = p.lru, p.offset
	ref := records.LogEntryRef{ID: entryID, TimeNs: e.TimeNs, SeverityNumber: e.SeverityNumber,
		SeverityText: []byte(e.SeverityText), Body: []byte(e.Body)}
	p.observe(s, &ref)
	return o.collect()
}

// Close closes every open minute (as if the partition's clock had moved
// far past them) and returns what that produced.
func (o *Offline) Close() (Output, error) {
	for _, s := range o.p.services {
		o.p.closeThrough(s, s.newestMs/minuteMs)
	}
	return o.collect()
}

// Tick closes the minutes of idle services as the running stage does
// every second, with the partition's clock at now (event time).
func (o *Offline) Tick(now time.Time) (Output, error) {
	p := o.p
	if now.UnixMilli() > p.watermark {
		p.watermark, p.watermarkWall = now.UnixMilli(), now
	}
	p.closeIdle(now)
	return o.collect()
}

// Templates reports how many live templates service has.
func (o *Offline) Templates(service string) int {
	if s := o.p.services[service]; s != nil {
		return s.live
	}
	return 0
}

func (o *Offline) collect() (Output, error) {
	p := o.p
	var out Output
	if p.lineBuf.Lines() > 0 {
		var c lineCollector
		if err := records.DecodeLogTemplates(p.lineBuf.AppendRecord(nil), &c); err != nil {
			return out, err
		}
		out.TemplateIDs = c.ids
	}
	for _, m := range p.patterns {
		x, err := records.DecodePattern(m.Value)
		if err != nil {
			return out, err
		}
		out.Patterns = append(out.Patterns, x)
	}
	for _, m := range p.anomalies {
		a, err := records.DecodeAnomaly(m.Value)
		if err != nil {
			return out, err
		}
		out.Anomalies = append(out.Anomalies, a)
	}
	p.drop()
	return out, nil
}

type lineCollector struct{ ids []uint64 }

func (c *lineCollector) TemplateService([]byte) error              { return nil }
func (c *lineCollector) TemplateLine(_ uint64, _ int64, id uint64) { c.ids = append(c.ids, id) }
