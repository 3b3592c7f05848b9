// Package baseline learns, point by point, what a series normally looks
// like: a level with a damped trend, daily and weekly seasonal profiles that
// are switched on only when they explain the data better, and a robust
// residual scale (global, and per half-hour of the day). From that it gives
// every point an expected value, a band and an anomaly score. One Model per
// series; the state is a fixed ~1.5 KB, whatever the series' length, and
// Update does not allocate.
//
// Everything works in event time (the points' timestamps), so replaying a
// week of history and then going live behaves like a week of live data.
package baseline

import (
	"math"
)

// Profiles: a day in 48 half-hour buckets, a week in 168 hourly buckets.
const (
	dayBuckets  = 48
	weekBuckets = 168
	dayMs       = 24 * 3600 * 1000
	weekMs      = 7 * dayMs
)

// Config tunes every Model the same way: there is one configuration for
// all series, never per-series tuning.
type Config struct {
	// WarmupPoints is how many points a model sees before it scores
	// (the visible "learning" state). Default 30.
	WarmupPoints int
	// BandSigmas is the band's half-width in robust standard deviations.
	// Default 3.
	BandSigmas float64
	// LevelAlpha is the level's learning rate per point. Default 0.1.
	LevelAlpha float64
	// SeasonAlpha is the seasonal profiles' learning rate per visit of a
	// bucket. Default 0.15.
	SeasonAlpha float64
}

// DefaultConfig is the configuration the service and the benchmarks use.
func DefaultConfig() Config {
	return Config{WarmupPoints: 30, BandSigmas: 3, LevelAlpha: 0.1, SeasonAlpha: 0.15}
}

// Seasonality says which seasonal profiles a model uses.
type Seasonality uint8

const (
	SeasonNone Seasonality = iota
	SeasonDaily
	SeasonWeekly // daily and weekly
)

func (s Seasonality) String() string {
	switch s {
	case SeasonDaily:
		return "daily"
	case SeasonWeekly:
		return "weekly"
	}
	return "none"
}

// Result is what a model says about one point.
type Result struct {
	Expected     float64
	Lower, Upper float64
	// Deviation is the signed residual in robust standard deviations.
	Deviation float64
	// Profile is what Model.Profile said for the point's time before the
	// point was learned.
	Profile     float64
	Learning    bool
	Seasonality Seasonality
}

// Score is the anomaly score in [0, 1]: how unlikely the point is under
// the baseline; 0 while learning. It is derived on demand because the
// anomaly detector, the main user of Update, scores points its own way
// and need not pay for an exponential per point.
func (r Result) Score() float64 {
	if r.Learning {
		return 0
	}
	return tailScore(math.Abs(r.Deviation))
}

// Model is one series' baseline. The zero value is not ready: use New.
type Model struct {
	cfg Config

	n       uint32 // points seen
	firstMs int64
	lastMs  int64
	// Per seasonality hypothesis (none, daily, daily+weekly): a slow level
	// the profiles are learned against (half a day), and a fast offset
	// that follows short-term movement. Hypothesis 0 has only the fast one.
	slow     [3]float64
	fast     [3]float64
	trend    [3]float64 // per hypothesis, per millisecond, damped
	scale    float64    // robust residual scale (EWMA of |residual|)
	cadence  float64    // EWMA of the interval between points, ms
	run      int8       // consecutive large residuals of one sign (level-shift detector)
	runSum   [3]float64 // per hypothesis, the residuals of the run
	season   Seasonality
	day      [dayBuckets]float32
	week     [weekBuckets]float32
	dayN     [dayBuckets]uint8 // visits, saturating, for the bucket's own warm-up
	weekN    [weekBuckets]uint8
	dayScale [dayBuckets]float32 // robust residual scale per time of day
	errNone  float64             // EWMA of |error| without / with daily / with weekly seasonality
	errDaily float64
	errWeek  float64
}

// New returns a model that has seen nothing.
func New(cfg Config) *Model {
	def := DefaultConfig()
	if cfg.WarmupPoints <= 0 {
		cfg.WarmupPoints = def.WarmupPoints
	}
	if cfg.BandSigmas <= 0 {
		cfg.BandSigmas = def.BandSigmas
	}
	if cfg.LevelAlpha <= 0 {
		cfg.LevelAlpha = def.LevelAlpha
	}
	if cfg.SeasonAlpha <= 0 {
		cfg.SeasonAlpha = def.SeasonAlpha
	}
	return &Model{cfg: cfg}
}

func dayBucket(ts int64) int { return int(((ts%dayMs)+dayMs)%dayMs) / (dayMs / dayBuckets) }
func weekBucket(ts int64) int {
	return int(((ts+3*dayMs)%weekMs+weekMs)%weekMs) / (weekMs / weekBuckets)
} // weeks start Monday

