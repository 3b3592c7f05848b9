// Package redact removes personal data from customer messages before they
// leave the collector: e-mail addresses, phone numbers, payment card numbers
// and IBANs are replaced by tags ([EMAIL], [PHONE], [CARD], [IBAN]).
//
// It is a single left-to-right scan with no regular expressions, cheap enough
// to run on every message. What it finds:
//
//   - [EMAIL]: local@domain.tld with an ASCII local part and a domain of at
//     least two labels whose last label is letters only.
//   - [CARD]: 13 to 19 digits, contiguous or in groups separated by one space
//     or hyphen, that pass the Luhn check. Any run of 13–19 contiguous digits
//     that passes Luhn is always redacted, whatever surrounds it.
//   - [IBAN]: two capital letters, two check digits and 11–30 capital letters
//     or digits (optionally in groups separated by single spaces) that pass
//     the ISO 13616 mod-97 check.
//   - [PHONE]: "+" followed by 8–15 digits (E.164, separators allowed);
//     Chinese mobile numbers (11 digits 1[3-9]…, optionally after 86 or
//     0086, in one run or grouped 3-4-4); North American 3-3-4 groups, with
//     or without a leading 1 and parentheses; national numbers with a leading
//     0 in two or more groups with one kind of separator and 9–12 digits
//     (010-12345678, 06 12 34 56 78, 07700 900123); and any 7–15 digit number
//     within a few words after "phone", "tel", "mobile", "call", "whatsapp",
//     "电话", "手机", "致电" or "联系方式".
//
// Digits may be ASCII or full-width (０-９). Numbers that match none of these
// (order numbers, amounts, dates, times) are kept: support staff need them.
package redact

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// Kind is a bit set of what was redacted.
type Kind uint8

// Kinds of personal data.
const (
	Email Kind = 1 << iota
	Phone
	Card
	IBAN
)

// Tags replacing each kind.
const (
	TagEmail = "[EMAIL]"
	TagPhone = "[PHONE]"
	TagCard  = "[CARD]"
	TagIBAN  = "[IBAN]"
)

// Names lists the kinds in k, for metrics labels.
func (k Kind) Names() []string {
	var out []string
	for _, x := range []struct {
		k    Kind
		name string
	}{{Email, "email"}, {Phone, "phone"}, {Card, "card"}, {IBAN, "iban"}} {
		if k&x.k != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

func (k Kind) tag() string {
	switch k {
	case Email:
		return TagEmail
	case Phone:
		return TagPhone
	case Card:
		return TagCard
	default:
		return TagIBAN
	}
}

type span struct {
	start, end int
	kind       Kind
}

// scratch is per-call memory, pooled.
type scratch struct {
	spans  []span
	groups []group
	digits []byte
}

var pool = sync.Pool{New: func() any { return &scratch{} }}

// String returns s with personal data replaced by tags, and what it replaced.
// s is returned unchanged (and unallocated) when nothing was found.
func String(s string) (string, Kind) {
	if !mayContain(s) {
		return s, 0
	}
	sc := pool.Get().(*scratch)
	defer pool.Put(sc)
	sc.spans = sc.spans[:0]
	findEmails(s, &sc.spans)
	findIBANs(s, &sc.spans)
	findNumbers(s, sc)
	if len(sc.spans) == 0 {
		return s, 0
	}
	for k := range sc.spans {
		widen(s, &sc.spans[k])
	}
	spans := merge(sc.spans)
	var b strings.Builder
	b.Grow(len(s))
	var kinds Kind
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(sp.kind.tag())
		kinds |= sp.kind
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String(), kinds
}

// mayContain is the fast path: every kind needs a digit or an '@'.
func mayContain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '@' || '0' <= c && c <= '9' {
			return true
		}
		if c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && 0x90 <= s[i+2] && s[i+2] <= 0x99 {
			return true // full-width digit U+FF10–FF19
		}
	}
	return false
}

