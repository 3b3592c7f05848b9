// Package surge detects complaint surges: per service and channel, the
// minute counts of support messages and of negative ones against their
// own baselines. A surge is a complaint_surge anomaly with sample
// (already redacted) messages, for the alerter and the correlator.
package surge

import (
	"fmt"
	"math"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Config tunes every key the same way.
type Config struct {
	// WarmupMinutes the engine must have watched its partition before
	// anything can surge. A service and channel new after that starts from
	// a zero baseline: a burst of complaints on a channel that was quiet
	// is a surge. Default 30.
	WarmupMinutes int
	// Alpha is the baseline's learning rate per minute. Default 0.05
	// (about 20 minutes of memory, so a slow rise is absorbed).
	Alpha float64
	// Z: a minute is a surge when its negative count exceeds the baseline
	// by Z Poisson standard deviations. Default 4.
	Z float64
	// MinNegative messages in a minute before anything is a surge.
	// Default 3.
	MinNegative int
	// ResolveMinutes normal minutes in a row end a surge. Default 5.
	ResolveMinutes int
}

func (c Config) withDefaults() Config {
	if c.WarmupMinutes <= 0 {
		c.WarmupMinutes = 30
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = 0.05
	}
	if c.Z <= 0 {
		c.Z = 4
	}
	if c.MinNegative <= 0 {
		c.MinNegative = 3
	}
	if c.ResolveMinutes <= 0 {
		c.ResolveMinutes = 5
	}
	return c
}

// complaintScore: the sentiment at or below which a negative message
// counts as a complaint.
const complaintScore = -0.5

// KeyState is one service and channel's state (exported for checkpoints).
type KeyState struct {
	Service  string   `json:"service"`
	Channel  string   `json:"channel"`
	Minute   int64    `json:"minute"` // the open minute (unix minutes)
	Count    int      `json:"count"`
	Negative int      `json:"negative"`
	Samples  []string `json:"samples,omitempty"` // negative texts of the open minute, at most 3
	// Baselines per minute.
	MeanCount    float64 `json:"mean_count"`
	MeanNegative float64 `json:"mean_negative"`
	Open         bool    `json:"open"`
	NormalRun    int     `json:"normal_run"`
}

// Engine holds every key of one partition.
type Engine struct {
	cfg  Config
	Keys map[string]*KeyState `json:"keys"`
	// FirstMs and NewestMs bound what the engine has watched (event time;
	// the stage sets FirstMs to its start when live, so a quiet partition
	// warms up too).
	FirstMs  int64 `json:"first_ms"`
	NewestMs int64 `json:"newest_ms"`
}

// NewEngine starts empty.
func NewEngine(cfg Config) *Engine {
	return &Engine{cfg: cfg.withDefaults(), Keys: map[string]*KeyState{}}
}

// SetConfig applies cfg to an engine restored from a checkpoint.
func (e *Engine) SetConfig(cfg Config) { e.cfg = cfg.withDefaults() }

// Observe counts one message and returns the surge events of the minutes
// it closes.
func (e *Engine) Observe(m *records.SupportMessage) []records.Anomaly {
	e.NewestMs = max(e.NewestMs, m.TimeMs)
	if e.FirstMs == 0 || m.TimeMs < e.FirstMs {
		e.FirstMs = m.TimeMs
	}
	svc := m.Service
	if svc == "" {
		svc = "unattributed"
	}
	key := svc + "\x00" + m.Channel
	k := e.Keys[key]
	minute := m.TimeMs / 60_000
	if k == nil {
		k = &KeyState{Service: svc, Channel: m.Channel, Minute: minute}
		e.Keys[key] = k
	}
	out := e.advance(k, minute)
	if minute < k.Minute {
		return out // a late message of a closed minute: counted in no baseline
	}
	k.Count++
	// A complaint is clearly negative: a question the model leans slightly
	// negative on ("how long does delivery take?") must not make a surge.
	if m.Label == "negative" && m.Sentiment <= complaintScore {
		k.Negative++
		if len(k.Samples) < 3 {
			k.Samples = append(k.Samples, truncate(m.Text, 200))
		}
	}
	return out
}

// Tick closes every minute before nowMs (event time), so a surge is seen
// when its minute ends even if no later message of its key arrives.
func (e *Engine) Tick(nowMs int64) []records.Anomaly {
	var out []records.Anomaly
	for _, k := range e.Keys {
		out = append(out, e.advance(k, nowMs/60_000)...)
	}
	return out
}

// advance closes k's minutes up to (not including) minute.
func (e *Engine) advance(k *KeyState, minute int64) []records.Anomaly {
	var out []records.Anomaly
	for k.Minute < minute {
		if a := e.close(k); a != nil {
			out = append(out, *a)
		}
		// Empty minutes in between teach the baseline quickly, at most a
		// day of them.
		if minute-k.Minute > 1440 {
			k.Minute = minute - 1440
		}
		k.Minute++
		k.Count, k.Negative, k.Samples = 0, 0, nil
	}
	return out
}

// close judges the finished minute of k, then learns it.
func (e *Engine) close(k *KeyState) *records.Anomaly {
	c := e.cfg
	var ev *records.Anomaly
	threshold := k.MeanNegative + c.Z*math.Sqrt(k.MeanNegative+0.25)
	warm := (k.Minute+1)*60_000-e.FirstMs >= int64(c.WarmupMinutes)*60_000
	surging := warm && k.Negative >= c.MinNegative && float64(k.Negative) > threshold
	switch {
	case surging:
		k.NormalRun = 0
		z := (float64(k.Negative) - k.MeanNegative) / math.Sqrt(k.MeanNegative+0.25)
		ev = e.event(k, records.StateOpen, threshold, 1-math.Exp(-z/(2*c.Z)))
		k.Open = true
	case k.Open:
		k.NormalRun++
		if k.NormalRun >= c.ResolveMinutes {
			k.Open, k.NormalRun = false, 0
			ev = e.event(k, records.StateResolved, threshold, 0)
		}
	}
	// A surge teaches the baseline nothing (it would learn the outage).
	if !surging {
		k.MeanCount += c.Alpha * (float64(k.Count) - k.MeanCount)
		k.MeanNegative += c.Alpha * (float64(k.Negative) - k.MeanNegative)
	}
	return ev
}

func (e *Engine) event(k *KeyState, state string, threshold, score float64) *records.Anomaly {
	labels := map[string]string{"channel": k.Channel, "service": k.Service}
	for i, s := range k.Samples {
		labels[fmt.Sprintf("sample_%d", i+1)] = s
	}
	share := 0.0
	if k.Count > 0 {
		share = float64(k.Negative) / float64(k.Count)
	}
	labels["negative_share"] = fmt.Sprintf("%.2f", share)
	labels["messages"] = fmt.Sprint(k.Count)
	return &records.Anomaly{Kind: records.KindComplaintSurge, State: state,
		SeriesID: xxhash.Sum64String("complaints\x00" + k.Service + "\x00" + k.Channel), Metric: "support_negative_messages",
		Service: k.Service, Labels: labels, TimeMs: (k.Minute + 1) * 60_000, Value: float64(k.Negative),
		Expected: k.MeanNegative, Upper: threshold, Score: score, Direction: "up", Severity: "critical"}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.ToValidUTF8(s[:n], "")
	return cut + "…"
}
