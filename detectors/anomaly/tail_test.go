package anomaly

import (
	"math"
	"testing"
)

// ulpsApart is how many units in the last place of want got is from want.
func ulpsApart(got, want float64) float64 {
	return math.Abs(got-want) / (math.Nextafter(math.Abs(want), math.Inf(1)) - math.Abs(want))
}

// TestTailDecadesFit: the piecewise polynomial stays within a few ulps of
// the erfc-based definition everywhere it is used (the definition itself
// is only that close to the true function), piece edges included, and
// hands over to the definition beyond tailFitMax.
func TestTailDecadesFit(t *testing.T) {
	const maxUlps = 8
	worst, worstZ := 0.0, 0.0
	check := func(z float64) {
		if d := ulpsApart(tailDecades(z), tailDecadesByErfc(z)); d > worst {
			worst, worstZ = d, z
		}
	}
	for z := 1e-6; z < tailFitMax+1; z += 1.0 / 4096 {
		check(z)
	}
	for i := 1; i <= tailFitMax*tailPiecesPerUnit; i++ {
		edge := float64(i) / tailPiecesPerUnit
		check(edge)
		check(math.Nextafter(edge, 0))
	}
	for _, z := range []float64{5e-324, 1e-300, 1e-12} {
		check(z)
	}
	t.Logf("largest difference from the definition: %.1f ulp at z = %v", worst, worstZ)
	if worst > maxUlps {
		t.Fatalf("tailDecades is %.1f ulp from the definition at z = %v; want at most %d", worst, worstZ, maxUlps)
	}
	for _, z := range []float64{tailFitMax, 9.5, 37, 40, 1e3, math.Inf(1)} {
		if got, want := tailDecades(z), tailDecadesByErfc(z); got != want {
			t.Fatalf("tailDecades(%v) = %v, definition %v: beyond the fit they must agree", z, got, want)
		}
	}
	for _, z := range []float64{0, -1, math.Inf(-1)} {
		if got := tailDecades(z); got != 0 {
			t.Fatalf("tailDecades(%v) = %v, want 0", z, got)
		}
	}
	if got := tailDecades(math.NaN()); !math.IsNaN(got) {
		t.Fatalf("tailDecades(NaN) = %v, want NaN", got)
	}
}

// TestTailDecadesIncreases: the fit keeps the definition's order (a larger
// deviation is never less surprising), across piece edges too.
func TestTailDecadesIncreases(t *testing.T) {
	prev := 0.0
	for z := 1.0 / 8192; z < tailFitMax+1; z += 1.0 / 8192 {
		got := tailDecades(z)
		if got < prev {
			t.Fatalf("tailDecades(%v) = %v < %v just below", z, got, prev)
		}
		prev = got
	}
}

func BenchmarkTailDecades(b *testing.B) {
	b.Run("fit", func(b *testing.B) { benchTail(b, tailDecades) })
	b.Run("erfc", func(b *testing.B) { benchTail(b, tailDecadesByErfc) })
}

func benchTail(b *testing.B, f func(float64) float64) {
	z, sum := 0.0, 0.0
	for b.Loop() {
		z += 0.0001
		if z > 4 {
			z = 0
		}
		sum += f(z)
	}
	if math.IsNaN(sum) {
		b.Fatal("NaN")
	}
}
