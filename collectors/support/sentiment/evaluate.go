package sentiment

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Report holds accuracy and macro-F1 per set and the mean accuracy per
// language, on held-out rows only. Its JSON is
//
//	{"sets": {"<set>": {"accuracy": …, "macro_f1": …}}, "languages": {"zh": {"accuracy": …}, "en": {"accuracy": …}}}
//
// Two-class figures: negative when the score is below 0, else positive. A
// set that also labels neutral texts (the airline tweets) is scored on its
// negative and positive rows; how its neutral rows are labelled is in
// Details.
type Report struct {
	Sets      map[string]SetScore      `json:"sets"`
	Languages map[string]LanguageScore `json:"languages"`
	// Details, in set order, for tables.
	Details []SetDetail `json:"-"`
}

// SetScore is one set's two-class figures.
type SetScore struct {
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
}

// LanguageScore is the mean accuracy over a language's sets.
type LanguageScore struct {
	Accuracy float64 `json:"accuracy"`
}

// SetDetail is one set's evaluation.
type SetDetail struct {
	Set      string
	Language string
	Rows     int // two-class rows evaluated
	Accuracy float64
	MacroF1  float64
	// Neutral is set for sets that label neutral texts.
	Neutral *NeutralDetail
}

// NeutralDetail says how a three-class set's rows are labelled.
type NeutralDetail struct {
	Rows                              int     // neutral rows evaluated
	Accuracy, MacroF1                 float64 // three classes, with the model's neutral band
	AsNegative, AsNeutral, AsPositive float64 // shares of the neutral rows
}

// Evaluate scores the model on every row of dataDir it neither trained nor
// tuned on: files without their own split, and each set's test.tsv (else
// dev.tsv); never train.tsv. On the data it was trained on that is the test
// side of its split; on data it never saw (another copy, the held-out
// portions), every row.
func Evaluate(m *Model, dataDir string) (*Report, error) {
	return EvaluateScorer(m, dataDir, m)
}

// EvaluateScorer scores any Scorer (the Baseline, say) on the rows that
// Evaluate would use for model heldOutOf: the same rows, so the figures
// compare. With heldOutOf nil the rows are the test side of the default
// split (seed 1, 20%) plus each set's test.tsv (else dev.tsv).
func EvaluateScorer(s Scorer, dataDir string, heldOutOf *Model) (*Report, error) {
	sets, err := loadDir(dataDir)
	if err != nil {
		return nil, err
	}
	if heldOutOf != nil && len(heldOutOf.info.Options.Sets) > 0 {
		sets = pickSets(sets, heldOutOf.info.Options.Sets)
	}
	return evaluate(s, sets, heldOutOf)
}

