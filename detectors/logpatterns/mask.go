package logpatterns

import (
	"strings"
	"unsafe"
)

// Wildcard stands for a variable part of a template, as in Loghub's
// templates.
const Wildcard = "<*>"

// Masking works on words (runs of non-space bytes). A word is cut at
// structural delimiters (= , ; : | quotes, brackets); each piece between
// them is a segment. A segment is variable, and replaced by <*>, when it
// is a path, a number (with an optional unit: 12ms, 3.5s, 64KB, 80%), a
// hex id (0x1f, 9f4ef63, a UUID), a dotted or dashed compound of which
// one part is a number (10.0.0.1, v6.1.7601, 2016-09-28, blk_-6952,
// appattempt_1445_0020) or an e-mail address. The rules are generic: no
// rule names a system or a message.

// isStructural reports the delimiters that cut a word into segments.
func isStructural(c byte) bool {
	switch c {
	case '=', ',', ';', ':', '|', '"', '\'', '(', ')', '[', ']', '{', '}', '<', '>':
		return true
	}
	return false
}

// isPartSep reports the separators inside a segment (10.0.0.1, blk_12,
// 2016-09-28, a/b, user@host).
func isPartSep(c byte) bool {
	switch c {
	case '.', '-', '_', '/', '\\', '@', '#', '+', '$', '%', '&', '*', '~', '!', '?', '^':
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// variableSegment decides whether one segment (no structural delimiter
// inside) is a variable.
func variableSegment(s string) bool {
	if len(s) == 0 {
		return false
	}
	// Paths: /a/b, \a\b, ./x, ~/x.
	if (s[0] == '/' || s[0] == '\\') && len(s) > 1 {
		return true
	}
	if len(s) > 2 && (s[0] == '.' || s[0] == '~') && s[1] == '/' {
		return true
	}
	// Numbers with an optional sign and a short unit (12ms, 3.5s, 64KB).
	if numberWithUnit(s) {
		return true
	}
	// 0x-prefixed hex.
	if len(s) > 2 && s[0] == '0' && (s[1]|0x20) == 'x' && allHex(s[2:]) {
		return true
	}
	at, dot := -1, false
	digits := 0
	for i := 0; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			digits++
		case s[i] == '@':
			at = i
		case s[i] == '.' && at >= 0:
			dot = true
		}
	}
	if at > 0 && dot && at < len(s)-1 {
		return true // e-mail address
	}
	if isLiteral(s) {
		return true
	}
	if len(s) >= 8 && allHex(s) {
		return true // ffffffff, deadbeefcafe
	}
	if hostName(s) {
		return true
	}
	if digits == 0 {
		return false
	}
	// A part between separators that is a number, or a long hex run.
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !isPartSep(s[i]) {
			continue
		}
		p := s[start:i]
		start = i + 1
		if len(p) == 0 {
			continue
		}
		if allDigits(p) || (len(p) >= 6 && allHex(p) && hasDigit(p)) || numberWithUnit(p) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// numberWithUnit matches [+-]digits[.digits...] followed by at most three
// letters or a percent sign: 12, -3, 0.5, 1.2.3, 12ms, 64KB, 80%.
func numberWithUnit(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	d := i
	for i < len(s) && (isDigit(s[i]) || (s[i] == '.' && i > d && i+1 < len(s) && isDigit(s[i+1]))) {
		i++
	}
	if i == d {
		return false
	}
	if i < len(s) && s[i] == '%' {
		i++
	}
	u := i
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	return i == len(s) && i-u <= 3
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// tokenizer splits a line into words and masks them, reusing its memory.
// Masked words point into buf (see tokenize); they are valid until the
// next call and must be cloned to be kept.
type tokenizer struct {
	words  []string // as written
	masked []string // with variable segments replaced by <*>
	buf    []byte
	spans  []span
}

type span struct{ a, b int }

// tokenize fills t.words and t.masked from line.
func (t *tokenizer) tokenize(line string) {
	t.words = t.words[:0]
	t.masked = t.masked[:0]
	t.buf = t.buf[:0]
	sp := t.spans[:0]
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		w := line[i:j]
		t.words = append(t.words, w)
		a := len(t.buf)
		if t.maskWord(w) {
			sp = append(sp, span{a, len(t.buf)})
			t.masked = append(t.masked, "") // filled below, once buf stops moving
		} else {
			t.buf = t.buf[:a]
			sp = append(sp, span{-1, -1})
			t.masked = append(t.masked, w)
		}
		i = j
	}
	t.spans = sp
	t.maskDates()
	// The buffer may have grown while masking: make the strings now. They
	// alias t.buf, which is only rewritten by the next tokenize call.
	for k, s := range sp {
		if s.a >= 0 {
			if s.b-s.a == len(Wildcard) && string(t.buf[s.a:s.b]) == Wildcard {
				t.masked[k] = Wildcard
			} else {
				t.masked[k] = unsafe.String(&t.buf[s.a], s.b-s.a)
			}
		}
	}
}

// maskWord appends w's masked form to t.buf and reports whether any
// segment was masked.
func (t *tokenizer) maskWord(w string) bool {
	changed := false
	start := 0
	for i := 0; i <= len(w); i++ {
		if i < len(w) && !isStructural(w[i]) {
			continue
		}
		seg := w[start:i]
		if variableSegment(seg) {
			t.buf = append(t.buf, Wildcard...)
			changed = true
		} else {
			t.buf = append(t.buf, seg...)
		}
		if i < len(w) {
			t.buf = append(t.buf, w[i])
		}
		start = i + 1
	}
	return changed
}

// maskDates masks month and weekday names written next to a masked
// number or time ("Wed Jun 29 14:44:35 2005", "29 Jun"): dates written
// in words are variables like numeric ones.
func (t *tokenizer) maskDates() {
	near := func(k int) bool {
		return k >= 0 && k < len(t.spans) && t.spans[k].a >= 0 && t.wholeWildcard(k)
	}
	for pass := 0; pass < 2; pass++ {
		for k := range t.words {
			if t.spans[k].a >= 0 || !isDateWord(t.words[k]) {
				continue
			}
			if near(k-1) || near(k+1) {
				a := len(t.buf)
				t.buf = append(t.buf, Wildcard...)
				t.spans[k] = span{a, len(t.buf)}
			}
		}
	}
	// A unit written after a number is part of it: "6.0 KB", "12 ms".
	for k := 1; k < len(t.words); k++ {
		if t.spans[k].a < 0 && isUnitWord(t.words[k]) && near(k-1) {
			a := len(t.buf)
			t.buf = append(t.buf, Wildcard...)
			if w := t.words[k]; w[len(w)-1] == ',' || w[len(w)-1] == ')' || w[len(w)-1] == ';' {
				t.buf = append(t.buf, w[len(w)-1])
			}
			t.spans[k] = span{a, len(t.buf)}
		}
	}
}

var unitWords = map[string]bool{}

func init() {
	for _, w := range []string{"b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib", "byte", "bytes",
		"ns", "us", "µs", "ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes",
		"h", "hr", "hrs", "hour", "hours", "day", "days", "%"} {
		unitWords[w] = true
	}
}

// isUnitWord matches a size or duration unit, with a trailing , ) or ;.
func isUnitWord(w string) bool {
	if n := len(w); n > 1 && (w[n-1] == ',' || w[n-1] == ')' || w[n-1] == ';') {
		w = w[:n-1]
	}
	if len(w) == 0 || len(w) > 7 {
		return false
	}
	var b [8]byte
	for i := 0; i < len(w); i++ {
		b[i] = w[i]
		if isAlpha(w[i]) {
			b[i] |= 0x20
		}
	}
	return unitWords[string(b[:len(w)])]
}

// wholeWildcard: word k was masked as a whole, up to punctuation.
func (t *tokenizer) wholeWildcard(k int) bool {
	s := t.buf[t.spans[k].a:t.spans[k].b]
	for len(s) > 0 && !isAlpha(s[0]) && !isDigit(s[0]) && s[0] != '<' {
		s = s[1:]
	}
	for len(s) > 0 && !isAlpha(s[len(s)-1]) && !isDigit(s[len(s)-1]) && s[len(s)-1] != '>' {
		s = s[:len(s)-1]
	}
	for len(s) >= len(Wildcard) && string(s[:len(Wildcard)]) == Wildcard {
		s = s[len(Wildcard):]
		if len(s) > 0 && (s[0] == ':' || s[0] == '.' || s[0] == '-' || s[0] == '/') {
			s = s[1:]
		}
	}
	return len(s) == 0
}

var dateWords = map[string]bool{}

func init() {
	for _, w := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
		"january", "february", "march", "april", "june", "july", "august", "september", "october", "november", "december",
		"mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun",
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		dateWords[w] = true
	}
}

