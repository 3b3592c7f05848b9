package logdetect

import "math"

// rate is a robust EWMA baseline of a per-minute count (a template's
// lines, a service's error and warning lines). Minutes without lines are
// zeros, folded in lazily when the next count arrives, so a rate that is
// not touched costs nothing. Counts far above the baseline are clamped
// before they are learned (winsorized), so a surge raises the baseline
// only slowly and keeps being reported while it lasts.
type rate struct {
	mean    float64 // EWMA of the count per minute
	dev     float64 // EWMA of |count − mean|
	minutes uint32  // minutes learned, zeros included (saturating)
	last    int64   // the last minute learned (unix minutes); 0: none
}

// zeroFoldLimit bounds the zero minutes folded in one step: after that many
// (α = 0.1: 0.9^240 ≈ 1e-11) the baseline is zero for any purpose.
const zeroFoldLimit = 240

// advance learns the zero minutes between the last learned minute and m.
func (r *rate) advance(m int64, alpha float64) {
	if r.last == 0 || m <= r.last+1 {
		return
	}
	gap := m - r.last - 1
	k := min(gap, zeroFoldLimit)
	for range k {
		r.dev = (1-alpha)*r.dev + alpha*r.mean
		r.mean *= 1 - alpha
	}
	if gap > k {
		r.mean, r.dev = 0, 0
	}
	r.minutes = satAdd(r.minutes, gap)
	r.last = m - 1
}

// scale is the count's robust spread: the mean absolute deviation as a
// standard deviation, at least Poisson's √mean, at least 1.
func (r *rate) scale() float64 {
	return max(r.dev*1.2533, math.Sqrt(r.mean), 1)
}

// verdict is what a rate says of one minute's count.
type verdict struct {
	expected, upper float64
	z               float64 // (count − expected) / scale
	surge           bool
	score           float64
}

// observe judges count c of minute m against the baseline (after folding
// in the zero minutes before it), then learns it. warmMinutes: a rate
// judges only after that many minutes.
func (r *rate) observe(m int64, c float64, t *thresholds) verdict {
	if m <= r.last {
		return verdict{} // a minute already learned (cannot happen in order)
	}
	r.advance(m, t.alpha)
	sc := r.scale()
	v := verdict{expected: r.mean, upper: r.mean + t.sigmas*sc}
	v.z = (c - r.mean) / sc
	warm := r.last != 0 && int(r.minutes) >= t.warmMinutes
	if warm && c >= t.minCount && c >= t.factor*r.mean && v.z >= t.sigmas {
		v.surge = true
		v.score = 1 - 0.5*t.sigmas/v.z // 0.5 at the threshold, → 1
	}
	x := c
	if warm {
		x = min(c, v.upper)
	}
	if r.last == 0 {
		r.mean, r.dev = x, 0 // the first minute (often partial) seeds the level
	} else {
		r.dev = (1-t.alpha)*r.dev + t.alpha*math.Abs(x-r.mean)
		r.mean = (1-t.alpha)*r.mean + t.alpha*x
	}
	r.minutes = satAdd(r.minutes, 1)
	r.last = m
	return v
}

// thresholds are a surge's conditions (Config's, resolved once).
type thresholds struct {
	alpha       float64
	sigmas      float64
	factor      float64
	minCount    float64
	warmMinutes int
}

func satAdd(a uint32, b int64) uint32 {
	if b <= 0 {
		return a
	}
	if int64(a)+b > math.MaxUint32 {
		return math.MaxUint32
	}
	return a + uint32(b)
}