func evaluate(s Scorer, sets []dataSet, heldOutOf *Model) (*Report, error) {
	seed, frac := uint64(1), 0.2
	var seen func(string) bool
	if heldOutOf != nil {
		seed, frac = heldOutOf.seed, heldOutOf.testFrac
		if len(heldOutOf.seen) > 0 {
			seen = heldOutOf.Seen
		}
	}
	rep := &Report{Sets: map[string]SetScore{}, Languages: map[string]LanguageScore{}}
	langAcc := map[string][]float64{}
	for si := range sets {
		set := &sets[si]
		bin, three := confusion{}, confusion{}
		neutral := map[string]int{}
		isThree := set.threeClass()
		evalRole := set.evalRole()
		for _, f := range set.files {
			if f.role != roleAll && f.role != evalRole {
				continue
			}
			for _, r := range f.rows {
				if seen != nil {
					if seen(r.Text) {
						continue
					}
				} else if f.role == roleAll && !splitTest(textID(r.Text), seed, frac) {
					continue
				}
				res := s.Score(r.Text, set.lang)
				if isThree {
					three[[2]string{r.Label, res.Label}]++
					if r.Label == Neutral {
						neutral[res.Label]++
						continue
					}
				}
				pred := Positive
				if res.Score < 0 {
					pred = Negative
				}
				bin[[2]string{r.Label, pred}]++
			}
		}
		n := bin.total()
		if n == 0 {
			continue
		}
		d := SetDetail{Set: set.name, Language: set.lang, Rows: n, Accuracy: round4(bin.accuracy()), MacroF1: round4(bin.macroF1(Negative, Positive))}
		if isThree {
			nn := neutral[Negative] + neutral[Neutral] + neutral[Positive]
			nd := &NeutralDetail{Rows: nn, Accuracy: round4(three.accuracy()), MacroF1: round4(three.macroF1(Negative, Neutral, Positive))}
			if nn > 0 {
				nd.AsNegative = round4(float64(neutral[Negative]) / float64(nn))
				nd.AsNeutral = round4(float64(neutral[Neutral]) / float64(nn))
				nd.AsPositive = round4(float64(neutral[Positive]) / float64(nn))
			}
			d.Neutral = nd
		}
		rep.Details = append(rep.Details, d)
		rep.Sets[set.name] = SetScore{Accuracy: d.Accuracy, MacroF1: d.MacroF1}
		langAcc[set.lang] = append(langAcc[set.lang], bin.accuracy())
	}
	if len(rep.Details) == 0 {
		return nil, fmt.Errorf("sentiment evaluate: no held-out rows (every row was used in training)")
	}
	for lang, accs := range langAcc {
		sum := 0.0
		for _, a := range accs {
			sum += a
		}
		rep.Languages[lang] = LanguageScore{Accuracy: round4(sum / float64(len(accs)))}
	}
	return rep, nil
}

// JSON is the report as one line of JSON.
func (r *Report) JSON() ([]byte, error) { return json.Marshal(r) }

// Table is the report as a Markdown table, then the language means and the
// neutral rows of three-class sets.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| set | lang | rows | accuracy | macro-F1 |\n|---|---|---|---|---|\n")
	for _, d := range r.Details {
		fmt.Fprintf(&b, "| %s | %s | %d | %.4f | %.4f |\n", d.Set, d.Language, d.Rows, d.Accuracy, d.MacroF1)
	}
	langs := make([]string, 0, len(r.Languages))
	for l := range r.Languages {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	slices.Reverse(langs) // zh, en
	for _, l := range langs {
		n := 0
		for _, d := range r.Details {
			if d.Language == l {
				n++
			}
		}
		fmt.Fprintf(&b, "mean accuracy %s over %d sets: %.4f\n", l, n, r.Languages[l].Accuracy)
	}
	for _, d := range r.Details {
		if nd := d.Neutral; nd != nil {
			fmt.Fprintf(&b, "%s: three classes accuracy %.4f, macro-F1 %.4f; its %d neutral rows were labelled negative %.2f, neutral %.2f, positive %.2f (the figures above are negative vs positive on the other rows)\n",
				d.Set, nd.Accuracy, nd.MacroF1, nd.Rows, nd.AsNegative, nd.AsNeutral, nd.AsPositive)
		}
	}
	return b.String()
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// confusion counts gold → predicted.
type confusion map[[2]string]int

func (c confusion) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c confusion) accuracy() float64 {
	right, all := 0, 0
	for k, n := range c {
		all += n
		if k[0] == k[1] {
			right += n
		}
	}
	if all == 0 {
		return 0
	}
	return float64(right) / float64(all)
}

// macroF1 averages F1 over classes.
func (c confusion) macroF1(classes ...string) float64 {
	sum := 0.0
	for _, cl := range classes {
		tp, fp, fn := 0, 0, 0
		for k, n := range c {
			switch {
			case k[0] == cl && k[1] == cl:
				tp += n
			case k[1] == cl:
				fp += n
			case k[0] == cl:
				fn += n
			}
		}
		if tp > 0 {
			p, r := float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
			sum += 2 * p * r / (p + r)
		}
	}
	return sum / float64(len(classes))
}
