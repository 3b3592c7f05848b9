package detect

import (
	"math"

	"github.com/prometheus/prometheus/model/value"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// series is one series' detector state. Everything in it is checkpointed
// (see checkpoint.go).
type series struct {
	id      uint64
	metric  string
	service string
	labels  []records.Label // sorted, including __name__
	det     anomaly.Detector
	rules   []ruleState

	lastTs     int64 // newest point learned; older points are skipped (replays)
	lastBandTs int64
	normalRun  uint16 // consecutive normal points while anomalous
	anomalous  bool   // an anomaly is open
	silent     bool   // a silence is open
	retired    bool   // the sender marked it stale: its absence is expected

	dirty bool // changed since the last checkpoint (not checkpointed)
}

type ruleState struct {
	rule *forecast.Rule
	st   forecast.State
}

func (s *series) label(name string) string {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

func (s *series) labelMap() map[string]string {
	m := make(map[string]string, len(s.labels))
	for _, l := range s.labels {
		if l.Name != records.MetricNameLabel {
			m[l.Name] = l.Value
		}
	}
	return m
}

// attachRules gives the series a state for every rule that matches it,
// keeping the states of rules it already had (by name).
func (s *series) attachRules(rules []*forecast.Rule) {
	old := s.rules
	s.rules = nil
	for _, r := range rules {
		if !r.Matches(s.label) {
			continue
		}
		rs := ruleState{rule: r, st: r.NewState()}
		for _, o := range old {
			if o.rule.Name == r.Name {
				rs.st = o.st
			}
		}
		s.rules = append(s.rules, rs)
	}
}

// observe runs one point through the series' detectors and appends what
// they found to out.
func (p *partition) observe(s *series, ts int64, v float64) {
	if ts <= s.lastTs {
		// A replay after a restart (the checkpoint already holds it), a
		// duplicate, or a late point: learning it twice would double count.
		p.stage.metrics.skipped.Inc()
		return
	}
	s.lastTs, s.dirty = ts, true
	if ts > p.watermark {
		p.advanceWatermark(ts)
	}
	if value.IsStaleNaN(v) {
		// Prometheus' end-of-series marker: the series is gone on purpose.
		s.retired = true
		return
	}
	s.retired = false
	if s.silent {
		s.silent = false
		p.emit(s, records.Anomaly{Kind: records.KindSilence, State: records.StateResolved, TimeMs: ts,
			Value: v, LastSeenMs: ts, CadenceMs: s.det.Baseline().Cadence()})
	}
	r := s.det.Update(ts, v)
	p.stage.metrics.points.Inc()
	cfg := &p.stage.cfg
	if cfg.BandEvery <= 0 || ts-s.lastBandTs >= cfg.BandEvery.Milliseconds() {
		s.lastBandTs = ts
		p.bands = append(p.bands, records.Band{TimestampMs: ts, Value: v, Expected: r.Expected,
			Lower: r.Lower, Upper: r.Upper, Score: float32(r.Surprise), Learning: r.Learning})
	}

	// Anomalies: every anomalous point is an open event (the alerter
	// decides what is sustained); the first run of ResolvePoints normal
	// points after them closes the problem.
	if !r.Learning && !math.IsNaN(v) && r.Surprise >= cfg.OpenScore {
		s.anomalous, s.normalRun = true, 0
		dir := "up"
		if r.Deviation < 0 {
			dir = "down"
		}
		p.emit(s, records.Anomaly{Kind: records.KindAnomaly, State: records.StateOpen, TimeMs: ts, Value: v,
			Expected: r.Expected, Lower: r.Lower, Upper: r.Upper, Score: r.Surprise, Direction: dir})
	} else if s.anomalous {
		s.normalRun++
		if int(s.normalRun) >= cfg.ResolvePoints {
			s.anomalous, s.normalRun = false, 0
			p.emit(s, records.Anomaly{Kind: records.KindAnomaly, State: records.StateResolved, TimeMs: ts, Value: v,
				Expected: r.Expected, Lower: r.Lower, Upper: r.Upper, Score: r.Surprise})
		}
	}

	// Predictive rules: forecast the trend and say when it crosses.
	if len(s.rules) == 0 || r.Learning {
		return
	}
	for i := range s.rules {
		rs := &s.rules[i]
		vd := rs.rule.Observe(&rs.st, ts, v)
		// While firing, each evaluation that still sees the breach
		// refreshes the prediction; the flip to resolved is one event.
		if !vd.Evaluated || (!vd.Changed && (!vd.Firing || vd.BreachMs == 0)) {
			continue
		}
		a := records.Anomaly{Kind: records.KindPredictive, State: records.StateOpen, TimeMs: ts, Value: v,
			Expected: vd.Forecast, Lower: r.Lower, Upper: r.Upper, Rule: rs.rule.Name, Severity: rs.rule.Severity,
			Op: rs.rule.Op, Threshold: rs.rule.Threshold, PredictedBreachMs: vd.BreachMs, Score: 1}
		if !vd.Firing {
			a.State, a.Score = records.StateResolved, 0
		}
		p.emit(s, a)
	}
}