// slot is a time's place in the daily and weekly profiles, found once per
// point and shared by forecasting, scale and learning.
type slot struct{ day, week int }

func slotAt(ts int64) slot { return slot{dayBucket(ts), weekBucket(ts)} }

// seasonal returns the daily and weekly components at a slot.
func (m *Model) seasonal(at slot) (d, w float64) {
	return float64(m.day[at.day]), float64(m.week[at.week])
}

// Expect is the model's forecast for ts (without updating), for forecasts
// beyond the last point: level plus damped trend plus the season in use.
func (m *Model) Expect(ts int64) float64 {
	return m.expectAll(slotAt(ts), trendHorizon(float64(ts-m.lastMs)))[m.season]
}

// expectAll forecasts a slot under each seasonality hypothesis.
func (m *Model) expectAll(at slot, h float64) [3]float64 {
	d, w := m.seasonal(at)
	return [3]float64{
		m.fast[0] + m.dampedTrend(0, h),
		m.slow[1] + m.fast[1] + m.dampedTrend(1, h) + d,
		m.slow[2] + m.fast[2] + m.dampedTrend(2, h) + d + w,
	}
}

// trendHorizonMs bounds how far the trend is extrapolated at full weight.
const trendHorizonMs = 6 * 3600 * 1000

// trendHorizon is how far (ms) the trend extrapolates over dt ms: damped,
// full slope for short horizons, flattening beyond ~6 h; 0 for dt ≤ 0. It
// is computed once per point and shared by the three hypotheses (math.Exp
// was a third of the time per point when each computed it).
func trendHorizon(dt float64) float64 {
	if dt <= 0 {
		return 0
	}
	return trendHorizonMs * (1 - math.Exp(-dt/trendHorizonMs))
}

// slowRate is the slow level's learning rate for a point dt ms after the
// previous one (time constant slowLevelMs).
func slowRate(dt float64) float64 { return 1 - math.Exp(-dt/slowLevelMs) }

// intervalFactors are trendHorizon and slowRate of one interval.
type intervalFactors struct{ horizon, slowRate float64 }

// maxTabulatedSeconds bounds the intervals whose factors are tabulated.
const maxTabulatedSeconds = 3600

// wholeSecondFactors tabulates the interval factors of every whole-second
// interval up to an hour (57 KB). Series arrive at a steady cadence of
// whole seconds (scrape intervals, NAB's 5 minutes), so a lookup replaces
// the two math.Exp per point that were a seventh of the detector's time;
// the entries come from the same functions, so the results are identical.
var wholeSecondFactors = func() *[maxTabulatedSeconds + 1]intervalFactors {
	var t [maxTabulatedSeconds + 1]intervalFactors
	for s := range t {
		dt := float64(s * 1000)
		t[s] = intervalFactors{trendHorizon(dt), slowRate(dt)}
	}
	return &t
}()

// factorsFor returns the interval factors for an interval of dt ms.
func factorsFor(dt int64) intervalFactors {
	if uint64(dt) <= maxTabulatedSeconds*1000 && dt%1000 == 0 {
		return wholeSecondFactors[dt/1000]
	}
	return computeFactors(dt)
}

func computeFactors(dt int64) intervalFactors {
	return intervalFactors{trendHorizon(float64(dt)), slowRate(float64(dt))}
}

// dampedTrend is hypothesis hyp's trend over horizon h (trendHorizon).
func (m *Model) dampedTrend(hyp int, h float64) float64 {
	if h == 0 {
		return 0
	}
	return m.trend[hyp] * h
}

// Profile is the forecast for ts without the fast offset and the trend:
// the slow level (half a day) plus the seasonal profile in use; with no
// seasonality, the slow level alone. A run of points away from it is a
// stretch that does not look like the usual days, even once the fast
// offset has followed it.
func (m *Model) Profile(ts int64) float64 { return m.profileAt(slotAt(ts)) }

func (m *Model) profileAt(at slot) float64 {
	d, w := m.seasonal(at)
	switch m.season {
	case SeasonDaily:
		return m.slow[1] + d
	case SeasonWeekly:
		return m.slow[2] + d + w
	}
	return m.slow[1]
}

// Trend is the current slope in units per second.
func (m *Model) Trend() float64 { return m.trend[m.season] * 1000 }

// Scale is the robust standard deviation of residuals.
func (m *Model) Scale() float64 { return m.scale * 1.2533 }

// Learning reports whether the model still warms up.
func (m *Model) Learning() bool { return int(m.n) < m.cfg.WarmupPoints }

// Seasonality reports the profiles in use.
func (m *Model) Seasonality() Seasonality { return m.season }

