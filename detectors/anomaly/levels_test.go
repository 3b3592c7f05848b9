package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLevelBinMatchesLog: the floor search puts every value in the bin the
// logarithm defines, including the values within a thousand ulps of each
// edge (where a rounding difference would show) and NaN.
func TestLevelBinMatchesLog(t *testing.T) {
	check := func(x float64) {
		t.Helper()
		if got, want := levelBin(x), levelBinByLog(x); got != want {
			t.Fatalf("levelBin(%v) = %d, levelBinByLog says %d", x, got, want)
		}
	}
	for k := 1; k < levelBins; k++ {
		edge := math.Float64bits(levelFloors[k])
		for d := uint64(0); d <= 1024; d++ {
			check(math.Float64frombits(edge - d))
			check(math.Float64frombits(edge + d))
		}
		// Octave bounds, where the exponent the search starts from changes.
		octave := 0.25 * math.Exp2(float64((k-1)/4))
		check(octave)
		check(math.Nextafter(octave, 0))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(rng.Float64() * 60)
		check(math.Exp2(rng.Float64()*12 - 4))
	}
	for _, x := range []float64{0, -1, 0.25, 50, 1e300} {
		check(x)
	}
	// Where the logarithm's bin is not a bin at all.
	if b := levelBin(math.NaN()); b != 0 {
		t.Fatalf("levelBin(NaN) = %d, want 0", b)
	}
	if b := levelBin(math.Inf(1)); b != levelBins-1 {
		t.Fatalf("levelBin(+Inf) = %d, want %d", b, levelBins-1)
	}
}
