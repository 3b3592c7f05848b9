package nab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Result keys, used in Results.Thresholds/Raw/Null/Perfect and in JSON.
const (
	KeyStandard    = "standard"
	KeyRewardLowFP = "reward_low_FP"
	KeyRewardLowFN = "reward_low_FN"
)

// profileKeys maps result keys to NAB profile names, in output order.
var profileKeys = [...]struct{ key, profile string }{
	{KeyStandard, ProfileStandard},
	{KeyRewardLowFP, ProfileRewardLowFP},
	{KeyRewardLowFN, ProfileRewardLowFN},
}

// Results is a detector's NAB score on a corpus.
type Results struct {
	// Normalised NAB scores: 100 * (S - S_null) / (S_perfect - S_null).
	Standard, RewardLowFP, RewardLowFN float64
	// Thresholds chosen by the corpus-wide sweep, per profile key
	// ("standard", "reward_low_FP", "reward_low_FN"); a detection is a
	// row whose score is >= the threshold.
	Thresholds map[string]float64
	// Per-file counts and raw score at the standard profile's threshold.
	Files map[string]FileResult
	// Raw, Null and Perfect are S, S_null and S_perfect per profile key.
	Raw, Null, Perfect map[string]float64
	// Scores are the per-row anomaly scores that were scored, per file
	// (what WriteResultsCSV takes).
	Scores map[string][]float64
}

// FileResult is one file's outcome at the standard profile's threshold.
// TP counts windows detected (their first detection after the
// probationary period), FN windows not detected, FP detections outside
// windows after the probationary period. Windows lying entirely inside the
// probationary period are neither (NAB does not score them).
type FileResult struct {
	TP, FP, FN  int
	RawStandard float64
}

// JSON encodes the results as
// {"standard":…, "reward_low_FP":…, "reward_low_FN":…,
// "files": {"<category>/<file>": {"tp":…, "fp":…, "fn":…, "raw_standard":…}}}.
func (r *Results) JSON() ([]byte, error) {
	type file struct {
		TP          int     `json:"tp"`
		FP          int     `json:"fp"`
		FN          int     `json:"fn"`
		RawStandard float64 `json:"raw_standard"`
	}
	out := struct {
		Standard    float64         `json:"standard"`
		RewardLowFP float64         `json:"reward_low_FP"`
		RewardLowFN float64         `json:"reward_low_FN"`
		Files       map[string]file `json:"files"`
	}{r.Standard, r.RewardLowFP, r.RewardLowFN, make(map[string]file, len(r.Files))}
	for name, f := range r.Files {
		out.Files[name] = file{f.TP, f.FP, f.FN, f.RawStandard}
	}
	return json.Marshal(out)
}

// Summary is a short human-readable report of the results.
func (r *Results) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-15s %9s %12s %12s %12s %12s\n", "profile", "score", "threshold", "raw", "null", "perfect")
	for _, pk := range profileKeys {
		fmt.Fprintf(&b, "%-15s %9.3f %12.6g %12.4f %12.4f %12.4f\n", pk.key, r.score(pk.key),
			r.Thresholds[pk.key], r.Raw[pk.key], r.Null[pk.key], r.Perfect[pk.key])
	}
	tp, fp, fn := 0, 0, 0
	for _, f := range r.Files {
		tp, fp, fn = tp+f.TP, fp+f.FP, fn+f.FN
	}
	fmt.Fprintf(&b, "files %d, at the standard threshold: windows detected %d, missed %d, false positives %d\n", len(r.Files), tp, fn, fp)
	return b.String()
}

func (r *Results) score(key string) float64 {
	switch key {
	case KeyStandard:
		return r.Standard
	case KeyRewardLowFP:
		return r.RewardLowFP
	default:
		return r.RewardLowFN
	}
}

// sigmoid is the logistic function.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// ScaledSigmoid is NAB's weighting of a detection by its relative position
// y: 2*sigmoid(-5y) - 1, and -1 when y > 3 (far after a window). Inside a
// window y is in [-1, 0) and the value in (0, 0.987]; after a window y > 0
// and the value in [-1, 0).
func ScaledSigmoid(y float64) float64 {
	if y > 3 {
		return -1
	}
	return 2*sigmoid(-5*y) - 1
}

// maxTP is the value of a detection at the very start of a window.
var maxTP = ScaledSigmoid(-1)

// Row classes of the prepared corpus.
const (
	rowOutside   = -1 // outside every window, after the probationary period
	rowProbation = -2 // in the probationary period: never scored
)

