package baseline

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

const fiveMin = 5 * 60 * 1000

// daily makes a series with a daily cycle and noise.
func daily(ts int64, rng *rand.Rand) float64 {
	phase := float64(ts%dayMs) / dayMs
	return 100 + 40*math.Sin(2*math.Pi*phase) + rng.NormFloat64()*2
}

func TestLearnsDailySeasonalityAndScoresSpikes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := New(DefaultConfig())
	var ts int64 = 1_700_000_000_000
	var last Result
	for i := 0; i < 5*288; i++ { // five days at 5-minute cadence
		ts += fiveMin
		last = m.Update(ts, daily(ts, rng))
	}
	if m.Seasonality() != SeasonDaily {
		t.Fatalf("seasonality %v after five days of a daily cycle", m.Seasonality())
	}
	if last.Learning {
		t.Fatal("still learning after five days")
	}
	// A normal day: expectations within a few noise sigmas, low scores.
	worst, high := 0.0, 0
	for i := 0; i < 288; i++ {
		ts += fiveMin
		v := daily(ts, rng)
		r := m.Update(ts, v)
		worst = math.Max(worst, math.Abs(r.Expected-v))
		if r.Score() > 0.5 {
			high++
		}
		if r.Lower > r.Expected || r.Upper < r.Expected {
			t.Fatalf("band [%v, %v] does not contain expected %v", r.Lower, r.Upper, r.Expected)
		}
	}
	if worst > 12 {
		t.Errorf("worst error on a normal day %.1f (noise sd 2, amplitude 40)", worst)
	}
	if high > 3 {
		t.Errorf("%d of 288 normal points scored above 0.5", high)
	}
	// A spike of 15 sigma is unmistakable.
	ts += fiveMin
	r := m.Update(ts, daily(ts, rng)+30)
	if r.Score() < 0.9 || r.Deviation < 5 {
		t.Fatalf("spike scored %.2f (deviation %.1f)", r.Score(), r.Deviation)
	}
}

func TestAdoptsLevelShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := New(DefaultConfig())
	var ts int64
	for i := 0; i < 500; i++ {
		ts += fiveMin
		m.Update(ts, 50+rng.NormFloat64())
	}
	high := 0
	for i := 0; i < 100; i++ {
		ts += fiveMin
		if m.Update(ts, 80+rng.NormFloat64()).Score() > 0.5 {
			high++
		}
	}
	if high < 3 || high > 10 {
		t.Fatalf("a level shift scored high on %d of 100 points; want the first few only", high)
	}
	if e := m.Expect(ts + fiveMin); math.Abs(e-80) > 3 {
		t.Fatalf("expected %.1f after the shift, want ~80", e)
	}
}

func TestLearningStateAndBadValues(t *testing.T) {
	m := New(DefaultConfig())
	for i := 0; i < 29; i++ {
		if r := m.Update(int64(i)*1000, float64(i%3)); !r.Learning || r.Score() != 0 {
			t.Fatalf("point %d: learning %v score %v", i, r.Learning, r.Score())
		}
	}
	m.Update(30_000, math.NaN())
	m.Update(31_000, math.Inf(1))
	if math.IsNaN(m.Expect(32_000)) || math.IsInf(m.Expect(32_000), 0) {
		t.Fatal("NaN/Inf reached the state")
	}
}

func TestStateSize(t *testing.T) {
	if size := unsafe.Sizeof(Model{}); size > 2048 {
		t.Fatalf("model state %d bytes, budget 2 KB", size)
	} else {
		t.Logf("model state: %d bytes per series (daily and weekly profiles)", size)
	}
}

func BenchmarkUpdate(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = daily(int64(i)*fiveMin, rng)
	}
	m := New(DefaultConfig())
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	var ts int64
	i := 0
	for b.Loop() {
		ts += fiveMin
		m.Update(ts, vals[i&4095])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		// The machine may be shared: CPU time gives the per-core rate.
		b.ReportMetric(float64(b.N)/cpu, "points/cpu-s")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func TestLearnsTrendAndForecasts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m := New(DefaultConfig())
	var ts int64
	slopePerHour := 0.5 // e.g. disk percent per hour
	for i := 0; i < 600; i++ {
		ts += fiveMin
		m.Update(ts, 40+slopePerHour*float64(ts)/3.6e6+rng.NormFloat64()*0.2)
	}
	if got := m.Trend() * 3600; math.Abs(got-slopePerHour) > 0.1 {
		t.Fatalf("trend %.3f/h, want %.1f/h", got, slopePerHour)
	}
	now := 40 + slopePerHour*float64(ts)/3.6e6
	if f := m.Expect(ts + 3600_000); math.Abs(f-(now+slopePerHour)) > 0.5 {
		t.Fatalf("one-hour forecast %.2f, want ~%.2f", f, now+slopePerHour)
	}
}

// TestIntervalFactorsTable: the tabulated factors are the ones the
// functions compute, to the last bit, and intervals off the table (not
// whole seconds, longer than an hour, out of order) are computed.
func TestIntervalFactorsTable(t *testing.T) {
	for _, dt := range []int64{0, 1, 999, 1000, 15_000, 15_003, 60_000, fiveMin, 3_599_999,
		maxTabulatedSeconds * 1000, maxTabulatedSeconds*1000 + 1000, 7 * dayMs, -1000, -fiveMin} {
		got := factorsFor(dt)
		want := intervalFactors{trendHorizon(float64(dt)), slowRate(float64(dt))}
		if math.Float64bits(got.horizon) != math.Float64bits(want.horizon) ||
			math.Float64bits(got.slowRate) != math.Float64bits(want.slowRate) {
			t.Fatalf("dt %d ms: factors %+v, computed %+v", dt, got, want)
		}
	}
	for s := range wholeSecondFactors {
		dt := float64(s * 1000)
		if got := wholeSecondFactors[s]; got.horizon != trendHorizon(dt) || got.slowRate != slowRate(dt) {
			t.Fatalf("%d s: table %+v", s, got)
		}
	}
}

// TestResultProfile: Result.Profile is what Profile said just before the
// point was learned, on every path (learning, NaN, out of order).
func TestResultProfile(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m := New(DefaultConfig())
	ts := int64(1_700_000_000_000)
	for i := 0; i < 4*288; i++ {
		ts += fiveMin
		at, v := ts, daily(ts, rng)
		switch i % 97 {
		case 13:
			v = math.NaN()
		case 41:
			at = ts - 3*fiveMin
		}
		want := m.Profile(at)
		if r := m.Update(at, v); math.Float64bits(r.Profile) != math.Float64bits(want) {
			t.Fatalf("point %d: Result.Profile %v, Profile before the update %v", i, r.Profile, want)
		}
	}
	if m.Seasonality() != SeasonDaily {
		t.Fatalf("seasonality %v: the test meant to cover a seasonal profile", m.Seasonality())
	}
}