// widen grows a span to the whole word around it (ASCII letters and digits,
// full-width digits): what is left of a number is never a fragment of it,
// and cutting a number out of a word cannot make a new address of the rest.
func widen(s string, sp *span) {
	for sp.start > 0 {
		if isAlnum(s[sp.start-1]) {
			sp.start--
		} else if _, w := digitAt(s, sp.start-3); sp.start >= 3 && w == 3 {
			sp.start -= 3
		} else {
			break
		}
	}
	for sp.end < len(s) {
		if isAlnum(s[sp.end]) {
			sp.end++
		} else if _, w := digitAt(s, sp.end); w == 3 {
			sp.end += 3
		} else {
			break
		}
	}
}

// merge sorts spans by start and joins overlapping ones; a joined span keeps
// the kind of the one that starts first (the longer one on a tie, then the
// more specific kind: e-mail, IBAN, phone, card).
func merge(spans []span) []span {
	// Insertion sort: a message has few spans.
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && less(spans[j], spans[j-1]); j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		if sp.start < last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

func less(a, b span) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.end != b.end {
		return a.end > b.end
	}
	return priority(a.kind) < priority(b.kind)
}

func priority(k Kind) int {
	switch k {
	case Email:
		return 0
	case IBAN:
		return 1
	case Phone:
		return 2
	}
	return 3
}

