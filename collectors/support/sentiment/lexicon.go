package sentiment

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

//go:embed lexicon_en.txt
var lexiconEN string

//go:embed lexicon_zh.txt
var lexiconZH string

type kind uint8

const (
	kValence     kind = iota // val; 0 shields a compound from being read in parts
	kNegator                 // flips the next sentiment term; val if nothing was flipped
	kIntensifier             // mult for the next sentiment term
	kSoft                    // val alone, mult right before a sentiment term
	kContrast                // "but"
)

type entry struct {
	kind kind
	val  float32
	mult float32
}

func (e entry) sentiment() bool {
	return (e.kind == kValence || e.kind == kSoft) && e.val != 0
}

// lexicon holds the terms of the baseline. Terms whose first character is
// ASCII are English words or phrases (lower case, apostrophes removed, words
// separated by one space); others are matched in Chinese text by forward
// maximum matching.
type lexicon struct {
	terms     map[string]entry
	phraseMax map[string]uint8 // English first word → most words of a phrase starting with it
	runeMax   map[rune]uint8   // first rune → most runes of a term starting with it
}

func newLexicon() *lexicon {
	return &lexicon{terms: map[string]entry{}, phraseMax: map[string]uint8{}, runeMax: map[rune]uint8{}}
}

// parse adds the lines of src (the format of lexicon_en.txt). With
// allowOverride false a term listed twice is an error, which keeps the
// built-in lists honest.
func (l *lexicon) parse(name, src string, allowOverride bool) error {
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return fmt.Errorf("%s:%d: want VALUE followed by terms", name, n+1)
		}
		e, err := parseValue(fields[0])
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n+1, err)
		}
		for _, t := range fields[1:] {
			term := normalizeTerm(t)
			if !utf8.ValidString(term) || term == "" {
				return fmt.Errorf("%s:%d: bad term %q", name, n+1, t)
			}
			if _, dup := l.terms[term]; dup && !allowOverride {
				return fmt.Errorf("%s:%d: %q listed twice", name, n+1, t)
			}
			l.add(term, e)
		}
	}
	return nil
}

func normalizeTerm(t string) string {
	t = strings.ReplaceAll(t, "_", " ")
	t = strings.ReplaceAll(t, "'", "")
	return strings.ToLower(t)
}

func (l *lexicon) add(term string, e entry) {
	l.terms[term] = e
	if term[0] < utf8.RuneSelf {
		first, _, _ := strings.Cut(term, " ")
		words := uint8(strings.Count(term, " ") + 1)
		if words > l.phraseMax[first] {
			l.phraseMax[first] = words
		}
		return
	}
	r, _ := utf8.DecodeRuneInString(term)
	if n := uint8(min(utf8.RuneCountInString(term), 255)); n > l.runeMax[r] {
		l.runeMax[r] = n
	}
}

func parseValue(v string) (entry, error) {
	num := func(s string) (float32, error) {
		f, err := strconv.ParseFloat(s, 32)
		if err != nil || f < -4 || f > 4 {
			return 0, fmt.Errorf("value %q: want a number in [-4, 4]", s)
		}
		return float32(f), nil
	}
	mul := func(s string) (float32, error) {
		f, err := strconv.ParseFloat(strings.TrimPrefix(s, "x"), 32)
		if !strings.HasPrefix(s, "x") || err != nil || f <= 0 || f > 4 {
			return 0, fmt.Errorf("intensifier %q: want xF with F in (0, 4]", s)
		}
		return float32(f), nil
	}
	switch {
	case v == "neg":
		return entry{kind: kNegator}, nil
	case v == "but":
		return entry{kind: kContrast}, nil
	case strings.HasPrefix(v, "x"):
		m, err := mul(v)
		return entry{kind: kIntensifier, mult: m}, err
	case strings.Contains(v, "/"):
		a, b, _ := strings.Cut(v, "/")
		val, err := num(a)
		if err != nil {
			return entry{}, err
		}
		if b == "neg" {
			return entry{kind: kNegator, val: val}, nil
		}
		m, err := mul(b)
		return entry{kind: kSoft, val: val, mult: m}, err
	}
	f, err := num(v)
	return entry{kind: kValence, val: f}, err
}

// builtin parses the embedded lexicons.
func builtin() (*lexicon, error) {
	l := newLexicon()
	if err := l.parse("lexicon_en.txt", lexiconEN, false); err != nil {
		return nil, err
	}
	if err := l.parse("lexicon_zh.txt", lexiconZH, false); err != nil {
		return nil, err
	}
	for r, v := range emoji {
		l.add(string(r), entry{kind: kValence, val: v})
	}
	return l, nil
}

// emoji and emoticons carry sentiment of their own.
var emoji = map[rune]float32{
	'😀': 2, '😃': 2, '😄': 2, '😁': 2, '😊': 2, '🙂': 1, '😍': 3, '🥰': 3, '😘': 2, '👍': 2,
	'👏': 2, '🙏': 1, '❤': 2.5, '💕': 2.5, '💯': 2.5, '🎉': 2, '✨': 1, '😎': 1.5, '🤩': 3, '😆': 2,
	'😂': 1, '🤣': 1, '👌': 1.5, '💪': 1.5, '🌟': 2, '⭐': 1.5, '😋': 2,
	'😡': -3, '😠': -2.5, '🤬': -3, '😤': -2, '😞': -2, '😟': -1.5, '😢': -2, '😭': -2, '😩': -2,
	'😫': -2, '😒': -1.5, '🙄': -1.5, '👎': -2, '💔': -2, '😔': -1.5, '😕': -1, '☹': -2, '😣': -1.5,
	'😖': -2, '😱': -1.5, '🤮': -3, '🤢': -2.5, '💩': -2.5, '😑': -1, '😐': -0.5, '🤦': -2, '😓': -1,
}

var emoticons = []struct {
	s string
	v float32
}{
	{":-)", 1.5}, {":)", 1.5}, {":-D", 2}, {":D", 2}, {";-)", 1}, {";)", 1}, {"=)", 1.5}, {"<3", 2}, {"^_^", 1.5},
	{":-(", -1.5}, {":(", -1.5}, {":'(", -2}, {":-/", -1}, {":/", -1}, {"=(", -1.5}, {">:(", -2.5},
}
