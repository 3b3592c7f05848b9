package sentiment

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// TrainOptions adjust Train. The zero value trains the shipped model.
type TrainOptions struct {
	// Seed drives the split, the held-back rows and the order of the
	// examples. Same data, options and seed give the same model file,
	// byte for byte. Default 1.
	Seed uint64 `json:"seed"`
	// TestFraction of each file without its own split (no train/test.tsv)
	// goes to the test side, by a hash of the normalized text. Default 0.2.
	TestFraction float64 `json:"test_fraction"`
	// HoldBack is the fraction of the training side held back to choose the
	// neutral band (sets with neutral rows only). Default 0.1.
	HoldBack float64 `json:"hold_back"`
	// Bits: the model has 2^Bits weights (2 bytes each in the file, before
	// gzip). Default 21.
	Bits int `json:"bits"`
	// WordNgrams is the longest n-gram of English words (1–3). Default 2.
	WordNgrams int `json:"word_ngrams"`
	// CharNgrams is the longest n-gram of Han characters (1–3). Default 3.
	CharNgrams int `json:"char_ngrams"`
	// Epochs over the training rows. Default 6.
	Epochs int `json:"epochs"`
	// LearningRate of AdaGrad. Default 0.2.
	LearningRate float64 `json:"learning_rate"`
	// L2 regularization per update. Default 1e-6.
	L2 float64 `json:"l2"`
	// NBSmoothing is added to the positive and negative counts of each
	// feature for its naive-Bayes log-count ratio, which scales the feature
	// during training (see fit). Default 1; negative: no scaling.
	NBSmoothing float64 `json:"nb_smoothing"`
	// SetBalance weighs a row of a set with n training rows by (rows of the
	// largest set / n)^SetBalance. Default 0.5; negative: every row weighs 1.
	SetBalance float64 `json:"set_balance"`
	// NeutralBand fixes the neutral band instead of tuning it (0: tune on
	// the held-back rows of sets that label neutral texts; sets without
	// neutral rows get DefaultNeutralBand).
	NeutralBand float64 `json:"neutral_band,omitempty"`
	// MaxRowsPerSet caps the training rows taken from each set (the first
	// ones, in file order); 0 takes all. For quick runs and tests.
	MaxRowsPerSet int `json:"max_rows_per_set,omitempty"`
	// Sets restricts training and evaluation to these set folders.
	Sets []string `json:"sets,omitempty"`
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.TestFraction <= 0 || o.TestFraction >= 1 {
		o.TestFraction = 0.2
	}
	if o.HoldBack <= 0 || o.HoldBack >= 1 {
		o.HoldBack = 0.1
	}
	if o.Bits == 0 {
		o.Bits = 21
	}
	o.Bits = min(max(o.Bits, 12), 24)
	if o.WordNgrams == 0 {
		o.WordNgrams = 2
	}
	o.WordNgrams = min(max(o.WordNgrams, 1), 3)
	if o.CharNgrams == 0 {
		o.CharNgrams = 3
	}
	o.CharNgrams = min(max(o.CharNgrams, 1), 3)
	if o.Epochs <= 0 {
		o.Epochs = 6
	}
	if o.LearningRate <= 0 {
		o.LearningRate = 0.2
	}
	if o.L2 < 0 {
		o.L2 = 0
	} else if o.L2 == 0 {
		o.L2 = 1e-6
	}
	if o.NBSmoothing == 0 {
		o.NBSmoothing = 1
	}
	if o.SetBalance == 0 {
		o.SetBalance = 0.5
	}
	return o
}

// holdSalt separates the held-back draw from the test split.
const holdSalt = 0x686f6c64

// example is a training or tuning row.
type example struct {
	text string
	y    float32 // 1 positive, 0 negative; -1 neutral (tuning only)
	set  int
}

