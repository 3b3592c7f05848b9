package detect

import (
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Offline runs series through the stage's per-point code without Kafka:
// the same detectors, rules and anomaly events as the service, for
// benchmarks and tools that replay generated or recorded data.
type Offline struct {
	p *partition
}

// NewOffline builds an offline stage; cfg.Brokers is ignored.
func NewOffline(cfg Config) *Offline {
	st := New(cfg, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &Offline{p: newPartition(st, 0)}
}

// Observe runs one point of the series with these labels (sorted, with
// __name__) and returns the anomaly events it produced.
func (o *Offline) Observe(labels []records.Label, ts int64, v float64) ([]*records.Anomaly, error) {
	p := o.p
	id := records.SeriesID(labels)
	s := p.series[id]
	if s == nil {
		s = &series{id: id, labels: append([]records.Label(nil), labels...)}
		s.det = *newDetector(p.stage.cfg)
		p.describe(s)
		p.add(s)
	}
	p.observe(s, ts, v)
	p.bands = p.bands[:0]
	var out []*records.Anomaly
	for _, m := range p.anomalies {
		a, err := records.DecodeAnomaly(m.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	p.anomalies = p.anomalies[:0]
	return out, nil
}
