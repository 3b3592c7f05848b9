package nab

import (
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

var (
	corpusOnce sync.Once
	corpus     *Corpus
	corpusErr  error
)

// realCorpus loads ../shared/datasets/nab once, or skips (fails under
// FIREBREAK_REQUIRE_TOOLS=1) when the dataset is absent.
func realCorpus(t testing.TB) *Corpus {
	t.Helper()
	dir := testkit.Dataset(t, "nab")
	corpusOnce.Do(func() { corpus, corpusErr = LoadCorpus(dir) })
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpus
}

// NAB's own scorer (run.py --optimize --score --normalize, commit ea702d7)
// on these 31 files, from shared/datasets/nab/README.md.
var reference = map[string][3]float64{
	"numenta":          {69.519, 62.883, 74.019},
	"windowedGaussian": {37.701, 32.721, 40.857},
}

func TestReproducesNABReferenceScores(t *testing.T) {
	c := realCorpus(t)
	for det, want := range reference {
		t.Run(det, func(t *testing.T) {
			scores, err := LoadDetectorResults(filepath.Join(c.Dir, "results", det), det, c)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r, err := ScoreResults(c, scores)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: scored %d rows in %v\n%s", det, c.Rows(), time.Since(start), r.Summary())
			got := [3]float64{r.Standard, r.RewardLowFP, r.RewardLowFN}
			for i, name := range []string{KeyStandard, KeyRewardLowFP, KeyRewardLowFN} {
				t.Logf("%s %s: got %.6f, NAB %.3f", det, name, got[i], want[i])
				if math.Abs(math.Round(got[i]*1000)/1000-want[i]) > 0.01 {
					t.Errorf("%s %s = %.6f, NAB gives %.3f", det, name, got[i], want[i])
				}
			}
		})
	}
}

// The null detector (all zeros) scores 0 and the perfect detector (1 at the
// first row of every window, 0 elsewhere: every window detected at its
// start, no false positive, NAB's S_perfect = tpWeight * windows) scores
// 100, under every profile.
func TestNullAndPerfectOnRealCorpus(t *testing.T) {
	c := realCorpus(t)
	null := map[string][]float64{}
	perfect := map[string][]float64{}
	windows := 0
	for _, f := range c.Files {
		null[f.Name] = make([]float64, len(f.Times))
		s := make([]float64, len(f.Times))
		for _, w := range f.Windows {
			s[w.First] = 1
			windows++
		}
		perfect[f.Name] = s
	}
	if len(c.Files) != 31 || windows != 53 || c.Rows() != 139187 {
		t.Fatalf("corpus: %d files, %d windows, %d rows; want 31, 53, 139187", len(c.Files), windows, c.Rows())
	}
	for name, tc := range map[string]struct {
		scores map[string][]float64
		want   float64
	}{"null": {null, 0}, "perfect": {perfect, 100}} {
		r, err := ScoreResults(c, tc.scores)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []float64{r.Standard, r.RewardLowFP, r.RewardLowFN} {
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("%s detector: %v / %v / %v, want %v", name, r.Standard, r.RewardLowFP, r.RewardLowFN, tc.want)
				break
			}
		}
	}
}

// Run streams the real corpus through a detector (here a trivial one) and
// scores it; the timing is logged.
func TestRunRealCorpus(t *testing.T) {
	c := realCorpus(t)
	start := time.Now()
	r, err := Run(c, func(string) PointScorer { return &jumpScorer{} })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Run over %d rows in %v: standard %.3f, reward_low_FP %.3f, reward_low_FN %.3f",
		c.Rows(), time.Since(start), r.Standard, r.RewardLowFP, r.RewardLowFN)
	if len(r.Files) != len(c.Files) || len(r.Scores) != len(c.Files) {
		t.Errorf("%d file results, %d score series for %d files", len(r.Files), len(r.Scores), len(c.Files))
	}
}

// jumpScorer scores a point by its jump from the previous value relative
// to the running mean absolute jump (a placeholder detector for tests).
type jumpScorer struct {
	n          int
	prev, mean float64
}

func (s *jumpScorer) Score(_ time.Time, v float64) float64 {
	d := math.Abs(v - s.prev)
	s.prev = v
	s.n++
	if s.n < 3 {
		s.mean += d
		return 0
	}
	m := s.mean / float64(s.n-1)
	s.mean += d
	if m == 0 {
		return 0
	}
	return 1 - math.Exp(-d/(4*m))
}

// BenchmarkScoreResults times the whole scoring (three profiles: sweep,
// per-file scores and the null baseline) of numenta's reference scores.
func BenchmarkScoreResults(b *testing.B) {
	c := realCorpus(b)
	scores, err := LoadDetectorResults(filepath.Join(c.Dir, "results", "numenta"), "numenta", c)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ScoreResults(c, scores); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadCorpus(b *testing.B) {
	dir := testkit.Dataset(b, "nab")
	for b.Loop() {
		if _, err := LoadCorpus(dir); err != nil {
			b.Fatal(err)
		}
	}
}