// Train reads every set folder under dataDir (layout: see data.go), trains
// a model on the training side of each set (train.tsv, or the rows a
// fixed-seed hash of the text puts outside the test side), and evaluates it
// on the rows it never saw. Neutral rows are not trained on: the model is
// negative vs positive; held-back neutral rows choose the neutral band.
// Progress goes to progress as plain lines (nil: none).
func Train(dataDir string, opts TrainOptions, progress io.Writer) (*Model, *Report, error) {
	if progress == nil {
		progress = io.Discard
	}
	o := opts.withDefaults()
	began := time.Now()
	sets, err := loadDir(dataDir)
	if err != nil {
		return nil, nil, err
	}
	sets = pickSets(sets, o.Sets)
	if len(sets) == 0 {
		return nil, nil, fmt.Errorf("sentiment train: none of the sets %v under %s", o.Sets, dataDir)
	}
	var train, tune []example
	infos := make([]SetInfo, len(sets))
	hasNeutral := false
	for si := range sets {
		s := &sets[si]
		info := SetInfo{Name: s.name, Language: s.lang}
		three := s.threeClass()
		taken := 0
		for _, f := range s.files {
			switch f.role {
			case roleAll:
				info.SplitRows = true
			case roleTrain:
			default:
				if f.role == s.evalRole() {
					info.EvalFile = f.name
					info.TestRows += len(f.rows)
				}
				continue
			}
			for _, r := range f.rows {
				id := textID(r.Text)
				if f.role == roleAll && splitTest(id, o.Seed, o.TestFraction) {
					info.TestRows++
					continue
				}
				if o.MaxRowsPerSet > 0 && taken >= o.MaxRowsPerSet {
					break
				}
				taken++
				held := three && splitTest(id, o.Seed^holdSalt, o.HoldBack)
				switch {
				case r.Label == Neutral && held:
					tune = append(tune, example{text: r.Text, y: -1, set: si})
					info.Held++
					hasNeutral = true
				case r.Label == Neutral:
					info.Neutral++
				case held:
					tune = append(tune, example{text: r.Text, y: yOf(r.Label), set: si})
					info.Held++
				case r.Label == Positive:
					train = append(train, example{text: r.Text, y: 1, set: si})
					info.Positive++
				default:
					train = append(train, example{text: r.Text, y: 0, set: si})
					info.Negative++
				}
			}
		}
		infos[si] = info
		fmt.Fprintf(progress, "train sentiment: set %s (%s): %d negative, %d positive for training, %d held back, %d neutral not used, %d test rows\n",
			s.name, s.lang, info.Negative, info.Positive, info.Held, info.Neutral, info.TestRows)
	}
	if len(train) == 0 {
		return nil, nil, fmt.Errorf("sentiment train: no training rows under %s", dataDir)
	}
	fmt.Fprintf(progress, "train sentiment: %d training rows, %d held back, read in %v\n", len(train), len(tune), time.Since(began).Round(time.Millisecond))

	band, quiet := o.NeutralBand, float32(1)
	if band <= 0 {
		band = DefaultNeutralBand
		if hasNeutral {
			// Train without the held-back polar rows, choose the band on them
			// and the held-back neutral rows, then train on everything.
			fmt.Fprintf(progress, "train sentiment: choosing the neutral band on %d held-back rows\n", len(tune))
			probe := fit(train, o, progress, "probe")
			band, quiet = chooseBand(probe, tune)
			fmt.Fprintf(progress, "train sentiment: neutral band %.2f, factor %.1f for messages without lexicon sentiment\n", band, quiet)
		}
	}
	final := slices.Clone(train)
	for _, e := range tune {
		if e.y >= 0 {
			final = append(final, e)
		}
	}
	m := fit(final, o, progress, "final")
	m.band, m.quiet = band, quiet
	m.seed, m.testFrac = o.Seed, o.TestFraction
	seen := make([]uint32, 0, len(train)+len(tune))
	for _, e := range train {
		seen = append(seen, fingerprint(textID(e.text)))
	}
	for _, e := range tune {
		seen = append(seen, fingerprint(textID(e.text)))
	}
	slices.Sort(seen)
	m.seen = slices.Compact(seen)
	m.info = ModelInfo{Sets: infos, Options: o}
	m.quantize()
	fmt.Fprintf(progress, "train sentiment: trained in %v; evaluating on the rows it never saw\n", time.Since(began).Round(time.Millisecond))
	rep, err := evaluate(m, sets, m)
	if err != nil {
		return nil, nil, err
	}
	return m, rep, nil
}

func yOf(label string) float32 {
	if label == Positive {
		return 1
	}
	return 0
}

