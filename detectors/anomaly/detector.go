package anomaly

import (
	"math"

	"github.com/firebreak-aiops/firebreak/detectors/baseline"
)

// Config tunes every Detector the same way: one configuration for all
// series, never per-series tuning.
type Config struct {
	// Baseline configures the seasonal baseline underneath.
	Baseline baseline.Config
	// ShortPoints is the span (in points) of the recent average of
	// |deviation| that is judged. Default 3.
	ShortPoints float64
	// LongPoints is the span (in points) of the history the recent
	// average is compared with (its mean and variance). Default 300.
	LongPoints float64
	// ScoreDecades scales the surprise: a tail probability of
	// 10^-ScoreDecades maps to a score of 1-1/e. Default 5.
	ScoreDecades float64
	// SpatialTolerance: a value beyond the range seen so far by more than
	// this fraction of the range is a novelty. Default 0.05; negative
	// disables it.
	SpatialTolerance float64
	// AlertLevel: a score above it opens a hold-off period. Default 0.45.
	AlertLevel float64
	// HoldPoints: during the hold-off after an alert, only a higher
	// score gets through (one alert per problem). Default 30.
	HoldPoints int
	// WarmupPoints: points the scorer sees (after the baseline's own
	// warm-up) before it scores. Default 100.
	WarmupPoints int
	// Escalate: inside a hold-off, a score gets through only if it
	// closes this fraction of the gap between the score that opened the
	// hold-off and 1 (a clearly worse problem). Default 0.95.
	Escalate float64
	// RarityPoints is the memory (in points) of how often each level of
	// the recent deviation was reached before. Default 1000; negative
	// disables the rarity discount.
	RarityPoints float64
	// RarityCount: a level reached c times before (within RarityPoints)
	// has its surprise divided by 1 + c/RarityCount. Default 2.
	RarityCount float64
	// MediumPoints is the span (in points) of the medium-horizon term:
	// the recent average of the signed residual from the baseline's
	// profile (slow level + season, without the fast offset that follows
	// short-term movement). Default 48.
	MediumPoints float64
	// MediumWeight scales the medium-horizon term's surprise (judged
	// against its own history over LongPoints) before it competes with
	// the short one. Default 0.5; negative disables the term.
	MediumWeight float64
	// DriftPoints is the span (in points) of the drift term: the recent
	// average of the signed deviation (the residual from the baseline's
	// full forecast, in robust sigmas, clipped at ±10). Default 200.
	DriftPoints float64
	// DriftWeight scales the drift term's surprise (judged against its
	// own history over LongPoints). Default 0.7; negative disables it.
	DriftWeight float64
	// SpreadPoints is the span (in points) of the spread term: the
	// recent average of the squared deviation (local variance, clipped
	// at 10²). Default 350.
	SpreadPoints float64
	// SpreadWeight scales the spread term's surprise (judged against its
	// own history over LongPoints). Default 0.8; negative disables it.
	SpreadWeight float64
}

// DefaultConfig is the configuration the service and the benchmarks use.
func DefaultConfig() Config {
	return Config{
		Baseline:         baseline.DefaultConfig(),
		ShortPoints:      3,
		LongPoints:       300,
		ScoreDecades:     5,
		SpatialTolerance: 0.05,
		AlertLevel:       0.45,
		HoldPoints:       30,
		WarmupPoints:     100,
		Escalate:         0.95,
		RarityPoints:     1000,
		RarityCount:      2,
		MediumPoints:     48,
		MediumWeight:     0.5,
		DriftPoints:      200,
		DriftWeight:      0.7,
		SpreadPoints:     350,
		SpreadWeight:     0.8,
	}
}

