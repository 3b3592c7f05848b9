package sentiment

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Baseline is the lexicon scorer: hand-written English and Chinese word
// lists (lexicon_en.txt, lexicon_zh.txt), negation ("not good", "不满意"),
// intensifiers ("very slow", "太慢"), contrast ("…, but", "但是") and
// emphasis (exclamation marks, CAPITALS, emoji). Both scripts are read in
// every message, whatever lang says, because customers mix them.
//
// The sum of the term valences v is squashed to v/sqrt(v²+4): one "good"
// scores 0.71, "not good" -0.71, "very very good" about 0.9.
//
// It is a baseline: no model, nothing learnt from data. It is safe for
// concurrent use and allocates nothing per message once warm.
type Baseline struct {
	lex  *lexicon
	band float64
	pool sync.Pool // *scratch
}

// BaselineOptions adjust the baseline.
type BaselineOptions struct {
	// Lexicons are extra lexicons in the format of lexicon_en.txt, applied
	// after the built-in ones: a term listed again replaces the built-in
	// entry (so "0 word" removes a word's sentiment).
	Lexicons []string
	// NeutralBand is the half-width of the neutral label around 0.
	// Default DefaultNeutralBand.
	NeutralBand float64
}

var (
	builtinOnce sync.Once
	builtinLex  *lexicon
	builtinErr  error
)

// NewBaseline returns the baseline with the built-in lexicons.
func NewBaseline() *Baseline {
	b, err := NewBaselineWith(BaselineOptions{})
	if err != nil {
		panic(err) // the built-in lexicons are tested
	}
	return b
}

// NewBaselineWith returns the baseline with extra lexicons.
func NewBaselineWith(o BaselineOptions) (*Baseline, error) {
	builtinOnce.Do(func() { builtinLex, builtinErr = builtin() })
	if builtinErr != nil {
		return nil, builtinErr
	}
	lex := builtinLex
	if len(o.Lexicons) > 0 {
		lex = newLexicon()
		for t, e := range builtinLex.terms {
			lex.add(t, e)
		}
		for i, src := range o.Lexicons {
			if err := lex.parse("extra lexicon "+strconv.Itoa(i+1), src, true); err != nil {
				return nil, err
			}
		}
	}
	band := o.NeutralBand
	if band <= 0 {
		band = DefaultNeutralBand
	}
	return &Baseline{lex: lex, band: band}, nil
}

type tokKind uint8

const (
	tOther    tokKind = iota // a word or character with no entry
	tTerm                    // resolved entry
	tWord                    // English word, not yet resolved
	tBoundary                // clause end: , . ; ! ? newline …
	tSkip                    // consumed by a phrase
)

type token struct {
	kind tokKind
	caps bool // an English word in capitals, in a message that is not
	e    entry
	a, b int32 // tWord: bytes of scratch.lower
}

type scratch struct {
	toks  []token
	lower []byte
	buf   []byte
}

// Score implements Scorer.
func (bl *Baseline) Score(text, lang string) Result {
	s := squash(bl.valence(text))
	return Result{Score: s, Label: LabelFor(s, bl.band)}
}

// valence is the sum of the term valences after the rules: 0 when the
// lexicons find no sentiment in text. The trained model reads it as one
// feature.
func (bl *Baseline) valence(text string) float64 {
	sc, _ := bl.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	defer bl.pool.Put(sc)
	excl := bl.tokenize(text, sc)
	bl.resolve(sc)
	raw := score(sc.toks)
	if raw != 0 && excl > 0 {
		raw *= 1 + 0.1*float64(min(excl, 3))
	}
	return raw
}

// squash maps a valence to (-1, 1): v/sqrt(v²+4).
func squash(v float64) float64 { return v / math.Sqrt(v*v+4) }