func pickSets(sets []dataSet, names []string) []dataSet {
	if len(names) == 0 {
		return sets
	}
	var out []dataSet
	for _, s := range sets {
		if slices.Contains(names, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// fit trains logistic regression by AdaGrad on rows with y 0 or 1, in a
// seeded order, single-threaded (so the result is reproducible).
//
// Two things beyond plain logistic regression, both chosen on a validation
// slice of the training side (explore_test.go):
//
//   - NBSVM-style scaling (Wang and Manning, 2012): feature j enters as
//     |r_j|, its naive-Bayes log-count ratio between positive and negative
//     rows, instead of 1, so features that separate the classes in the counts
//     start out louder. The scale is folded into the weights at the end: the
//     model file and the scorer do not change.
//   - Set balance: a row of a small set weighs more than one of a large set,
//     (largest set / its set)^SetBalance, normalized to a mean of 1, since
//     the figure that counts is the mean accuracy over sets.
func fit(rows []example, o TrainOptions, progress io.Writer, phase string) *Model {
	m := &Model{bits: uint8(o.Bits), wordN: uint8(o.WordNgrams), charN: uint8(o.CharNgrams), lex: NewBaseline(), quiet: 1}
	m.w = make([]float32, 1<<o.Bits)
	g2 := make([]float32, 1<<o.Bits)
	var bias, g2b, lexW, g2l float64
	lr, l2 := float32(o.LearningRate), float32(o.L2)
	fr := extractRows(rows, o)
	ratio := fr.nbRatios(rows, 1<<o.Bits, o.NBSmoothing)
	rowWeight := setWeights(rows, o.SetBalance)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))
	order := make([]int32, len(rows))
	for i := range order {
		order[i] = int32(i)
	}
	for epoch := 1; epoch <= o.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var loss float64
		right := 0
		for _, k := range order {
			feats := fr.feats(int(k))
			lx := float64(fr.lex[k])
			inv := float32(1)
			if n := len(feats); n > 0 {
				inv = float32(1 / math.Sqrt(float64(n)))
			}
			var sum float32
			for _, f := range feats {
				j := f & featIndex
				x := m.w[j] * ratio[j]
				if f&featNegated != 0 {
					x = -x
				}
				sum += x
			}
			z := bias + lexW*lx + float64(sum*inv)
			p := 1 / (1 + math.Exp(-z))
			y := float64(rows[k].y)
			if (z >= 0) == (y == 1) {
				right++
			}
			loss -= y*math.Log(max(p, 1e-12)) + (1-y)*math.Log(max(1-p, 1e-12))
			gb := (p - y) * float64(rowWeight[k])
			g := float32(gb) * inv
			for _, f := range feats {
				j := f & featIndex
				gj := g * ratio[j]
				if f&featNegated != 0 {
					gj = -gj
				}
				gj += l2 * m.w[j]
				g2[j] += gj * gj
				m.w[j] -= lr * gj / float32(math.Sqrt(float64(g2[j])+1e-8))
			}
			g2b += gb * gb
			bias -= float64(lr) * gb / math.Sqrt(g2b+1e-8)
			if lx != 0 {
				gl := gb * lx
				g2l += gl * gl
				lexW -= float64(lr) * gl / math.Sqrt(g2l+1e-8)
			}
		}
		fmt.Fprintf(progress, "train sentiment: %s epoch %d/%d: log loss %.4f, training accuracy %.4f\n",
			phase, epoch, o.Epochs, loss/float64(len(rows)), float64(right)/float64(len(rows)))
	}
	for j := range m.w {
		m.w[j] *= ratio[j]
	}
	m.bias, m.lexW = float32(bias), float32(lexW)
	fmt.Fprintf(progress, "train sentiment: %s lexicon weight %.3f\n", phase, lexW)
	return m
}

// featureRows holds the features of training rows, extracted once for all
// epochs: row i's are idx[off[i]:off[i+1]], each a weight index with
// featNegated set for the features whose hash sign is negative.
type featureRows struct {
	off []int32
	idx []uint32
	lex []float32 // squashed lexicon valence
}

const (
	featNegated uint32 = 1 << 31
	featIndex          = featNegated - 1 // Bits ≤ 24 leaves the top bit free
)