func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.ShortPoints <= 0 {
		c.ShortPoints = def.ShortPoints
	}
	if c.LongPoints <= 0 {
		c.LongPoints = def.LongPoints
	}
	if c.ScoreDecades <= 0 {
		c.ScoreDecades = def.ScoreDecades
	}
	if c.SpatialTolerance == 0 {
		c.SpatialTolerance = def.SpatialTolerance
	}
	if c.AlertLevel <= 0 {
		c.AlertLevel = def.AlertLevel
	}
	if c.HoldPoints < 0 {
		c.HoldPoints = 0
	} else if c.HoldPoints == 0 {
		c.HoldPoints = def.HoldPoints
	}
	if c.WarmupPoints <= 0 {
		c.WarmupPoints = def.WarmupPoints
	}
	if c.RarityPoints == 0 {
		c.RarityPoints = def.RarityPoints
	}
	if c.RarityCount <= 0 {
		c.RarityCount = def.RarityCount
	}
	if c.MediumPoints <= 0 {
		c.MediumPoints = def.MediumPoints
	}
	if c.MediumWeight == 0 {
		c.MediumWeight = def.MediumWeight
	}
	if c.DriftPoints <= 0 {
		c.DriftPoints = def.DriftPoints
	}
	if c.DriftWeight == 0 {
		c.DriftWeight = def.DriftWeight
	}
	if c.SpreadPoints <= 0 {
		c.SpreadPoints = def.SpreadPoints
	}
	if c.SpreadWeight == 0 {
		c.SpreadWeight = def.SpreadWeight
	}
	if c.Escalate <= 0 || c.Escalate > 1 {
		c.Escalate = def.Escalate
	}
	return c
}

// Result is the baseline's view of a point plus the final anomaly score.
type Result struct {
	Expected     float64
	Lower, Upper float64
	// Deviation is the signed residual in robust standard deviations.
	Deviation   float64
	Learning    bool
	Seasonality baseline.Seasonality
	// Score is the anomaly score in [0, 1] after the hold-off (what
	// alerts and NAB use); 0 while learning.
	Score float64
	// Surprise is the score before the hold-off, in [0, 1].
	Surprise float64
}

// Detector is one series' baseline plus its anomaly scorer. Its whole
// state is a fixed size (see TestStateSize) and Update does not allocate.
// The zero value is not ready: use NewDetector.
type Detector struct {
	m baseline.Model

	// Parameters derived from the Config.
	shortA, longA float64
	decades       float64
	spatialTol    float64
	alertLevel    float64
	holdPoints    uint32
	warmup        uint32
	escalate      float64
	rarityGrow    float64 // per-point growth of the histogram's increment (lazy decay)
	rarityCount   float64
	medA, medW    float64 // medium-horizon EWMA rate and weight (0: off)
	// Slow heads' EWMA rates and weights (0: off), float32 like their
	// state: the checkpointed series must stay within 2 KB.
	driftA, driftW, spreadA, spreadW float32

	n          uint32  // points scored (after the baseline's warm-up)
	hold       uint32  // points left in the hold-off
	short      float64 // EWMA of |deviation| over ShortPoints
	mean, vari float64 // EWMA mean and variance of short over LongPoints
	minV, maxV float64 // range of values seen
	peak       float64 // score that opened / raised the hold-off
	seen       bool
	// Decayed histogram of short (levelBins log-spaced bins); histW is
	// the current weight of one point (grows instead of decaying the bins).
	hist  [levelBins]float32
	histW float64
	// Medium horizon: EWMA of the signed residual from the profile in
	// global sigmas, and the EWMA mean and variance of that average.
	med, medMean, medVar float64
	// Slow heads: EWMA of the clipped signed deviation (drift) and of the
	// clipped squared deviation (spread), each with the EWMA mean and
	// variance of that average over LongPoints.
	drift, driftMean, driftVar    float32
	spread, spreadMean, spreadVar float32
}