// prepared holds, for every row of the corpus (files concatenated in
// Corpus order), its class and unweighted sweep score, plus every window.
type prepared struct {
	fileStart []int     // first global row of each file, plus the total
	class     []int32   // global window id, rowOutside or rowProbation
	unweight  []float64 // scaledSigmoid value of the row
	winBase   []int     // first global window id of each file, plus the total
	winActive []bool    // window has at least one row after probation
	winTotal  int       // number of windows (NAB's tpCount)
}

// prepare computes each row's class and unweighted score as NAB's sweeper
// does: inside a window of width w (rows) ending at row R, row i has
// position -(R-i+1)/w; outside, after a window of width w ending at R, row
// i has position (i-R)/(w-1); before any window the value is -1.
func prepare(c *Corpus) *prepared {
	p := &prepared{fileStart: make([]int, 0, len(c.Files)+1)}
	n := c.Rows()
	p.class = make([]int32, n)
	p.unweight = make([]float64, n)
	g := 0
	for _, f := range c.Files {
		p.fileStart = append(p.fileStart, g)
		base := len(p.winActive)
		p.winBase = append(p.winBase, base)
		for _, w := range f.Windows {
			p.winActive = append(p.winActive, w.Last >= f.Probation)
		}
		wi := 0          // next window
		prevRight := -1  // last row of the preceding window, -1 if none
		prevWidth := 0.0 // its width in rows
		for i := range f.Times {
			var u float64
			cls := int32(rowOutside)
			if wi < len(f.Windows) && i >= f.Windows[wi].First {
				w := f.Windows[wi]
				width := float64(w.Last - w.First + 1)
				u = ScaledSigmoid(-float64(w.Last-i+1) / width)
				cls = int32(base + wi)
				if i == w.Last {
					prevRight, prevWidth = w.Last, width
					wi++
				}
			} else if prevRight < 0 {
				u = -1
			} else {
				// NAB divides by (width - 1); a one-row window would divide
				// by zero, which we read as "far after the window".
				pos := math.Inf(1)
				if prevWidth > 1 {
					pos = math.Abs(float64(prevRight-i)) / (prevWidth - 1)
				}
				u = ScaledSigmoid(pos)
			}
			if i < f.Probation {
				cls = rowProbation
			}
			p.class[g] = cls
			p.unweight[g] = u
			g++
		}
	}
	p.fileStart = append(p.fileStart, g)
	p.winBase = append(p.winBase, len(p.winActive))
	p.winTotal = len(p.winActive)
	return p
}

// weight is a row's weighted sweep score under a profile: in a window
// u*tpWeight/maxTP, outside u*fpWeight.
func (p *prepared) weight(g int, pr Profile) float64 {
	if p.class[g] >= 0 {
		return p.unweight[g] * pr.TP / maxTP
	}
	return p.unweight[g] * pr.FP
}

// noDetections is NAB's initial threshold (above every score in [0,1]).
const noDetections = 1.1

// sweep finds the threshold maximising the corpus raw score for one
// profile, over every distinct score (a detection is score >= threshold)
// plus the "no detection" threshold. order lists global rows by descending
// score. Ties keep the highest threshold, as NAB's stable sort does.
func (p *prepared) sweep(scores []float64, order []int, pr Profile) (threshold, best float64) {
	cur := make([]float64, len(p.winActive)) // each window's current part
	winSum := 0.0
	for k, a := range p.winActive {
		if a {
			cur[k] = -pr.FN
			winSum -= pr.FN
		}
	}
	fpSum := 0.0
	threshold = noDetections
	if len(order) > 0 && scores[order[0]] >= noDetections {
		threshold = math.Inf(1)
	}
	best = fpSum + winSum
	for j := 0; j < len(order); {
		s := scores[order[j]]
		for ; j < len(order) && scores[order[j]] == s; j++ {
			g := order[j]
			switch k := p.class[g]; {
			case k == rowOutside:
				fpSum += p.weight(g, pr)
			case k >= 0:
				if w := p.weight(g, pr); w > cur[k] {
					winSum += w - cur[k]
					cur[k] = w
				}
			}
		}
		if total := fpSum + winSum; total > best {
			best, threshold = total, s
		}
	}
	return threshold, best
}

// fileScore is one file's outcome at a threshold under a profile.
type fileScore struct {
	raw        float64
	tp, fp, fn int
}