func extractRows(rows []example, o TrainOptions) featureRows {
	fr := featureRows{off: make([]int32, 1, len(rows)+1), lex: make([]float32, len(rows))}
	mask := uint64(1)<<o.Bits - 1
	sc := &featScratch{}
	lex := NewBaseline()
	for i, e := range rows {
		sc.extract(e.text, o.WordNgrams, o.CharNgrams)
		for _, h := range sc.feats {
			f := uint32(h & mask)
			if h>>63 != 0 {
				f |= featNegated
			}
			fr.idx = append(fr.idx, f)
		}
		fr.off = append(fr.off, int32(len(fr.idx)))
		fr.lex[i] = float32(squash(lex.valence(e.text)))
	}
	return fr
}

func (fr *featureRows) feats(i int) []uint32 { return fr.idx[fr.off[i]:fr.off[i+1]] }

// nbRatios returns |log((p_j/‖p‖₁) / (q_j/‖q‖₁))| per weight, with p_j and
// q_j the number of positive and negative rows that have feature j plus
// smoothing; all ones when smoothing ≤ 0 (scaling off).
func (fr *featureRows) nbRatios(rows []example, size int, smoothing float64) []float32 {
	ratio := make([]float32, size)
	if smoothing <= 0 {
		for j := range ratio {
			ratio[j] = 1
		}
		return ratio
	}
	pos, neg := make([]float64, size), make([]float64, size)
	for i, e := range rows {
		counts := neg
		if e.y == 1 {
			counts = pos
		}
		for _, f := range fr.feats(i) {
			counts[f&featIndex]++
		}
	}
	var sumPos, sumNeg float64
	for j := range pos {
		pos[j] += smoothing
		neg[j] += smoothing
		sumPos += pos[j]
		sumNeg += neg[j]
	}
	for j := range ratio {
		ratio[j] = float32(math.Abs(math.Log(pos[j] / sumPos * sumNeg / neg[j])))
	}
	return ratio
}

// setWeights returns each row's weight: (rows of the largest set / rows of
// its set)^balance, scaled to a mean of 1 (all ones when balance ≤ 0).
func setWeights(rows []example, balance float64) []float32 {
	var perSet []float64
	for _, e := range rows {
		for len(perSet) <= e.set {
			perSet = append(perSet, 0)
		}
		perSet[e.set]++
	}
	largest := slices.Max(perSet)
	weightOf := make([]float64, len(perSet))
	total := 0.0
	for set, n := range perSet {
		weightOf[set] = 1
		if balance > 0 && n > 0 {
			weightOf[set] = math.Pow(largest/n, balance)
		}
		total += weightOf[set] * n
	}
	weights := make([]float32, len(rows))
	for i, e := range rows {
		weights[i] = float32(weightOf[e.set] * float64(len(rows)) / total)
	}
	return weights
}

// chooseBand picks the neutral band, and the factor for messages without
// lexicon sentiment, that maximize three-class macro-F1 on the held-back
// rows of sets with neutral rows (summed over those sets).
func chooseBand(m *Model, tune []example) (band float64, quiet float32) {
	type row struct {
		s     float64 // score before the quiet factor
		plain bool    // no lexicon sentiment
		gold  string
	}
	bySet := map[int][]row{}
	for _, e := range tune {
		z, v := m.margin(e.text)
		g := Neutral
		switch e.y {
		case 1:
			g = Positive
		case 0:
			g = Negative
		}
		bySet[e.set] = append(bySet[e.set], row{s: math.Tanh(z / 2), plain: v == 0, gold: g})
	}
	var three []int
	for set, rows := range bySet {
		if slices.ContainsFunc(rows, func(r row) bool { return r.gold == Neutral }) {
			three = append(three, set)
		}
	}
	slices.Sort(three)
	band, quiet = DefaultNeutralBand, 1
	bestF1 := -1.0
	for q := 10; q >= 1; q-- {
		qf := float32(q) / 10
		for b := 2; b < 90; b += 2 {
			bf := float64(b) / 100
			f1 := 0.0
			for _, set := range three {
				c := confusion{}
				for _, r := range bySet[set] {
					s := r.s
					if r.plain {
						s *= float64(qf)
					}
					c[[2]string{r.gold, LabelFor(Clamp(s), bf)}]++
				}
				f1 += c.macroF1(Negative, Neutral, Positive)
			}
			if f1 > bestF1+1e-9 {
				band, quiet, bestF1 = bf, qf, f1
			}
		}
	}
	return band, quiet
}
