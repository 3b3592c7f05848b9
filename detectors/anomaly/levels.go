package anomaly

import "math"

// levelBins log-spaced bins of the recent deviation level: bin 0 below
// 0.25 sigma, then quarter octaves up to the cap of 50.
const levelBins = 32

// levelBinByLog defines the bins: 1 + ⌊4·log2(x/0.25)⌋ from 0.25 up, as
// math.Log2 rounds it, for finite x. A logarithm per point was a tenth of
// the detector's time, so levelBin finds the same bin among precomputed
// bin floors instead.
func levelBinByLog(x float64) int {
	if x < 0.25 {
		return 0
	}
	return min(levelBins-1, 1+int(4*math.Log2(x/0.25)))
}

// levelFloors[k] is the smallest x that levelBinByLog puts in bin k or
// above (k ≥ 1; entry 0 is unused; entries from levelBins on are +Inf, so
// levelBin can look past the last bin). They are found by bisection over
// the float64 values, so that levelBin agrees with levelBinByLog to the
// last bit, edges included (TestLevelBinMatchesLog checks around every
// edge).
var levelFloors = func() (floors [levelBins + 8]float64) {
	for k := 1; k < levelBins; k++ {
		edge := 0.25 * math.Exp2(float64(k-1)/4)
		// Positive float64s order like their bit patterns: bisect the bits
		// between a value clearly below the edge and one clearly above.
		lo, hi := math.Float64bits(edge*(1-1e-9)), math.Float64bits(edge*(1+1e-9))
		if levelBinByLog(math.Float64frombits(lo)) >= k || levelBinByLog(math.Float64frombits(hi)) < k {
			panic("anomaly: level bin edge not bracketed")
		}
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if levelBinByLog(math.Float64frombits(mid)) >= k {
				hi = mid
			} else {
				lo = mid
			}
		}
		floors[k] = math.Float64frombits(hi)
	}
	for k := levelBins; k < len(floors); k++ {
		floors[k] = math.Inf(1)
	}
	return floors
}()

// levelBin is levelBinByLog without the logarithm. The binary exponent
// of x/0.25 is its octave e, and bins 4e+1 … 4e+4 are that octave's
// quarters; the edges levelBinByLog rounds may lie a few ulps either side
// of the octave's bounds, so x is compared with the five floors from
// 4e+1 to 4e+5 and the bin is 4e plus how many it reaches. No branches
// to mispredict. NaN falls in bin 0.
func levelBin(x float64) int {
	if !(x >= levelFloors[1]) {
		return 0
	}
	if x >= levelFloors[levelBins-1] {
		return levelBins - 1
	}
	// The exponent of x plus 2 (x/0.25 = 4x): 0 to 7 here; the mask
	// tells the compiler so.
	e := (int(math.Float64bits(x)>>52) - 1021) & 7
	f := (*[5]float64)(levelFloors[4*e+1:])
	return 4*e + b2i(x >= f[0]) + b2i(x >= f[1]) + b2i(x >= f[2]) + b2i(x >= f[3]) + b2i(x >= f[4])
}

// b2i is 1 for true: the compiler makes it a flag-to-register move, not a
// branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
