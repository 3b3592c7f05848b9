package forecast

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/firebreak-aiops/firebreak/detectors/baseline"
)

const diskRule = `
rules:
  - name: DiskWillFill
    selector: 'disk_used_ratio{mountpoint="/"}'
    op: '>'
    threshold: 0.9
    horizon: 6h
    severity: critical
`

func TestParseRulesDefaultsAndErrors(t *testing.T) {
	rs, err := ParseRules([]byte(diskRule))
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.For != 3 || r.Window != ModelDuration(3*time.Hour) || r.MinHistory != ModelDuration(6*time.Hour) || r.Every != ModelDuration(30*time.Second) || r.Severity != "critical" {
		t.Fatalf("defaults: %+v", r)
	}
	get := func(m map[string]string) func(string) string { return func(n string) string { return m[n] } }
	if !r.Matches(get(map[string]string{"__name__": "disk_used_ratio", "mountpoint": "/"})) ||
		r.Matches(get(map[string]string{"__name__": "disk_used_ratio", "mountpoint": "/boot"})) {
		t.Fatal("selector matching wrong")
	}
	for _, bad := range []string{
		"rules: [{name: X, selector: 'up', op: '!=', threshold: 1, horizon: 1h}]",
		"rules: [{name: X, selector: 'up{', op: '>', threshold: 1, horizon: 1h}]",
		"rules: [{name: X, selector: 'up', op: '>', threshold: 1}]",
		"rules: [{name: 'bad name', selector: 'up', op: '>', threshold: 1, horizon: 1h}]",
		"rules: [{name: X, selector: 'up', op: '>', threshold: 1, horizon: 1h, severity: page}]",
		"rules: [{name: X, selector: 'up', op: '>', threshold: 1, horizon: 1h, colour: red}]",
		"rules: [{name: X, selector: 'up', op: '>', threshold: 1, horizon: 1h}, {name: X, selector: 'up', op: '>', threshold: 1, horizon: 1h}]",
	} {
		if _, err := ParseRules([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// run streams a series through a baseline and the rule the way the
// detector stage does and returns when the rule first fired (0: never).
func run(t *testing.T, r *Rule, start time.Time, step time.Duration, n int, value func(i int) float64) (firedAt int64, breachAt int64, actualBreach int64) {

	t.Helper()
	m := baseline.New(baseline.DefaultConfig()) // the stage predicts only after the baseline's warm-up
	st := r.NewState()
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step).UnixMilli()
		v := value(i)
		m.Update(ts, v)
		if actualBreach == 0 && r.Breached(v) {
			actualBreach = ts
		}
		if m.Learning() {
			continue
		}
		vd := r.Observe(&st, ts, v)
		if vd.Changed && vd.Firing && firedAt == 0 {
			firedAt, breachAt = ts, vd.BreachMs
		}
	}
	return
}

func TestDiskFillingFiresHoursAhead(t *testing.T) {
	rs, _ := ParseRules([]byte(diskRule))
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// 40% full for a day, then filling at 4%/h from day 1 (full at ~+12.5 h).
	fill := func(i int) float64 {
		v := 0.4 + 0.002*rng.NormFloat64()
		if h := float64(i)/60 - 24; h > 0 {
			v += 0.04 * h
		}
		return math.Min(v, 1)
	}
	fired, breach, actual := run(t, rs[0], start, time.Minute, 48*60, fill)
	if fired == 0 || actual == 0 {
		t.Fatalf("fired %d, actual breach %d", fired, actual)
	}
	lead := time.Duration(actual-fired) * time.Millisecond
	errPred := time.Duration(breach-actual) * time.Millisecond
	t.Logf("lead time %v, predicted breach off by %v", lead, errPred)
	// The first alert comes from a cautious slope (the low end of its
	// confidence interval, a window still mixing the flat past): it fires
	// hours ahead and says the breach is later than it will be, not sooner.
	if lead < 3*time.Hour {
		t.Errorf("lead time %v, want ≥ 3h of a 6h horizon", lead)
	}
	if errPred < -30*time.Minute || errPred > 3*time.Hour {
		t.Errorf("predicted breach off by %v", errPred)
	}
}

func TestNoFalsePredictionsOnSeriesThatNeverBreach(t *testing.T) {
	rs, err := ParseRules([]byte(strings.Replace(diskRule, `{mountpoint="/"}`, "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// Linear trends (like Prometheus' predict_linear) on series without a
	// trend: noise and short cycles must not be extrapolated. Seasonal
	// series are measured by the benchmark (BENCHMARKS.md).
	type gen func(rng *rand.Rand) func(i int) float64
	cases := map[string]gen{
		"flat noisy": func(rng *rand.Rand) func(int) float64 {
			return func(int) float64 { return 0.6 + 0.03*rng.NormFloat64() }
		},
		"hourly log rotation sawtooth 0.5–0.7": func(rng *rand.Rand) func(int) float64 {
			return func(i int) float64 { return 0.5 + 0.2*float64(i%60)/60 + 0.002*rng.NormFloat64() }
		},
		"random walk with mean reversion": func(rng *rand.Rand) func(int) float64 {
			x := 0.0
			return func(int) float64 { x = 0.995*x + 0.004*rng.NormFloat64(); return 0.6 + x }
		},
	}
	for name, mk := range cases {
		for seed := uint64(0); seed < 3; seed++ {
			fired, _, _ := run(t, rs[0], start, time.Minute, 7*1440, mk(rand.New(rand.NewPCG(seed, 7))))
			if fired != 0 {
				t.Errorf("%s (seed %d): predictive alert at %v", name, seed, time.UnixMilli(fired).UTC())
			}
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	rs, _ := ParseRules([]byte(diskRule))
	st := rs[0].NewState()
	for i := 0; i < 100; i++ {
		rs[0].Observe(&st, int64(i)*60_000, 0.5+0.001*float64(i))
	}
	var back State
	if err := ReadState(AppendState(nil, &st), &back); err != nil || back != st {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, st, back)
	}
}

func ModelDuration(d time.Duration) model.Duration { return model.Duration(d) }

func TestDefaultRulesParse(t *testing.T) {
	if rs := DefaultRules(); len(rs) != 3 {
		t.Fatalf("%d built-in rules", len(rs))
	}
}