// ---- e-mail ----

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\''
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func findEmails(s string, spans *[]span) {
	for at := strings.IndexByte(s, '@'); at >= 0; {
		start := at
		for start > 0 && isLocalByte(s[start-1]) {
			start--
		}
		// A local part does not start with a dot or quote.
		for start < at && (s[start] == '.' || s[start] == '\'') {
			start++
		}
		if end := domainEnd(s, at+1); start < at && end > 0 {
			*spans = append(*spans, span{start, end, Email})
		}
		next := strings.IndexByte(s[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
}

// domainEnd returns the end of the longest valid domain starting at i, or
// 0: at least two labels, the last of two or more letters. A trailing
// label that cannot end a domain ("a@b.co.0000…") is left off rather than
// rejecting the address: otherwise redacting the digits after it would
// leave "a@b.co" whole in the output.
func domainEnd(s string, i int) int {
	end, labels, best := i, 0, 0
	for {
		j := end
		for j < len(s) && (isAlnum(s[j]) || s[j] == '-') {
			j++
		}
		if j == end || s[end] == '-' || s[j-1] == '-' {
			break
		}
		labels++
		if labels >= 2 && j-end >= 2 && allLetters(s[end:j]) {
			best = j
		}
		end = j
		if end+1 < len(s) && s[end] == '.' && isAlnum(s[end+1]) {
			end++
			continue
		}
		break
	}
	return best
}

func allLetters(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isLetter(s[k]) {
			return false
		}
	}
	return true
}

// ---- IBAN ----

func isUpperAlnum(c byte) bool { return 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

func findIBANs(s string, spans *[]span) {
	for i := 0; i+15 <= len(s); i++ {
		if !('A' <= s[i] && s[i] <= 'Z') || i > 0 && isAlnum(s[i-1]) {
			continue
		}
		if !('A' <= s[i+1] && s[i+1] <= 'Z' && isDigit(s[i+2]) && isDigit(s[i+3])) {
			continue
		}
		// Collect the characters, remembering where groups end.
		var chars [34]byte
		var ends [34]int // byte offset in s after the n-th character's group
		n := 0
		j := i
		var cuts [34]int // character counts at group ends
		ncuts := 0
		for j < len(s) && n < len(chars) {
			if isUpperAlnum(s[j]) {
				chars[n] = s[j]
				n++
				j++
				continue
			}
			if s[j] == ' ' && j+1 < len(s) && isUpperAlnum(s[j+1]) && n >= 4 {
				cuts[ncuts], ends[ncuts] = n, j
				ncuts++
				j++
				continue
			}
			break
		}
		if j < len(s) && isAlnum(s[j]) && n == len(chars) {
			continue // longer than any IBAN
		}
		if j < len(s) && isAlnum(s[j]) {
			// Ends inside a word (lower case, say): only whole groups count.
		} else {
			cuts[ncuts], ends[ncuts] = n, j
			ncuts++
		}
		for c := ncuts - 1; c >= 0; c-- {
			if cuts[c] >= 15 && mod97(chars[:cuts[c]]) == 1 {
				*spans = append(*spans, span{i, ends[c], IBAN})
				i = ends[c] - 1
				break
			}
		}
	}
}

// mod97 is the ISO 7064 check of an IBAN: the first four characters moved
// to the end, letters as 10–35.
func mod97(iban []byte) int {
	r := 0
	add := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A'+10)) % 97
		}
	}
	for _, c := range iban[4:] {
		add(c)
	}
	for _, c := range iban[:4] {
		add(c)
	}
	return r
}

// ---- numbers: cards and phones ----

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digitAt decodes an ASCII or full-width digit at i: value and width, or
// width 0.
func digitAt(s string, i int) (byte, int) {
	if i < 0 || i >= len(s) {
		return 0, 0
	}
	if isDigit(s[i]) {
		return s[i] - '0', 1
	}
	if s[i] == 0xEF && i+2 < len(s) && s[i+1] == 0xBC && 0x90 <= s[i+2] && s[i+2] <= 0x99 {
		return s[i+2] - 0x90, 3
	}
	return 0, 0
}

// group is one run of digits inside a number.
type group struct {
	start, end int  // bytes
	d0, nd     int  // digits: offset into scratch.digits, count
	sep        byte // separator before this group (0 for the first; '(' / ')' folded to ' ')
}

// findNumbers splits s into numbers (digit groups joined by short
// separators) and looks for cards and phones in each.
func findNumbers(s string, sc *scratch) {
	i := 0
	for i < len(s) {
		if _, w := digitAt(s, i); w == 0 {
			i++
			continue
		}
		i = scanNumber(s, i, sc)
	}
}

// scanNumber reads the number starting at the digit at i and returns the
// offset after it.
func scanNumber(s string, i int, sc *scratch) int {
	sc.groups = sc.groups[:0]
	sc.digits = sc.digits[:0]
	start := i
	// A "(" right before the first group belongs to the number: (555) 123-4567.
	if start > 0 && s[start-1] == '(' {
		start--
	}
	plus := false
	if p := start; p > 0 && s[p-1] == '+' {
		plus, start = true, p-1
	} else if p > 1 && s[p-1] == ' ' && s[p-2] == '+' {
		plus, start = true, p-2
	}
	var sep byte
	for {
		g := group{start: i, d0: len(sc.digits), sep: sep}
		for {
			v, w := digitAt(s, i)
			if w == 0 {
				break
			}
			sc.digits = append(sc.digits, v)
			i += w
		}
		g.end, g.nd = i, len(sc.digits)-g.d0
		sc.groups = append(sc.groups, g)
		// Separator: one of " -." or a parenthesis with an optional space
		// or hyphen, followed by a digit.
		var j int
		var ok bool
		sep, j, ok = separator(s, i)
		if !ok {
			break
		}
		if _, w := digitAt(s, j); w == 0 {
			break
		}
		i = j
	}
	end := sc.groups[len(sc.groups)-1].end
	if end < len(s) && s[end] == ')' && sc.groups[0].start > 0 && s[sc.groups[0].start-1] == '(' && len(sc.groups) == 1 {
		end++ // "(0123456789)"
	}
	findCards(sc, &sc.spans)
	findPhones(s, start, end, plus, sc)
	return i
}

// separator reads what joins two digit groups: one of " -.()" or two of
// them ("(555) 123", "+1 (555)"), and returns it with parentheses folded to a
// space.
func separator(s string, j int) (byte, int, bool) {
	isSep := func(k int) bool {
		if k >= len(s) {
			return false
		}
		switch s[k] {
		case ' ', '-', '.', '(', ')':
			return true
		}
		return false
	}
	if !isSep(j) {
		return 0, j, false
	}
	c := s[j]
	j++
	if isSep(j) && s[j] != c && c != '.' && s[j] != '.' {
		j++
	}
	if c == '(' || c == ')' {
		c = ' '
	}
	return c, j, true
}

// findCards redacts group-aligned windows of 13–19 digits that pass Luhn,
// joined by spaces or hyphens only; every single group of 13–19 digits is a
// window, so no Luhn-valid run survives.
func findCards(sc *scratch, spans *[]span) {
	gs := sc.groups
	for i := 0; i < len(gs); {
		best := -1
		n := 0
		for j := i; j < len(gs); j++ {
			if j > i && gs[j].sep != ' ' && gs[j].sep != '-' {
				break
			}
			n += gs[j].nd
			if n > 19 {
				break
			}
			if n >= 13 && luhn(sc.digits[gs[i].d0:gs[j].d0+gs[j].nd]) {
				best = j
			}
		}
		if best < 0 {
			i++
			continue
		}
		*spans = append(*spans, span{gs[i].start, gs[best].end, Card})
		i = best + 1
	}
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func findPhones(s string, start, end int, plus bool, sc *scratch) {
	gs := sc.groups
	total := len(sc.digits)
	spans := &sc.spans
	switch {
	case plus && total >= 8 && total <= 15:
		*spans = append(*spans, span{start, end, Phone})
		return
	case nanp(gs, sc.digits):
		*spans = append(*spans, span{start, end, Phone})
		return
	case sc.digits[0] == 0 && len(gs) >= 2 && total >= 9 && total <= 12 && sameSeparators(gs):
		*spans = append(*spans, span{start, end, Phone})
		return
	case total >= 7 && total <= 15 && phoneContext(s, start):
		*spans = append(*spans, span{start, end, Phone})
		return
	}
	// Chinese mobiles inside the number: group-aligned windows of 11 digits
	// 1[3-9]…, or 13 with 86 before, or 15 with 0086 before.
	for i := 0; i < len(gs); i++ {
		n := 0
		for j := i; j < len(gs); j++ {
			n += gs[j].nd
			if n > 15 {
				break
			}
			if d := sc.digits[gs[i].d0 : gs[j].d0+gs[j].nd]; chineseMobile(d) {
				*spans = append(*spans, span{gs[i].start, gs[j].end, Phone})
				i = j
				break
			}
		}
	}
}

func chineseMobile(d []byte) bool {
	switch len(d) {
	case 15:
		if d[0] != 0 || d[1] != 0 || d[2] != 8 || d[3] != 6 {
			return false
		}
		d = d[4:]
	case 13:
		if d[0] != 8 || d[1] != 6 {
			return false
		}
		d = d[2:]
	case 11:
	default:
		return false
	}
	return d[0] == 1 && d[1] >= 3
}

// nanp: [1] 3-3-4 groups, e.g. 555-123-4567, (555) 123-4567, 1.555.123.4567.
func nanp(gs []group, digits []byte) bool {
	if len(gs) == 4 && gs[0].nd == 1 && digits[gs[0].d0] == 1 {
		gs = gs[1:]
	}
	return len(gs) == 3 && gs[0].nd == 3 && gs[1].nd == 3 && gs[2].nd == 4
}

func sameSeparators(gs []group) bool {
	for _, g := range gs[2:] {
		if g.sep != gs[1].sep {
			return false
		}
	}
	return true
}

// phoneContext reports whether a phone word ends shortly before start.
func phoneContext(s string, start int) bool {
	lo := max(0, start-32)
	for lo < start && !utf8.RuneStart(s[lo]) {
		lo++
	}
	window := s[lo:start]
	for _, w := range phoneWords {
		for off := 0; off < len(window); {
			k := indexFold(window[off:], w)
			if k < 0 {
				break
			}
			k += off
			off = k + 1
			if !isLetter(w[0]) {
				return true
			}
			// English words stand alone ("hotel" and "called" do not
			// count), except that "phone" may end a compound (telephone).
			before := k > 0 && isLetter(window[k-1])
			after := k+len(w) < len(window) && isLetter(window[k+len(w)])
			if after || before && w != "phone" {
				continue
			}
			return true
		}
	}
	return false
}

var phoneWords = []string{"phone", "tel", "mobile", "cell", "call", "whatsapp", "wechat", "电话", "手机", "致电", "联系方式", "微信"}

// indexFold is strings.Index, ASCII case-insensitive for the needle (lower
// case).
func indexFold(s, lower string) int {
	for i := 0; i+len(lower) <= len(s); i++ {
		ok := true
		for j := 0; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}
