package baseline

import (
	"math"
	"math/rand/v2"
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
		if r.Score > 0.5 {
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
	if r.Score < 0.9 || r.Deviation < 5 {
		t.Fatalf("spike scored %.2f (deviation %.1f)", r.Score, r.Deviation)
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
		if m.Update(ts, 80+rng.NormFloat64()).Score > 0.5 {
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
		if r := m.Update(int64(i)*1000, float64(i%3)); !r.Learning || r.Score != 0 {
			t.Fatalf("point %d: learning %v score %v", i, r.Learning, r.Score)
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
	var ts int64
	i := 0
	for b.Loop() {
		ts += fiveMin
		m.Update(ts, vals[i&4095])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
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