// tokenize splits text into tokens and returns the number of exclamation
// marks.
func (bl *Baseline) tokenize(text string, sc *scratch) int {
	sc.toks = sc.toks[:0]
	sc.lower = sc.lower[:0]
	excl := 0
	letters, upper := 0, 0
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case isLetter(c):
				j, a := i, len(sc.lower)
				n, up := 0, 0
				for j < len(text) {
					if isLetter(text[j]) {
						if 'A' <= text[j] && text[j] <= 'Z' {
							up++
						}
						sc.lower = append(sc.lower, lower(text[j]))
						n++
						j++
					} else if '0' <= text[j] && text[j] <= '9' {
						sc.lower = append(sc.lower, text[j]) // sev1, mp3
						j++
					} else if text[j] == '\'' && j+1 < len(text) && isLetter(text[j+1]) {
						j++ // don't → dont
					} else if strings.HasPrefix(text[j:], "’") && j+3 < len(text) && isLetter(text[j+3]) {
						j += 3
					} else {
						break
					}
				}
				if strings.HasPrefix(text[j:], "://") {
					// A URL: skip it whole.
					sc.lower = sc.lower[:a]
					for j < len(text) && text[j] != ' ' && text[j] != '\n' && text[j] != '\t' {
						j++
					}
					i = j
					continue
				}
				letters += n
				upper += up
				sc.toks = append(sc.toks, token{kind: tWord, caps: n >= 3 && up == n, a: int32(a), b: int32(len(sc.lower))})
				i = j
			case '0' <= c && c <= '9':
				for i < len(text) && ('0' <= text[i] && text[i] <= '9' || text[i] == '.' && i+1 < len(text) && '0' <= text[i+1] && text[i+1] <= '9') {
					i++
				}
				sc.toks = append(sc.toks, token{kind: tOther})
			default:
				if e, n := emoticon(text[i:]); n > 0 {
					sc.toks = append(sc.toks, token{kind: tTerm, e: e})
					i += n
					continue
				}
				switch c {
				case '!':
					excl++
					sc.toks = append(sc.toks, token{kind: tBoundary})
				case '.', ',', ';', ':', '?', '\n':
					sc.toks = append(sc.toks, token{kind: tBoundary})
				}
				i++
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if n := bl.lex.runeMax[r]; n > 0 {
			if e, end := bl.longest(text, i, int(n)); end > 0 {
				sc.toks = append(sc.toks, token{kind: tTerm, e: e})
				i = end
				continue
			}
		}
		i += w
		switch {
		case r == '！':
			excl++
			sc.toks = append(sc.toks, token{kind: tBoundary})
		case r == '，' || r == '。' || r == '？' || r == '；' || r == '：' || r == '、' || r == '…' || r == '～':
			sc.toks = append(sc.toks, token{kind: tBoundary})
		case unicode.IsLetter(r):
			sc.toks = append(sc.toks, token{kind: tOther})
		}
	}
	// Capitals only stand out in a message that is not all capitals.
	if upper*2 > letters {
		for k := range sc.toks {
			sc.toks[k].caps = false
		}
	}
	return excl
}

// longest finds the longest term of at most n runes starting at i.
func (bl *Baseline) longest(text string, i, n int) (entry, int) {
	var ends [16]int
	n = min(n, len(ends))
	k, j := 0, i
	for k < n && j < len(text) {
		_, w := utf8.DecodeRuneInString(text[j:])
		j += w
		ends[k] = j
		k++
	}
	for ; k > 0; k-- {
		if e, ok := bl.lex.terms[text[i:ends[k-1]]]; ok {
			return e, ends[k-1]
		}
	}
	return entry{}, 0
}

func emoticon(s string) (entry, int) {
	switch s[0] {
	case ':', ';', '=', '<', '>', '^':
	default:
		return entry{}, 0
	}
	for _, em := range emoticons {
		if strings.HasPrefix(s, em.s) {
			return entry{kind: kValence, val: em.v}, len(em.s)
		}
	}
	return entry{}, 0
}

// resolve looks up English words: phrases first (longest), then the word,
// then the word without repeated letters or a common ending.
func (bl *Baseline) resolve(sc *scratch) {
	toks := sc.toks
	for i := range toks {
		if toks[i].kind != tWord {
			continue
		}
		word := sc.lower[toks[i].a:toks[i].b]
		if n := int(bl.lex.phraseMax[string(word)]); n > 1 {
			// Consecutive words only.
			avail := 1
			for avail < n && i+avail < len(toks) && toks[i+avail].kind == tWord {
				avail++
			}
			matched := false
			for m := avail; m >= 2 && !matched; m-- {
				sc.buf = append(sc.buf[:0], word...)
				for k := 1; k < m; k++ {
					sc.buf = append(sc.buf, ' ')
					sc.buf = append(sc.buf, sc.lower[toks[i+k].a:toks[i+k].b]...)
				}
				if e, ok := bl.lex.terms[string(sc.buf)]; ok {
					toks[i].kind, toks[i].e = tTerm, e
					for k := 1; k < m; k++ {
						toks[i+k].kind = tSkip
					}
					matched = true
				}
			}
			if matched {
				continue
			}
		}
		if e, ok := bl.lookupWord(word, sc); ok {
			toks[i].kind, toks[i].e = tTerm, e
		} else {
			toks[i].kind = tOther
		}
	}
}

