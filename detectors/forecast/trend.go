// Package forecast predicts when a series will cross a threshold: an
// exponentially weighted linear trend, extrapolated over each rule's
// horizon, evaluated by rules from the configuration (metric selector,
// operator, threshold, horizon, severity).
package forecast

import "math"

// Trend is an exponentially weighted least-squares line through the
// points seen, with weights decaying with age at time constant Tau (so the
// line follows the recent slope and forgets old regimes). It keeps five
// sums relative to the newest point's time: fixed size, no window buffer,
// O(1) per point. The zero value with Tau set is ready.
type Trend struct {
	TauSec float64
	lastMs int64
	yRef   float64 // the first value: sums of y - yRef keep precision for large values
	// Weighted sums with x = seconds relative to lastMs.
	s0, sx, sy, sxx, sxy, syy float64
}

// Add learns one point. Points older than the newest are ignored.
func (t *Trend) Add(tsMs int64, y float64) {
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return
	}
	if t.s0 == 0 {
		t.yRef = y
	}
	y -= t.yRef
	if t.s0 > 0 {
		if tsMs < t.lastMs {
			return
		}
		// Move the origin to tsMs (x' = x - d) and decay the weights.
		d := float64(tsMs-t.lastMs) / 1000
		f := math.Exp(-d / t.TauSec)
		t.sxx = f * (t.sxx - 2*d*t.sx + d*d*t.s0)
		t.sxy = f * (t.sxy - d*t.sy)
		t.sx = f * (t.sx - d*t.s0)
		t.s0 *= f
		t.sy *= f
		t.syy *= f
	}
	t.lastMs = tsMs
	t.s0++
	t.sy += y
	t.syy += y * y
}

// Fit is the line at the newest point: Level (value at LastMs), Slope
// per second, residual standard deviation Sigma, the standard error of the
// slope, and the effective number of points behind it.
type Fit struct {
	LastMs      int64
	Level       float64
	Slope       float64
	Sigma       float64
	SlopeStdErr float64
	Points      float64
}

// Fit returns the current line; ok is false until the points span time.
func (t *Trend) Fit() (Fit, bool) {
	if t.s0 < 3 {
		return Fit{}, false
	}
	vx := t.sxx - t.sx*t.sx/t.s0 // weighted spread of x
	if vx <= 1e-9 {
		return Fit{}, false
	}
	b := (t.sxy - t.sx*t.sy/t.s0) / vx
	a := (t.sy - b*t.sx) / t.s0
	rss := t.syy - a*t.sy - b*t.sxy // weighted residual sum of squares
	sigma := math.Sqrt(math.Max(rss, 0) / math.Max(t.s0-2, 1))
	return Fit{LastMs: t.lastMs, Level: a + t.yRef, Slope: b, Sigma: sigma,
		SlopeStdErr: sigma / math.Sqrt(vx), Points: t.s0}, true
}
