package sentiment

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Labelled data, as laid out in ../shared/datasets/sentiment: DIR holds one
// folder per set; each folder holds CSV (.csv) or tab-separated (.tsv, .txt)
// files with a header naming a label column and a text column. What is read:
//
//   - label column: label, airline_sentiment, sentiment, polarity or score;
//     values 1/0, positive/negative/neutral (pos/neg/neu), -1 for negative;
//   - text column: review, text, sentence or content;
//   - a two-column tab-separated file without a header (text, then a 0/1
//     label) is read too: the UCI sentence files in their original form;
//   - files named train.tsv, dev.tsv and test.tsv (any extension) are a
//     set's own split: training reads train, evaluation reads test, or dev
//     when there is no test; every other file is split by text (see
//     splitTest);
//   - README, LICENSE and other files without the columns are skipped.
//
// A set's language is that of most of its texts (Han characters mean zh).

// Example is one labelled text.
type Example struct {
	Text  string
	Label string // Negative, Neutral or Positive
}

// fileRole says what a file is for.
type fileRole uint8

const (
	roleAll   fileRole = iota // split by text: train side and test side
	roleTrain                 // train.tsv
	roleDev                   // dev.tsv
	roleTest                  // test.tsv
)

// dataFile is one file of a set.
type dataFile struct {
	name string
	role fileRole
	rows []Example
}

// dataSet is one folder.
type dataSet struct {
	name  string
	lang  string
	files []dataFile
}

// threeClass reports whether the set labels neutral texts.
func (s *dataSet) threeClass() bool {
	for _, f := range s.files {
		for _, r := range f.rows {
			if r.Label == Neutral {
				return true
			}
		}
	}
	return false
}

// hasTest reports whether the set has a test.tsv.
func (s *dataSet) hasRole(role fileRole) bool {
	for _, f := range s.files {
		if f.role == role {
			return true
		}
	}
	return false
}

// evalRole is the role of the set's own evaluation file: test, else dev.
func (s *dataSet) evalRole() fileRole {
	if s.hasRole(roleTest) {
		return roleTest
	}
	return roleDev
}

// loadDir reads every set folder under dir, in name order.
func loadDir(dir string) ([]dataSet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sentiment data: %w", err)
	}
	var sets []dataSet
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := loadSet(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if len(s.files) > 0 {
			sets = append(sets, s)
		}
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("sentiment data: no labelled set under %s (want one folder per set with .csv/.tsv/.txt files)", dir)
	}
	return sets, nil
}

func loadSet(dir string) (dataSet, error) {
	s := dataSet{name: filepath.Base(dir)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return s, fmt.Errorf("sentiment data: %w", err)
	}
	zh, total := 0, 0
	for _, e := range entries {
		name := e.Name()
		lower := strings.ToLower(name)
		ext := filepath.Ext(lower)
		if e.IsDir() || strings.HasPrefix(lower, "readme") || strings.HasPrefix(lower, "license") ||
			(ext != ".csv" && ext != ".tsv" && ext != ".txt") {
			continue
		}
		path := filepath.Join(dir, name)
		var rows []Example
		if ext == ".csv" {
			rows, err = readCSV(path)
		} else {
			rows, err = readTSV(path)
		}
		if errors.Is(err, errNoColumns) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("sentiment data %s/%s: %w", s.name, name, err)
		}
		if len(rows) == 0 {
			continue
		}
		role := roleAll
		switch strings.TrimSuffix(lower, ext) {
		case "train":
			role = roleTrain
		case "dev", "valid", "validation":
			role = roleDev
		case "test":
			role = roleTest
		}
		s.files = append(s.files, dataFile{name: name, role: role, rows: rows})
		for i := 0; i < len(rows); i += 1 + len(rows)/500 {
			total++
			if hasHan(rows[i].Text) {
				zh++
			}
		}
	}
	s.lang = "en"
	if zh*2 > total {
		s.lang = "zh"
	}
	return s, nil
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x2e80 && unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

var errNoColumns = errors.New("no label and text columns")

var (
	labelColumns = []string{"label", "airline_sentiment", "sentiment", "polarity", "score"}
	textColumns  = []string{"review", "text", "sentence", "content"}
)

// columns finds the label and text columns of a header.
func columns(header []string) (label, text int) {
	label, text = -1, -1
	rank := func(list []string, h string) int { return slices.Index(list, h) }
	bestL, bestT := len(labelColumns), len(textColumns)
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if r := rank(labelColumns, h); r >= 0 && r < bestL {
			label, bestL = i, r
		}
		if r := rank(textColumns, h); r >= 0 && r < bestT {
			text, bestT = i, r
		}
	}
	return label, text
}

// parseLabel maps a label value to Negative, Neutral or Positive ("" when
// unknown).
func parseLabel(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "positive", "pos", "2":
		return Positive
	case "0", "negative", "neg", "-1":
		return Negative
	case "neutral", "neu":
		return Neutral
	}
	return ""
}

func cleanText(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	return s
}

func readCSV(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<16))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, errNoColumns
	}
	li, ti := columns(header)
	if li < 0 || ti < 0 {
		return nil, errNoColumns
	}
	var rows []Example
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
		if l := parseLabel(rec[li]); l != "" && strings.TrimSpace(rec[ti]) != "" {
			rows = append(rows, Example{Text: cleanText(rec[ti]), Label: l})
		}
	}
}

// readTSV splits lines on "\n" only (some IMDB sentences hold U+0085) and
// fields on tabs.
func readTSV(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 4<<20)
	if !sc.Scan() {
		return nil, errNoColumns
	}
	first := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
	li, ti := columns(first)
	var rows []Example
	add := func(fields []string) {
		if li >= len(fields) || ti >= len(fields) {
			return
		}
		if l := parseLabel(fields[li]); l != "" && strings.TrimSpace(fields[ti]) != "" {
			rows = append(rows, Example{Text: cleanText(fields[ti]), Label: l})
		}
	}
	if li < 0 || ti < 0 {
		// No header: text<TAB>label, as in the original UCI files.
		if len(first) != 2 || parseLabel(first[1]) == "" {
			return nil, errNoColumns
		}
		ti, li = 0, 1
		add(first)
	}
	for sc.Scan() {
		add(strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t"))
	}
	return rows, sc.Err()
}

// normalize is the text identity used for splitting and for the record of
// seen texts: lower case, runs of white space as one space, trimmed. All
// rows with the same normalized text fall on the same side of a split, in
// every set.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u0085' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// textID is a 64-bit FNV-1a hash of the normalized text.
func textID(s string) uint64 {
	h := uint64(14695981039346656037)
	n := normalize(s)
	for i := 0; i < len(n); i++ {
		h ^= uint64(n[i])
		h *= 1099511628211
	}
	return h
}

// splitTest reports whether a text of a file without its own split goes to
// the test side: a fixed-seed hash of the normalized text, so the decision
// is the same in every set and every run.
func splitTest(id uint64, seed uint64, fraction float64) bool {
	return float64(mix64(id^mix64(seed))>>11)/(1<<53) < fraction
}

// mix64 is the SplitMix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Examples returns every labelled row under dataDir (all sets, all files, in
// order): texts for benchmarks and for checking a model by hand.
func Examples(dataDir string) ([]Example, error) {
	sets, err := loadDir(dataDir)
	if err != nil {
		return nil, err
	}
	var out []Example
	for _, s := range sets {
		for _, f := range s.files {
			out = append(out, f.rows...)
		}
	}
	return out, nil
}