// NewDetector returns a detector that has seen nothing.
func NewDetector(cfg Config) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{
		m:           *baseline.New(cfg.Baseline),
		shortA:      2 / (cfg.ShortPoints + 1),
		longA:       2 / (cfg.LongPoints + 1),
		decades:     cfg.ScoreDecades,
		spatialTol:  cfg.SpatialTolerance,
		alertLevel:  cfg.AlertLevel,
		holdPoints:  uint32(cfg.HoldPoints),
		warmup:      uint32(cfg.WarmupPoints),
		escalate:    cfg.Escalate,
		rarityGrow:  rarityGrow(cfg.RarityPoints),
		rarityCount: cfg.RarityCount,
		medA:        2 / (cfg.MediumPoints + 1),
		medW:        max(cfg.MediumWeight, 0),
		driftA:      float32(2 / (cfg.DriftPoints + 1)),
		driftW:      float32(max(cfg.DriftWeight, 0)),
		spreadA:     float32(2 / (cfg.SpreadPoints + 1)),
		spreadW:     float32(max(cfg.SpreadWeight, 0)),
		histW:       1,
	}
}

func rarityGrow(points float64) float64 {
	if points < 0 {
		return 0
	}
	return 1 / (1 - 1/max(points, 2))
}

// Baseline gives read access to the baseline (forecasts, trend, cadence).
func (d *Detector) Baseline() *baseline.Model { return &d.m }

