package forecast

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// Rule is one predictive alert rule: every series its selector matches is
// forecast over Horizon, and the rule fires when the forecast crosses
// Threshold (Op says which side is bad).
type Rule struct {
	Name      string         `yaml:"name"`
	Selector  string         `yaml:"selector"`
	Op        string         `yaml:"op"` // >, >=, <, <=
	Threshold float64        `yaml:"threshold"`
	Horizon   model.Duration `yaml:"horizon"`
	// Window is the trend's time constant: how much recent history the
	// slope reflects. Default Horizon/2, at least 5m (measured best of /4, /2 by
	// firebreak bench predict: as early, no false alerts): a fill-up that starts
	// must show in the slope well before the horizon.
	Window model.Duration `yaml:"window"`
	// MinHistory is how long a series must have been trended before the
	// rule predicts from it: a slope over less than its window is mostly
	// noise. Default 2×Window.
	MinHistory model.Duration `yaml:"min_history"`
	Severity   string         `yaml:"severity"`
	// For is how many consecutive evaluations must agree before the rule
	// opens or resolves (hysteresis). Default 3.
	For int `yaml:"for"`
	// Every is the event-time interval between evaluations of one series.
	// Default 30s.
	Every model.Duration `yaml:"every"`
	// Summary overrides the alert's summary line.
	Summary string `yaml:"summary"`

	matchers []*labels.Matcher
	above    bool // the bad side is above the threshold
	strict   bool
}

// RuleFile is the YAML document of --rules.
type RuleFile struct {
	Rules []*Rule `yaml:"rules"`
}

// LoadRules reads and validates a rule file.
func LoadRules(path string) ([]*Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	rs, err := ParseRules(b)
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", path, err)
	}
	return rs, nil
}

// ParseRules parses a rule file's contents, applying defaults.
func ParseRules(b []byte) ([]*Rule, error) {
	var f RuleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	names := map[string]bool{}
	for i, r := range f.Rules {
		if err := r.init(); err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i+1, r.Name, err)
		}
		if names[r.Name] {
			return nil, fmt.Errorf("rule %d: name %q used twice", i+1, r.Name)
		}
		names[r.Name] = true
	}
	return f.Rules, nil
}