// scoreFile scores file fi at threshold th: every window with rows after
// the probationary period contributes the weight of its first detection
// (the highest weight in it, as weights fall along a window) or -fnWeight;
// every detection outside windows after the probationary period adds its
// (negative) FP weight. The FP part is summed first, then the windows in
// order, as NAB sums its score parts.
func (p *prepared) scoreFile(fi int, scores []float64, th float64, pr Profile) fileScore {
	var fs fileScore
	wlo, whi := p.winBase[fi], p.winBase[fi+1]
	part := make([]float64, whi-wlo)
	detected := make([]bool, whi-wlo)
	for g := p.fileStart[fi]; g < p.fileStart[fi+1]; g++ {
		if scores[g] < th {
			continue
		}
		switch k := int(p.class[g]); {
		case k == rowOutside:
			fs.raw += p.weight(g, pr)
			fs.fp++
		case k >= 0 && !detected[k-wlo]:
			detected[k-wlo] = true
			part[k-wlo] = p.weight(g, pr)
		}
	}
	for k := wlo; k < whi; k++ {
		switch {
		case !p.winActive[k]:
		case detected[k-wlo]:
			fs.raw += part[k-wlo]
			fs.tp++
		default:
			fs.raw -= pr.FN
			fs.fn++
		}
	}
	return fs
}

// corpusScore is the score step for one profile: sweep for the threshold,
// then sum the per-file raw scores at that threshold (NAB's "Totals").
func (p *prepared) corpusScore(scores []float64, order []int, pr Profile) (th, raw float64, files []fileScore) {
	th, _ = p.sweep(scores, order, pr)
	files = make([]fileScore, len(p.fileStart)-1)
	for fi := range files {
		files[fi] = p.scoreFile(fi, scores, th, pr)
		raw += files[fi].raw
	}
	return th, raw, files
}

// descending returns the global rows ordered by descending score.
func descending(scores []float64) []int {
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order
}

// ScoreResults scores precomputed anomaly scores (one per row, per file
// name) on the corpus. Every corpus file must have exactly one score per
// row; scores must be finite.
func ScoreResults(c *Corpus, scores map[string][]float64) (*Results, error) {
	if len(c.Files) == 0 {
		return nil, fmt.Errorf("nab: empty corpus")
	}
	for _, pk := range profileKeys {
		if _, ok := c.Profiles[pk.profile]; !ok {
			return nil, fmt.Errorf("nab: corpus has no %q profile", pk.profile)
		}
	}
	for name := range scores {
		if c.File(name) == nil {
			return nil, fmt.Errorf("nab: scores for %s, which is not in the corpus", name)
		}
	}
	flat := make([]float64, 0, c.Rows())
	for _, f := range c.Files {
		s, ok := scores[f.Name]
		if !ok {
			return nil, fmt.Errorf("nab: no scores for %s", f.Name)
		}
		if len(s) != len(f.Times) {
			return nil, fmt.Errorf("nab: %s: %d scores for %d rows", f.Name, len(s), len(f.Times))
		}
		for i, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("nab: %s: row %d: score %v is not finite", f.Name, i, v)
			}
		}
		flat = append(flat, s...)
	}
	p := prepare(c)
	if p.winTotal == 0 {
		return nil, fmt.Errorf("nab: the corpus has no anomaly windows: the normalised score is undefined")
	}
	order := descending(flat)
	// The null detector: one constant score for every row (NAB's null
	// detector), run through the same optimise-and-score steps.
	nullScores := make([]float64, len(flat))
	for i := range nullScores {
		nullScores[i] = 0.5
	}
	r := &Results{
		Thresholds: map[string]float64{},
		Files:      make(map[string]FileResult, len(c.Files)),
		Raw:        map[string]float64{},
		Null:       map[string]float64{},
		Perfect:    map[string]float64{},
		Scores:     make(map[string][]float64, len(c.Files)),
	}
	for _, f := range c.Files {
		r.Scores[f.Name] = scores[f.Name]
	}
	for _, pk := range profileKeys {
		pr := c.Profiles[pk.profile]
		th, raw, files := p.corpusScore(flat, order, pr)
		_, null, _ := p.corpusScore(nullScores, order, pr) // order is valid for a constant
		perfect := float64(p.winTotal) * pr.TP
		norm := 100 * (raw - null) / (perfect - null)
		r.Thresholds[pk.key], r.Raw[pk.key], r.Null[pk.key], r.Perfect[pk.key] = th, raw, null, perfect
		switch pk.key {
		case KeyStandard:
			r.Standard = norm
			for fi, f := range c.Files {
				fs := files[fi]
				r.Files[f.Name] = FileResult{TP: fs.tp, FP: fs.fp, FN: fs.fn, RawStandard: fs.raw}
			}
		case KeyRewardLowFP:
			r.RewardLowFP = norm
		case KeyRewardLowFN:
			r.RewardLowFN = norm
		}
	}
	return r, nil
}