// Update feeds one point (event time ts in milliseconds) and returns how
// it fits and its anomaly score.
func (d *Detector) Update(ts int64, v float64) Result {
	r := d.m.Update(ts, v)
	res := Result{Expected: r.Expected, Lower: r.Lower, Upper: r.Upper, Deviation: r.Deviation,
		Learning: r.Learning, Seasonality: r.Seasonality}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return res
	}
	if !d.seen {
		d.seen, d.minV, d.maxV = true, v, v
	}
	if r.Learning {
		d.minV, d.maxV = min(d.minV, v), max(d.maxV, v)
		return res
	}

	// 1. Likelihood of the recent deviation level under this series' own
	// history of deviation levels (HTM-style anomaly likelihood, with
	// the baseline's robust residuals as the raw anomaly signal).
	a := min(math.Abs(r.Deviation), 50)
	d.short += d.shortA * (a - d.short)
	bin := levelBin(d.short) // the rarity lookup and the histogram share it
	d.n++
	if sig := d.m.Scale(); sig > 0 && d.medW > 0 {
		d.med += d.medA * (max(-50, min(50, (v-r.Profile)/sig)) - d.med)
	}
	dev := max(-slowCap, min(slowCap, r.Deviation))
	if d.driftW > 0 {
		d.drift += d.driftA * (float32(dev) - d.drift)
	}
	if d.spreadW > 0 {
		d.spread += d.spreadA * (float32(dev*dev) - d.spread)
	}
	surprise := 0.0 // in decades of tail probability
	if d.n > d.warmup {
		sd := max(math.Sqrt(d.vari), 0.05)
		surprise = tailDecades((d.short - d.mean) / sd)
		// Rarity: a level this series has reached many times recently
		// is its normal behaviour (recurring spikes, daily jumps).
		if d.rarityGrow > 0 && surprise > 0 {
			c := 0.0
			for _, h := range d.hist[bin:] {
				c += float64(h)
			}
			surprise /= 1 + c/d.histW/d.rarityCount
		}
		// 2. Medium horizon: a stretch of hours away from the usual
		// shape of the day (a slow drift, a holiday), which the fast
		// offset follows and the 3-point average no longer sees.
		if d.medW > 0 {
			// Below one sd the term is under 0.8 decades (a score
			// under 0.08): skip the tail computation.
			if z := math.Abs(d.med-d.medMean) / max(math.Sqrt(d.medVar), 0.05); z > 1 {
				surprise = max(surprise, d.medW*tailDecades(z))
			}
		}
		// 3. Slow heads, over a few hundred points. Drift: the baseline
		// misses on one side for hours (a slow drift its damped trend
		// does not follow, bursts that all go one way). Spread: the
		// residuals grow noisier without any single one standing out.
		// Both are judged, like the medium term, against their own
		// history, which the series' usual slow wobble inflates.
		if d.driftW > 0 {
			if z := slowZ(float64(abs32(d.drift)), d.driftMean, d.driftVar); z > 0 {
				surprise = max(surprise, float64(d.driftW)*tailDecades(z))
			}
		}
		if d.spreadW > 0 {
			if z := slowZ(float64(d.spread), d.spreadMean, d.spreadVar); z > 0 {
				surprise = max(surprise, float64(d.spreadW)*tailDecades(z))
			}
		}
		// 4. Spatial novelty: a value beyond anything seen so far.
		if d.spatialTol > 0 {
			span := d.maxV - d.minV
			if ex := max(v-d.maxV, d.minV-v); ex > d.spatialTol*span {
				surprise = max(surprise, d.decades*(1+ex/max(span, 1e-12)))
			}
		}
	}
	// Learn after scoring: a point is judged against what came before.
	delta := d.short - d.mean
	d.mean += d.longA * delta
	d.vari = (1 - d.longA) * (d.vari + d.longA*delta*delta)
	if d.medW > 0 {
		md := d.med - d.medMean
		d.medMean += d.longA * md
		d.medVar = (1 - d.longA) * (d.medVar + d.longA*md*md)
	}
	if d.driftW > 0 {
		learnMoments(&d.driftMean, &d.driftVar, abs32(d.drift), float32(d.longA))
	}
	if d.spreadW > 0 {
		learnMoments(&d.spreadMean, &d.spreadVar, d.spread, float32(d.longA))
	}
	d.minV, d.maxV = min(d.minV, v), max(d.maxV, v)
	if d.rarityGrow > 0 {
		d.hist[bin] += float32(d.histW)
		d.histW *= d.rarityGrow
		if d.histW > 1e20 {
			for i := range d.hist {
				d.hist[i] /= float32(d.histW)
			}
			d.histW = 1
		}
	}

	s := 0.0 // 1 - e^0: a point without surprise (about half) skips the exponential
	if surprise != 0 {
		s = 1 - math.Exp(-surprise/d.decades)
	}
	res.Surprise = s

	// 5. Hold-off: one alert per problem. A score above the alert level
	// opens a hold-off of HoldPoints; inside it only a clearly higher
	// score gets through (and restarts it).
	if d.holdPoints > 0 {
		if d.hold > 0 {
			d.hold--
		}
		if d.hold == 0 {
			d.peak = 0
		}
		if d.hold > 0 {
			// Inside a hold-off only a clearly stronger signal (beyond
			// the surprise that opened it) gets through.
			if s > d.peak+d.escalate*(1-d.peak) {
				d.peak, d.hold = s, d.holdPoints
			} else {
				s = 0
			}
		} else if s > d.alertLevel {
			d.peak, d.hold = s, d.holdPoints
		}
	}
	res.Score = s
	return res
}

// slowCap clips the deviation the slow heads average, in sigmas: one
// wild point must not look like hours of drift or noise.
const slowCap = 10

// slowZ is how many sds x lies above the EWMA mean of its history (sd
// at least 0.05), or 0 when that is under one: a term under 0.8 decades
// (a score under 0.08), decided without a square root for most points.
func slowZ(x float64, mean, vari float32) float64 {
	dx, v := x-float64(mean), max(float64(vari), 0.05*0.05)
	if dx <= 0 || dx*dx <= v {
		return 0
	}
	return dx / math.Sqrt(v)
}

// learnMoments moves an EWMA mean and variance towards x at rate a.
func learnMoments(mean, vari *float32, x, a float32) {
	delta := x - *mean
	*mean += a * delta
	*vari = (1 - a) * (*vari + a*delta*delta)
}

// abs32 is |x| without a round trip through float64.
func abs32(x float32) float32 { return max(x, -x) }