func (r *Rule) init() error {
	if r.Name == "" || !model.LabelName(r.Name).IsValidLegacy() {
		return fmt.Errorf("name %q must be a valid alert name ([a-zA-Z_][a-zA-Z0-9_]*)", r.Name)
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(r.Selector)
	if err != nil {
		return fmt.Errorf("selector %q: %w", r.Selector, err)
	}
	r.matchers = ms
	switch r.Op {
	case ">":
		r.above, r.strict = true, true
	case ">=":
		r.above = true
	case "<":
		r.strict = true
	case "<=":
	default:
		return fmt.Errorf("op %q: use >, >=, < or <=", r.Op)
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		return errors.New("threshold must be a number")
	}
	if r.Horizon <= 0 {
		return errors.New("horizon must be set, e.g. 6h")
	}
	if r.Window <= 0 {
		r.Window = max(r.Horizon/2, model.Duration(5*time.Minute))
	}
	if r.MinHistory <= 0 {
		r.MinHistory = 2 * r.Window
	}
	switch r.Severity {
	case "":
		r.Severity = "warning"
	case "info", "warning", "critical":
	default:
		return fmt.Errorf("severity %q: use info, warning or critical", r.Severity)
	}
	if r.For <= 0 {
		r.For = 3
	}
	if r.Every <= 0 {
		r.Every = model.Duration(30 * time.Second)
	}
	return nil
}

// Matches reports whether a series' labels (alternating name/value
// pairs, as records decode them) satisfy the rule's selector.
func (r *Rule) Matches(get func(name string) string) bool {
	for _, m := range r.matchers {
		if !m.Matches(get(m.Name)) {
			return false
		}
	}
	return true
}

// Breached reports whether v is on the bad side of the threshold.
func (r *Rule) Breached(v float64) bool {
	switch {
	case r.above && r.strict:
		return v > r.Threshold
	case r.above:
		return v >= r.Threshold
	case r.strict:
		return v < r.Threshold
	}
	return v <= r.Threshold
}

// State is one series' state for one rule: fixed size, checkpointed with
// the series.
type State struct {
	Trend      Trend
	FirstMs    int64
	LastEvalMs int64
	Streak     int32 // consecutive evaluations disagreeing with Firing
	Firing     bool
}

// NewState starts a series on the rule.
func (r *Rule) NewState() State {
	return State{Trend: Trend{TauSec: time.Duration(r.Window).Seconds()}}
}

// Verdict is what one evaluation concluded.
type Verdict struct {
	// Changed: Firing flipped (open or resolve); Firing: the state after.
	Changed, Firing, Evaluated bool
	// BreachMs: when the forecast crosses the threshold (the point's own
	// time if it already has); 0 when it does not within the horizon.
	BreachMs int64
	// Forecast is the forecast value at BreachMs, or at the horizon.
	Forecast float64
	Fit      Fit
}

// slopeSignificance is the t-statistic a slope needs before it is
// extrapolated: a noisy flat series has slopes that come and go, and
// alerting on those would page for nothing.
const slopeSignificance = 4

// slopeCaution is how many standard errors the extrapolated slope is
// reduced by.
const slopeCaution = 2

// Observe learns a point and, at most every Every of event time,
// evaluates the rule: a linear trend, like Prometheus' predict_linear,
// with three guards against paging for noise: MinHistory of trend, a
// slope significant at slopeSignificance standard errors, extrapolated at
// its cautious end, and For agreeing evaluations.
func (r *Rule) Observe(st *State, tsMs int64, v float64) Verdict {
	st.Trend.Add(tsMs, v)
	if st.FirstMs == 0 {
		st.FirstMs = tsMs
	}
	if st.LastEvalMs != 0 && tsMs-st.LastEvalMs < time.Duration(r.Every).Milliseconds() {
		return Verdict{Firing: st.Firing}
	}
	st.LastEvalMs = tsMs
	out := Verdict{Evaluated: true}
	fit, ok := st.Trend.Fit()
	out.Fit = fit
	bad := false
	switch {
	case r.Breached(v):
		bad, out.BreachMs, out.Forecast = true, tsMs, v
	case ok && fit.Points >= 10 && tsMs-st.FirstMs >= time.Duration(r.MinHistory).Milliseconds() &&
		math.Abs(fit.Slope) >= slopeSignificance*fit.SlopeStdErr:
		// Extrapolate the slope at the cautious end of its confidence
		// interval: a breach must follow even if the trend is weaker
		// than it looks.
		fit.Slope -= math.Copysign(slopeCaution*fit.SlopeStdErr, fit.Slope)
		out.BreachMs, out.Forecast = r.firstBreach(fit, tsMs)
		bad = out.BreachMs != 0
	}
	if bad == st.Firing {
		st.Streak = 0
	} else {
		st.Streak++
		if int(st.Streak) >= r.For {
			st.Firing, st.Streak, out.Changed = bad, 0, true
		}
	}
	out.Firing = st.Firing
	return out
}

// firstBreach scans the horizon for the first forecast crossing.
func (r *Rule) firstBreach(fit Fit, tsMs int64) (int64, float64) {
	const steps = 96
	h := time.Duration(r.Horizon).Milliseconds()
	var last float64
	for i := 1; i <= steps; i++ {
		t := tsMs + h*int64(i)/steps
		f := fit.Level + fit.Slope*float64(t-fit.LastMs)/1000
		if r.Breached(f) {
			return t, f
		}
		last = f
	}
	return 0, last
}

// AppendState appends a State's checkpoint encoding to dst.
func AppendState(dst []byte, st *State) []byte {
	t := &st.Trend
	for _, f := range []float64{t.TauSec, t.yRef, t.s0, t.sx, t.sy, t.sxx, t.sxy, t.syy} {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t.lastMs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(st.FirstMs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(st.LastEvalMs))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(st.Streak))
	var flags byte
	if st.Firing {
		flags |= 1
	}
	return append(dst, flags)
}

// StateSize is the length of AppendState's encoding.
const StateSize = 11*8 + 4 + 1

// ReadState decodes AppendState's encoding.
func ReadState(b []byte, st *State) error {
	if len(b) < StateSize {
		return errors.New("forecast state: truncated")
	}
	t := &st.Trend
	for i, f := range []*float64{&t.TauSec, &t.yRef, &t.s0, &t.sx, &t.sy, &t.sxx, &t.sxy, &t.syy} {
		*f = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	t.lastMs = int64(binary.LittleEndian.Uint64(b[64:]))
	st.FirstMs = int64(binary.LittleEndian.Uint64(b[72:]))
	st.LastEvalMs = int64(binary.LittleEndian.Uint64(b[80:]))
	st.Streak = int32(binary.LittleEndian.Uint32(b[88:]))
	st.Firing = b[92]&1 != 0
	return nil
}

//go:embed default_rules.yml
var defaultRules []byte

// DefaultRules are the built-in rules (default_rules.yml): disk, error
// ratio and latency p99, for the metric names the shop workload and common
// exporters use.
func DefaultRules() []*Rule {
	rs, err := ParseRules(defaultRules)
	if err != nil {
		panic("forecast: built-in rules do not parse: " + err.Error())
	}
	return rs
}
