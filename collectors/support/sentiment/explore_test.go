package sentiment

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestExplore trains with options from the environment (BITS, EPOCHS, LR,
// L2, WN, CN, NB, BAL; unset means the default) and reports 5-fold
// cross-validated accuracy on the training side of the split: every fold is
// trained on the other four and scored on itself, never on the test side.
// This is how the defaults of TrainOptions were chosen. Run with
// FIREBREAK_SENTIMENT_EXPLORE=1 go test -v -run Explore (a few minutes).
// SST-2's folds overstate (its phrases overlap).
func TestExplore(t *testing.T) {
	if os.Getenv("FIREBREAK_SENTIMENT_EXPLORE") == "" {
		t.Skip("set FIREBREAK_SENTIMENT_EXPLORE=1 to cross-validate training options")
	}
	f := func(k string) float64 { v, _ := strconv.ParseFloat(os.Getenv(k), 64); return v }
	o := TrainOptions{Bits: int(f("BITS")), Epochs: int(f("EPOCHS")), LearningRate: f("LR"), L2: f("L2"), WordNgrams: int(f("WN")), CharNgrams: int(f("CN")),
		NBSmoothing: f("NB"), SetBalance: f("BAL")}.withDefaults()
	sets, err := loadDir(sentimentData(t))
	if err != nil {
		t.Fatal(err)
	}
	const folds = 5
	var rows []example
	var foldOf []uint64
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
				rows = append(rows, example{text: r.Text, y: yOf(r.Label), set: si})
				foldOf = append(foldOf, mix64(id^777)%folds)
			}
		}
	}
	began := time.Now()
	right := make([]int, len(sets))
	total := make([]int, len(sets))
	for k := range uint64(folds) {
		var train, val []example
		for i, e := range rows {
			if foldOf[i] == k {
				val = append(val, e)
			} else {
				train = append(train, e)
			}
		}
		m := fit(train, o, io.Discard, "explore")
		for _, e := range val {
			total[e.set]++
			if (m.score(e.text, 1) >= 0) == (e.y == 1) {
				right[e.set]++
			}
		}
	}
	sum := map[string]float64{}
	cnt := map[string]int{}
	out := ""
	for si, s := range sets {
		acc := float64(right[si]) / float64(total[si])
		out += fmt.Sprintf("%-26s %s %6d %.4f\n", s.name, s.lang, total[si], acc)
		sum[s.lang] += acc
		cnt[s.lang]++
	}
	t.Logf("%+v, %d folds in %v\n%szh %.4f en %.4f", o, folds, time.Since(began).Round(time.Second), out, sum["zh"]/float64(cnt["zh"]), sum["en"]/float64(cnt["en"]))
}