// Update learns from one point and says how it fits. Points must come in
// time order; an older point than the last is scored but not learned.
func (m *Model) Update(ts int64, v float64) Result {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e := m.Expect(m.lastMs)
		return Result{Expected: e, Lower: e, Upper: e, Profile: m.Profile(ts), Learning: m.Learning(), Seasonality: m.season}
	}
	if m.n == 0 {
		prof := m.Profile(ts)
		m.n, m.firstMs, m.lastMs = 1, ts, ts
		m.fast[0], m.slow[1], m.slow[2] = v, v, v
		return Result{Expected: v, Lower: v, Upper: v, Profile: prof, Learning: true}
	}
	dtMs := ts - m.lastMs
	dt := float64(dtMs)
	f := factorsFor(dtMs)
	at := slotAt(ts)
	exp := m.expectAll(at, f.horizon)
	expected := exp[m.season]
	resid := v - expected
	sigma := m.sigmaAt(at)
	if sigma <= 0 {
		sigma = 1e-9 + 1e-6*math.Abs(expected)
	}
	dev := resid / sigma
	learning := m.Learning()
	res := Result{
		Expected:    expected,
		Lower:       expected - m.cfg.BandSigmas*sigma,
		Upper:       expected + m.cfg.BandSigmas*sigma,
		Deviation:   dev,
		Profile:     m.profileAt(at),
		Learning:    learning,
		Seasonality: m.season,
	}
	if dt < 0 {
		return res // out of order: scored, not learned
	}
	m.lastMs = ts
	if m.cadence == 0 {
		m.cadence = dt
	} else {
		m.cadence += 0.05 * (dt - m.cadence)
	}

	// Robust learning: a point beyond 3 sigma teaches nothing unless such
	// points persist, which is a level shift: then the model adopts the new
	// level at once rather than alarming for hours while an EWMA crawls.
	if m.n > 10 && math.Abs(resid) > 3*sigma {
		if m.run == 0 || (m.run > 0) != (resid > 0) {
			m.run, m.runSum = 0, [3]float64{}
		}
		if resid > 0 {
			m.run++
		} else {
			m.run--
		}
		for h := range m.runSum {
			m.runSum[h] += v - exp[h]
		}
		m.trackErrors(v, exp, sigma)
		m.chooseSeason(ts)
		if abs8(m.run) < levelShiftPoints {
			m.learnProfiles(ts, at, v, sigma)
			return res
		}
		// Each hypothesis adopts its own mean residual over the run. The
		// seasonal ones take it in their fast offset: if it persists the
		// slow level absorbs it; if it recurs at the same time of day (or
		// week), the profile learns it.
		k := float64(abs8(m.run))
		m.fast[0] += m.runSum[0] / k
		m.fast[1] += m.runSum[1] / k
		m.fast[2] += m.runSum[2] / k
		m.run, m.runSum = 0, [3]float64{}
		m.learnProfiles(ts, at, v, sigma)
		return res
	}
	m.run, m.runSum = 0, [3]float64{}
	m.learn(ts, at, v, dt, f, exp, resid, sigma)
	return res
}

// slowLevelMs is the time constant of the level seasonal profiles are
// learned against.
const slowLevelMs = 12 * 3600 * 1000

// levelShiftPoints consecutive points beyond 3 sigma on one side make a
// level shift.
const levelShiftPoints = 5

func (m *Model) learn(ts int64, at slot, v, dt float64, f intervalFactors, exp [3]float64, resid, sigma float64) {
	// Model selection: which hypothesis predicted v best.
	m.trackErrors(v, exp, sigma)
	m.chooseSeason(ts)

	// Holt-Winters-like per hypothesis, in two time scales: profiles are
	// learned against a slow level (so the level does not swallow the
	// season), a fast offset follows what the profile does not explain yet.
	a := m.cfg.LevelAlpha
	h, slowA := f.horizon, f.slowRate
	sa := m.cfg.SeasonAlpha
	db, wb := at.day, at.week
	d, w := float64(m.day[db]), float64(m.week[wb])

	prev := [3]float64{m.fast[0], m.slow[1], m.slow[2]}
	m.fast[0] += m.dampedTrend(0, h) + a*(v-exp[0])
	m.slow[1] += m.dampedTrend(1, h) + slowA*(v-d-m.slow[1])
	m.slow[2] += m.dampedTrend(2, h) + slowA*(v-d-w-m.slow[2])
	m.fast[1] += a * (v - m.slow[1] - d - m.fast[1])
	m.fast[2] += a * (v - m.slow[2] - d - w - m.fast[2])
	if dt > 0 {
		// Each hypothesis' level slope, smoothed (Holt): it drives forecasts.
		now := [3]float64{m.fast[0], m.slow[1], m.slow[2]}
		for i := range m.trend {
			m.trend[i] = 0.98*m.trend[i] + 0.02*((now[i]-prev[i])/dt)
		}
	}
	m.day[db] += float32(m.bucketRate(sa, m.dayN[db]) * (v - m.slow[1] - d))
	m.week[wb] += float32(m.bucketRate(sa, m.weekN[wb]) * (v - m.slow[2] - d - w))
	if m.dayN[db] < 255 {
		m.dayN[db]++
	}
	// The time of day's own residual scale: an average over its first
	// visits, then a fast EWMA (rate 0.2 per visit).
	m.dayScale[db] += float32(max(0.2, 1/float64(m.dayN[db])) * (math.Abs(resid) - float64(m.dayScale[db])))
	if m.weekN[wb] < 255 {
		m.weekN[wb]++
	}
	// Scale: EWMA of |residual| of the hypothesis in use.
	ar := math.Abs(resid)
	if m.n < 10 {
		m.scale += (ar - m.scale) / float64(m.n)
	} else {
		m.scale += 0.03 * (ar - m.scale)
	}
	if m.n < math.MaxUint32 {
		m.n++
	}
}

