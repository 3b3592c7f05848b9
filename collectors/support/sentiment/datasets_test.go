package sentiment

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The shared sentiment data sets (../shared/datasets/sentiment next to the
// repository, or FIREBREAK_SENTIMENT_DATA) are read-only development
// portions under research-only or non-commercial terms: they are read here
// to report the baseline's figures, never copied, and nothing in the
// lexicons was fitted to them.

// sentimentDataDir finds the data, or "" when absent.
func sentimentDataDir(t testing.TB) string {
	if d := os.Getenv("FIREBREAK_SENTIMENT_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "datasets", "sentiment")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// row is one labelled text; gold is negative, neutral or positive.
type row struct {
	text, gold string
}

// labelled is one file of a set.
type labelled struct {
	set, file, lang string
	rows            []row
	threeClass      bool
}

// loadSets reads every known set found under dir, with the layouts of the
// shared folder.
func loadSets(dir string) ([]labelled, error) {
	binary := func(v string) string {
		switch strings.TrimSpace(v) {
		case "1":
			return Positive
		case "0":
			return Negative
		}
		return ""
	}
	var out []labelled
	add := func(set, file, lang string, three bool, rows []row, err error) error {
		if err != nil {
			return fmt.Errorf("%s/%s: %w", set, file, err)
		}
		if len(rows) > 0 {
			out = append(out, labelled{set: set, file: file, lang: lang, rows: rows, threeClass: three})
		}
		return nil
	}
	type csvSet struct {
		set, file, lang, labelCol, textCol string
		three                              bool
	}
	for _, c := range []csvSet{
		{"chnsenticorp_htl_all", "ChnSentiCorp_htl_all.csv", "zh", "label", "review", false},
		{"online_shopping_10_cats", "online_shopping_10_cats.csv", "zh", "label", "review", false},
		{"waimai_10k", "waimai_10k.csv", "zh", "label", "review", false},
		{"twitter_us_airline", "Tweets.csv", "en", "airline_sentiment", "text", true},
	} {
		p := filepath.Join(dir, c.set, c.file)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		rows, err := readCSV(p, c.labelCol, c.textCol, func(v string) string {
			if c.three {
				return strings.TrimSpace(v)
			}
			return binary(v)
		})
		if err := add(c.set, c.file, c.lang, c.three, rows, err); err != nil {
			return nil, err
		}
	}
	// SST-2: any of train/dev/test.tsv, label column plus a text column
	// named sentence or content.
	for _, f := range []string{"train.tsv", "dev.tsv", "test.tsv"} {
		p := filepath.Join(dir, "sst2", f)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		rows, err := readTSV(p, "label", []string{"sentence", "content"}, binary)
		if err := add("sst2", f, "en", false, rows, err); err != nil {
			return nil, err
		}
	}
	// UCI sentences: three files, header sentence\tscore.
	uci, _ := filepath.Glob(filepath.Join(dir, "uci_sentiment_sentences", "*_labelled.txt"))
	sort.Strings(uci)
	for _, p := range uci {
		rows, err := readTSV(p, "score", []string{"sentence"}, binary)
		if err := add("uci_sentiment_sentences", filepath.Base(p), "en", false, rows, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readCSV(path, labelCol, textCol string, label func(string) string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		return nil, err
	}
	li, ti := -1, -1
	for i, h := range header {
		switch strings.TrimPrefix(h, "\ufeff") {
		case labelCol:
			li = i
		case textCol:
			ti = i
		}
	}
	if li < 0 || ti < 0 {
		return nil, fmt.Errorf("columns %s/%s not in header %v", labelCol, textCol, header)
	}
	var rows []row
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if li >= len(rec) || ti >= len(rec) {
			continue
		}
		if g := label(rec[li]); g != "" && strings.TrimSpace(rec[ti]) != "" {
			rows = append(rows, row{text: strings.TrimPrefix(rec[ti], "\ufeff"), gold: g})
		}
	}
}

// readTSV splits on "\n" only (some IMDB sentences hold U+0085) and on tabs.
func readTSV(path, labelCol string, textCols []string, label func(string) string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("empty file")
	}
	header := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
	li, ti := -1, -1
	for i, h := range header {
		if h == labelCol {
			li = i
		}
		for _, tc := range textCols {
			if h == tc {
				ti = i
			}
		}
	}
	if li < 0 || ti < 0 {
		return nil, fmt.Errorf("columns %s/%v not in header %v", labelCol, textCols, header)
	}
	var rows []row
	for sc.Scan() {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if li >= len(fields) || ti >= len(fields) {
			continue
		}
		if g := label(fields[li]); g != "" && strings.TrimSpace(fields[ti]) != "" {
			rows = append(rows, row{text: fields[ti], gold: g})
		}
	}
	return rows, sc.Err()
}

// confusion counts gold → predicted.
type confusion map[[2]string]int

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

// binaryOf turns a score into a two-class decision: negative below 0,
// positive otherwise (a message with no evidence counts as positive). One
// rule for every set.
func binaryOf(r Result) string {
	if r.Score < 0 {
		return Negative
	}
	return Positive
}

// TestBaselineOnSharedDatasets reports accuracy and macro-F1 per file and
// the mean per language. Binary sets: decision by the sign of the score
// (ties → positive), plus the share the baseline labels neutral and the
// accuracy on the rest. Airline tweets: three-class accuracy and macro-F1 on
// the labels, negative-vs-positive accuracy on rows that are not neutral,
// and how the neutral rows are labelled.
func TestBaselineOnSharedDatasets(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("a measurement over ~150k texts: not in -short or -race runs")
	}
	dir := sentimentDataDir(t)
	if dir == "" {
		t.Skip("shared sentiment data sets not found (../shared/datasets/sentiment or FIREBREAK_SENTIMENT_DATA)")
	}
	sets, err := loadSets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) == 0 {
		t.Skipf("no known data set under %s", dir)
	}
	b := NewBaseline()
	// Sets are keyed by folder: files of one set are pooled for the
	// per-set figure and the per-language means.
	pooled := map[string]confusion{}
	setLang := map[string]string{}
	var setOrder []string
	t.Logf("%-24s %-28s %7s %8s %8s %8s %10s", "set", "file", "rows", "acc", "macroF1", "neutral", "acc(rest)")
	for _, s := range sets {
		bin, three, decided := confusion{}, confusion{}, confusion{}
		neutral := 0
		neutralGold := map[string]int{}
		for _, r := range s.rows {
			res := b.Score(r.text, s.lang)
			if res.Label == Neutral {
				neutral++
			}
			if s.threeClass {
				three[[2]string{r.gold, res.Label}]++
				if r.gold == Neutral {
					neutralGold[res.Label]++
					continue
				}
			}
			bin[[2]string{r.gold, binaryOf(res)}]++
			if res.Label != Neutral {
				decided[[2]string{r.gold, res.Label}]++
			}
		}
		acc := bin.accuracy()
		t.Logf("%-24s %-28s %7d %8.3f %8.3f %8.3f %10.3f", s.set, s.file, len(s.rows), acc,
			bin.macroF1(Negative, Positive), float64(neutral)/float64(len(s.rows)), decided.accuracy())
		if s.threeClass {
			nn := neutralGold[Negative] + neutralGold[Neutral] + neutralGold[Positive]
			t.Logf("%-24s %-28s three classes: acc %.3f macroF1 %.3f; acc/macroF1 above are negative vs positive on %d non-neutral rows; the %d neutral rows were labelled negative %.2f, neutral %.2f, positive %.2f",
				s.set, s.file, three.accuracy(), three.macroF1(Negative, Neutral, Positive), len(s.rows)-nn, nn,
				float64(neutralGold[Negative])/float64(nn), float64(neutralGold[Neutral])/float64(nn), float64(neutralGold[Positive])/float64(nn))
		}
		if pooled[s.set] == nil {
			pooled[s.set] = confusion{}
			setLang[s.set] = s.lang
			setOrder = append(setOrder, s.set)
		}
		for k, n := range bin {
			pooled[s.set][k] += n
		}
		// A regression guard, far below the figures: the lexicons must keep
		// doing better than a coin on every set.
		if acc < 0.6 {
			t.Errorf("%s/%s: accuracy %.3f below 0.6", s.set, s.file, acc)
		}
	}
	langAcc := map[string][]float64{}
	for _, set := range setOrder {
		c := pooled[set]
		t.Logf("set %-24s (%s) accuracy %.3f macroF1 %.3f", set, setLang[set], c.accuracy(), c.macroF1(Negative, Positive))
		langAcc[setLang[set]] = append(langAcc[setLang[set]], c.accuracy())
	}
	for _, lang := range []string{"zh", "en"} {
		if a := langAcc[lang]; len(a) > 0 {
			sum := 0.0
			for _, x := range a {
				sum += x
			}
			t.Logf("mean accuracy %s over %d sets: %.3f", lang, len(a), sum/float64(len(a)))
		}
	}
}