func isDateWord(w string) bool {
	w = strings.TrimRight(w, ",.")
	if len(w) < 3 || len(w) > 9 {
		return false
	}
	var b [9]byte
	for i := 0; i < len(w); i++ {
		if !isAlpha(w[i]) {
			return false
		}
		b[i] = w[i] | 0x20
	}
	return dateWords[string(b[:len(w)])]
}

// isLiteral: true, false, null, as Loghub-2.0's template guidelines
// treat them (values, not message text).
func isLiteral(s string) bool {
	switch len(s) {
	case 4:
		return (s[0]|0x20) == 't' && (s[1]|0x20) == 'r' && (s[2]|0x20) == 'u' && (s[3]|0x20) == 'e' ||
			(s[0]|0x20) == 'n' && (s[1]|0x20) == 'u' && (s[2]|0x20) == 'l' && (s[3]|0x20) == 'l'
	case 5:
		return (s[0]|0x20) == 'f' && (s[1]|0x20) == 'a' && (s[2]|0x20) == 'l' && (s[3]|0x20) == 's' && (s[4]|0x20) == 'e'
	}
	return false
}

// hostName matches a.b.tld: three or more dot-separated labels of
// letters, digits and dashes, the last one a lower-case top-level domain
// of two to six letters (ns.example.com, host8.topspot.net).
func hostName(s string) bool {
	dots, label := 0, 0
	last := strings.LastIndexByte(s, '.')
	if last < 0 || len(s)-last-1 < 2 || len(s)-last-1 > 6 {
		return false
	}
	for i := last + 1; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			dots++
			label = 0
		case isAlpha(c) || isDigit(c) || c == '-':
			label++
		default:
			return false
		}
	}
	return dots >= 2
}