// trackErrors updates each hypothesis' mean absolute error, on every
// point, outliers included (a hypothesis that predicts a recurring jump
// must get the credit), each error capped at 10 sigma so one wild point
// does not decide.
func (m *Model) trackErrors(v float64, exp [3]float64, sigma float64) {
	const errAlpha = 0.02
	c := 10 * sigma
	m.errNone += errAlpha * (min(math.Abs(v-exp[0]), c) - m.errNone)
	m.errDaily += errAlpha * (min(math.Abs(v-exp[1]), c) - m.errDaily)
	m.errWeek += errAlpha * (min(math.Abs(v-exp[2]), c) - m.errWeek)
}

// bucketRate is a profile bucket's learning rate: an average over its
// first visits, then the configured rate.
func (m *Model) bucketRate(sa float64, visits uint8) float64 {
	return max(sa, 1/float64(int(visits)+1))
}

// learnProfiles lets the seasonal profiles learn from a point the level
// rejected as an outlier. While a profile has not yet seen two of its
// periods it learns such points in full (a jump that recurs at the same
// time of day is the season, not an anomaly, and the profile must be able
// to learn it); afterwards it learns them clipped to 3 sigma (Huber), so
// one spike barely moves it.
func (m *Model) learnProfiles(ts int64, at slot, v, sigma float64) {
	span := ts - m.firstMs
	db, wb := at.day, at.week
	d, w := float64(m.day[db]), float64(m.week[wb])
	clip := func(x float64) float64 { return max(-3*sigma, min(3*sigma, x)) }
	rd := v - m.slow[1] - m.fast[1] - d
	rw := v - m.slow[2] - m.fast[2] - d - w
	if span >= 2*dayMs {
		rd = clip(rd)
	}
	if span >= 2*weekMs {
		rw = clip(rw)
	}
	sa := m.cfg.SeasonAlpha
	m.day[db] += float32(m.bucketRate(sa, m.dayN[db]) * rd)
	m.week[wb] += float32(m.bucketRate(sa, m.weekN[wb]) * rw)
}

// chooseSeason switches seasonal profiles on once they have seen enough
// of their period and clearly predict better (hysteresis avoids flapping).
func (m *Model) chooseSeason(ts int64) {
	span := ts - m.firstMs
	switch {
	case span >= 2*weekMs && m.errWeek < 0.85*m.errDaily && m.errWeek < 0.8*m.errNone:
		m.season = SeasonWeekly
	case span >= 2*dayMs && m.errDaily < 0.85*m.errNone:
		if m.season != SeasonWeekly || m.errDaily < 0.95*m.errWeek {
			m.season = SeasonDaily
		}
	case m.season != SeasonNone && m.errNone < 0.95*min(m.errDaily, m.errWeek):
		m.season = SeasonNone
	}
}

// sigmaAt is the residual scale at a slot: the global robust scale or,
// once a seasonal profile is in use and the time of day has been seen three
// times, that half-hour's own scale (some hours are noisier than others),
// never below half the global one.
func (m *Model) sigmaAt(at slot) float64 {
	g := m.Scale()
	if m.season == SeasonNone {
		return g
	}
	db := at.day
	if m.dayN[db] < 3 || m.dayScale[db] <= 0 {
		return g
	}
	return max(g/2, float64(m.dayScale[db])*1.2533)
}

// Cadence is the learned interval between points, in milliseconds.
func (m *Model) Cadence() float64 { return m.cadence }

// LastTimestamp is the newest point's time.
func (m *Model) LastTimestamp() int64 { return m.lastMs }

// tailScore maps a deviation in robust sigmas to [0, 1): about 0 below
// 2 sigma, 0.5 at 3.5, 0.9 near 5.5.
func tailScore(z float64) float64 {
	if z <= 2 {
		return 0
	}
	x := z - 2
	return 1 - math.Exp(-x*x/4.5)
}

func abs8(x int8) int8 {
	if x < 0 {
		return -x
	}
	return x
}
