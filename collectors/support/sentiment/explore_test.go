package sentiment

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestExplore trains with options from the environment (BITS, EPOCHS, LR,
// L2, WN, CN) on the training side minus a validation slice (12% of it),
// and reports accuracy on that slice only, never on the test side: how the
// defaults of TrainOptions were chosen. Run with
// FIREBREAK_SENTIMENT_EXPLORE=1 go test -v -run Explore. SST-2's slice
// overstates (its phrases overlap).
func TestExplore(t *testing.T) {
	if os.Getenv("FIREBREAK_SENTIMENT_EXPLORE") == "" {
		t.Skip()
	}
	f := func(k string) float64 { v, _ := strconv.ParseFloat(os.Getenv(k), 64); return v }
	o := TrainOptions{Bits: int(f("BITS")), Epochs: int(f("EPOCHS")), LearningRate: f("LR"), L2: f("L2"), WordNgrams: int(f("WN")), CharNgrams: int(f("CN"))}.withDefaults()
	sets, err := loadDir(sentimentData(t))
	if err != nil {
		t.Fatal(err)
	}
	var train []example
	val := map[int][]example{}
	for si, s := range sets {
		for _, fl := range s.files {
			if fl.role != roleAll && fl.role != roleTrain {
				continue
			}
			for _, r := range fl.rows {
				id := textID(r.Text)
				if r.Label == Neutral || fl.role == roleAll && splitTest(id, o.Seed, o.TestFraction) {
					continue
				}
				e := example{text: r.Text, y: yOf(r.Label), set: si}
				if splitTest(id, 777, 0.12) {
					val[si] = append(val[si], e)
				} else {
					train = append(train, e)
				}
			}
		}
	}
	began := time.Now()
	m := fit(train, o, os.Stderr, "explore")
	m.band = 0.1
	t.Logf("fit %v", time.Since(began))
	sum := map[string]float64{}
	cnt := map[string]int{}
	out := ""
	for si, s := range sets {
		right := 0
		for _, e := range val[si] {
			if (m.score(e.text, 1) >= 0) == (e.y == 1) {
				right++
			}
		}
		acc := float64(right) / float64(len(val[si]))
		out += fmt.Sprintf("%-26s %s %6d %.4f\n", s.name, s.lang, len(val[si]), acc)
		sum[s.lang] += acc
		cnt[s.lang]++
	}
	nz := 0
	for _, w := range m.w {
		if w != 0 {
			nz++
		}
	}
	t.Logf("%+v\n%szh %.4f en %.4f nonzero %d/%d", o, out, sum["zh"]/float64(cnt["zh"]), sum["en"]/float64(cnt["en"]), nz, len(m.w))
}