func (bl *Baseline) lookupWord(w []byte, sc *scratch) (entry, bool) {
	terms := bl.lex.terms
	if e, ok := terms[string(w)]; ok {
		return e, true
	}
	// Elongated words: "sooo goooood" → "soo good" → "so god"; try both.
	if hasTriple(w) {
		for _, keep := range []int{2, 1} {
			sc.buf = squeeze(sc.buf[:0], w, keep)
			if e, ok := terms[string(sc.buf)]; ok {
				return e, true
			}
		}
	}
	if len(w) < 5 {
		return entry{}, false
	}
	// Endings: only to reach a sentiment word, never a negator or shield.
	for _, r := range suffixRules {
		if len(w) <= len(r.strip)+2 || string(w[len(w)-len(r.strip):]) != r.strip {
			continue
		}
		sc.buf = append(append(sc.buf[:0], w[:len(w)-len(r.strip)]...), r.add...)
		if e, ok := terms[string(sc.buf)]; ok && e.sentiment() {
			return e, true
		}
	}
	return entry{}, false
}

var suffixRules = []struct{ strip, add string }{
	{"ies", "y"}, {"ied", "y"}, {"ily", "y"}, {"es", ""}, {"s", ""}, {"ed", ""}, {"ed", "e"},
	{"ing", ""}, {"ing", "e"}, {"ly", ""},
}

func hasTriple(w []byte) bool {
	for i := 2; i < len(w); i++ {
		if w[i] == w[i-1] && w[i] == w[i-2] {
			return true
		}
	}
	return false
}

// squeeze copies w with runs of a letter cut to keep.
func squeeze(dst, w []byte, keep int) []byte {
	run := 0
	for i, c := range w {
		if i > 0 && c == w[i-1] {
			run++
		} else {
			run = 1
		}
		if run <= keep {
			dst = append(dst, c)
		}
	}
	return dst
}

// Scopes, in tokens: a negator reaches three words ahead ("not really that
// good"), an intensifier two.
const (
	negScope = 3
	intScope = 2
)

// score runs the rules over resolved tokens and returns the raw sum.
func score(toks []token) float64 {
	var (
		total    float64
		weight   = 1.0 // 1.5 after a contrast
		negLeft  int
		negValue float64 // what a negator that flipped nothing is worth
		intLeft  int
		intMult  = 1.0
	)
	flushNeg := func() {
		if negLeft > 0 {
			total += negValue * weight
		}
		negLeft, negValue = 0, 0
	}
	tick := func() {
		if negLeft > 0 {
			if negLeft--; negLeft == 0 {
				total += negValue * weight
				negValue = 0
			}
		}
		if intLeft > 0 {
			if intLeft--; intLeft == 0 {
				intMult = 1
			}
		}
	}
	for i := range toks {
		t := &toks[i]
		switch t.kind {
		case tSkip:
			continue
		case tBoundary:
			flushNeg()
			intLeft, intMult = 0, 1
			continue
		case tOther, tWord:
			tick()
			continue
		}
		e := t.e
		if e.kind == kSoft {
			if next := nextTerm(toks, i); next != nil && next.e.sentiment() {
				e = entry{kind: kIntensifier, mult: e.mult}
			} else {
				e = entry{kind: kValence, val: e.val}
			}
		}
		switch e.kind {
		case kNegator:
			flushNeg()
			negLeft, negValue = negScope, float64(e.val)
		case kIntensifier:
			if intLeft == 0 {
				intMult = 1
			}
			intMult *= float64(e.mult)
			intLeft = intScope
		case kContrast:
			flushNeg()
			total *= 0.5
			weight = 1.5
			intLeft, intMult = 0, 1
		case kValence:
			if e.val == 0 {
				tick()
				continue
			}
			v := float64(e.val)
			intensified := intLeft > 0 && intMult > 1
			if intLeft > 0 && !(negLeft > 0 && intensified) {
				v *= intMult
			}
			if negLeft > 0 {
				switch {
				case v > 0 && intensified:
					v = -0.5 * v // "not very good": mildly negative
				case v > 0:
					v = -v
				default:
					v = -0.5 * v // "not bad": mildly positive
				}
				negLeft, negValue = 0, 0
			}
			intLeft, intMult = 0, 1
			if t.caps {
				v *= 1.5
			}
			total += v * weight
		}
	}
	flushNeg()
	return total
}

// nextTerm is the token right after i, skipping phrase remainders, if it is
// a term.
func nextTerm(toks []token, i int) *token {
	for j := i + 1; j < len(toks); j++ {
		switch toks[j].kind {
		case tSkip:
			continue
		case tTerm:
			return &toks[j]
		}
		return nil
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
