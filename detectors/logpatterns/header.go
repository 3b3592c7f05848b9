package logpatterns

import (
	"fmt"
	"regexp"
	"strings"
)

// HeaderFormat splits a raw line into header fields and its content, as
// Loghub's log_format strings do: "<Date> <Time> <Level> <Component>:
// <Content>". Syntax, the subset Loghub's formats use:
//
//	<Name>     a field: as few bytes as possible (regexp .*?)
//	spaces     one or more blanks (\s+)
//	\x         the byte x literally (\[, \|)
//	( ... )?   an optional group, tried first
//	other      the byte itself
//
// The whole line must match; <Content> is the message the miner sees.
// Matching follows the regular expression's (leftmost-first) semantics;
// a small backtracking matcher does it without allocating, and falls back
// to the compiled regexp if its step budget runs out.
type HeaderFormat struct {
	text    string
	elems   []elem
	fields  []string
	content int // index of <Content> in fields, -1 if absent
	re      *regexp.Regexp
}

type elemKind uint8

const (
	elemField elemKind = iota
	elemLit
	elemSpace
	elemOpt
)

type elem struct {
	kind  elemKind
	lit   byte
	field int    // elemField: index in fields
	sub   []elem // elemOpt
}

// ParseHeaderFormat compiles a Loghub-style log format.
func ParseHeaderFormat(format string) (*HeaderFormat, error) {
	h := &HeaderFormat{text: format, content: -1}
	var re strings.Builder
	re.WriteString("^")
	elems, rest, err := h.parse(format, &re, 0)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("log format %q: unbalanced ')' at %q", format, rest)
	}
	re.WriteString("$")
	h.elems = elems
	if h.re, err = regexp.Compile(re.String()); err != nil {
		return nil, fmt.Errorf("log format %q: %w", format, err)
	}
	for i, f := range h.fields {
		if f == "Content" {
			h.content = i
		}
	}
	if h.content < 0 {
		return nil, fmt.Errorf("log format %q has no <Content> field", format)
	}
	return h, nil
}

// MustHeaderFormat is ParseHeaderFormat for formats known to be valid.
func MustHeaderFormat(format string) *HeaderFormat {
	h, err := ParseHeaderFormat(format)
	if err != nil {
		panic(err)
	}
	return h
}

func (h *HeaderFormat) parse(s string, re *strings.Builder, depth int) ([]elem, string, error) {
	var out []elem
	for len(s) > 0 {
		c := s[0]
		switch {
		case c == '<':
			end := strings.IndexByte(s, '>')
			if end < 2 {
				return nil, "", fmt.Errorf("log format %q: bad field at %q", h.text, s)
			}
			name := s[1:end]
			for _, f := range h.fields {
				if f == name {
					return nil, "", fmt.Errorf("log format %q: field <%s> twice", h.text, name)
				}
			}
			out = append(out, elem{kind: elemField, field: len(h.fields)})
			h.fields = append(h.fields, name)
			re.WriteString("(.*?)")
			s = s[end+1:]
		case c == ' ':
			for len(s) > 0 && s[0] == ' ' {
				s = s[1:]
			}
			out = append(out, elem{kind: elemSpace})
			re.WriteString(`\s+`)
		case c == '\\':
			if len(s) < 2 {
				return nil, "", fmt.Errorf("log format %q: trailing backslash", h.text)
			}
			out = append(out, elem{kind: elemLit, lit: s[1]})
			re.WriteString(regexp.QuoteMeta(s[1:2]))
			s = s[2:]
		case c == '(':
			re.WriteString("(?:")
			sub, rest, err := h.parse(s[1:], re, depth+1)
			if err != nil {
				return nil, "", err
			}
			if !strings.HasPrefix(rest, ")?") {
				return nil, "", fmt.Errorf("log format %q: a group must be optional: (...)?", h.text)
			}
			re.WriteString(")?")
			out = append(out, elem{kind: elemOpt, sub: sub})
			s = rest[2:]
		case c == ')':
			return out, s, nil // the caller checks for ")?" or reports it
		default:
			out = append(out, elem{kind: elemLit, lit: c})
			re.WriteString(regexp.QuoteMeta(s[:1]))
			s = s[1:]
		}
	}
	if depth > 0 {
		return nil, "", fmt.Errorf("log format %q: unclosed '('", h.text)
	}
	return out, "", nil
}

// String returns the format as written.
func (h *HeaderFormat) String() string { return h.text }

// Fields names the format's fields in order.
func (h *HeaderFormat) Fields() []string { return h.fields }

// Content returns the <Content> field of line (trimmed of surrounding
// blanks, as Loghub does), or false when the line does not match.
func (h *HeaderFormat) Content(line string) (string, bool) {
	var spans [32][2]int
	if len(h.fields) > len(spans) {
		return h.contentRegexp(line)
	}
	sp := spans[:len(h.fields)]
	line = strings.TrimSpace(line)
	budget := 20 * (len(line) + 16)
	switch h.match(h.elems, nil, line, 0, sp, &budget) {
	case matched:
		c := sp[h.content]
		return strings.TrimSpace(line[c[0]:c[1]]), true
	case exhausted:
		return h.contentRegexp(line)
	}
	return "", false
}

// Split returns every field of line, or nil when it does not match.
func (h *HeaderFormat) Split(line string) []string {
	m := h.re.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return nil
	}
	return m[1:]
}

func (h *HeaderFormat) contentRegexp(line string) (string, bool) {
	m := h.re.FindStringSubmatchIndex(strings.TrimSpace(line))
	if m == nil {
		return "", false
	}
	line = strings.TrimSpace(line)
	a, b := m[2+2*h.content], m[3+2*h.content]
	if a < 0 {
		return "", true
	}
	return strings.TrimSpace(line[a:b]), true
}

type outcome uint8

const (
	failed outcome = iota
	matched
	exhausted
)

// match tries elems at pos, then the continuation next (the elements
// after an optional group, innermost first), then end of line.
func (h *HeaderFormat) match(elems []elem, next *cont, s string, pos int, sp [][2]int, budget *int) outcome {
	for k := 0; k < len(elems); k++ {
		*budget--
		if *budget < 0 {
			return exhausted
		}
		e := &elems[k]
		switch e.kind {
		case elemLit:
			if pos >= len(s) || s[pos] != e.lit {
				return failed
			}
			pos++
		case elemSpace:
			end := pos
			for end < len(s) && isSpace(s[end]) {
				end++
			}
			if end == pos {
				return failed
			}
			// \s+ is greedy; backtrack over shorter runs.
			for e2 := end; e2 > pos; e2-- {
				if r := h.match(elems[k+1:], next, s, e2, sp, budget); r != failed {
					return r
				}
			}
			return failed
		case elemField:
			// .*? is lazy: try the shortest first.
			for end := pos; end <= len(s); end++ {
				sp[e.field] = [2]int{pos, end}
				if r := h.match(elems[k+1:], next, s, end, sp, budget); r != failed {
					return r
				}
			}
			return failed
		case elemOpt:
			c := &cont{elems: elems[k+1:], next: next}
			if r := h.match(e.sub, c, s, pos, sp, budget); r != failed {
				return r
			}
			// Skipped: its fields are empty.
			clearFields(e.sub, sp)
			return h.match(elems[k+1:], next, s, pos, sp, budget)
		}
	}
	if next != nil {
		return h.match(next.elems, next.next, s, pos, sp, budget)
	}
	if pos == len(s) {
		return matched
	}
	return failed
}

type cont struct {
	elems []elem
	next  *cont
}

func clearFields(elems []elem, sp [][2]int) {
	for _, e := range elems {
		switch e.kind {
		case elemField:
			sp[e.field] = [2]int{}
		case elemOpt:
			clearFields(e.sub, sp)
		}
	}
}

// LoghubFormats are the log formats of the 16 Loghub-2k systems, as the
// Loghub benchmark settings (logparser, Loghub-2.0) define them.
var LoghubFormats = map[string]string{
	"HDFS":        `<Date> <Time> <Pid> <Level> <Component>: <Content>`,
	"Hadoop":      `<Date> <Time> <Level> \[<Process>\] <Component>: <Content>`,
	"Spark":       `<Date> <Time> <Level> <Component>: <Content>`,
	"Zookeeper":   `<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>`,
	"BGL":         `<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>`,
	"HPC":         `<LogId> <Node> <Component> <State> <Time> <Flag> <Content>`,
	"Thunderbird": `<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>`,
	"Windows":     `<Date> <Time>, <Level>                  <Component>    <Content>`,
	"Linux":       `<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`,
	"Android":     `<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>`,
	"HealthApp":   `<Time>\|<Component>\|<Pid>\|<Content>`,
	"Apache":      `\[<Time>\] \[<Level>\] <Content>`,
	"Proxifier":   `\[<Time>\] <Program> - <Content>`,
	"OpenSSH":     `<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>`,
	"OpenStack":   `<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>`,
	"Mac":         `<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>`,
}

// StripHeader removes a header from a line without a format: leading
// words that are dates, times, timestamps, numbers (pids, sequence
// numbers), month or weekday names, severity levels, or such words in
// brackets, "-" separators, and then, when a date or time was removed, a
// "component:" of up to two words ("sshd[42]:", "host app[7]:"). What
// remains is the content. A line with no such header is returned whole
// (trimmed).
func StripHeader(line string) string {
	s := strings.TrimSpace(line)
	sawTime := false
	numbers := 0
	for len(s) > 0 {
		w, rest := cutWord(s)
		switch headerWord(w) {
		case hwTime:
			sawTime = true
		case hwNumber:
			// Two numbers in a row read as a compact date and time.
			if numbers++; numbers >= 2 {
				sawTime = true
			}
		case hwOther:
			if sawTime {
				return stripComponent(s)
			}
			return s
		}
		s = rest
	}
	return s
}

func cutWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	return s[:i], s[j:]
}

type headerKind uint8

const (
	hwOther headerKind = iota
	hwTime
	hwPlain  // a level or separator
	hwNumber // digits only
)

func headerWord(w string) headerKind {
	w = strings.Trim(w, "[](),")
	if w == "" || w == "-" || w == "|" {
		return hwPlain
	}
	if levelWords[strings.ToLower(w)] {
		return hwPlain
	}
	if isDateWord(w) {
		return hwTime
	}
	digits, seps := 0, 0
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case isDigit(c):
			digits++
		case c == '-' || c == '/' || c == ':' || c == '.' || c == ',' || c == 'T' || c == 'Z' || c == '+':
			seps++
		default:
			return hwOther
		}
	}
	if digits == 0 {
		return hwOther
	}
	if seps == 0 {
		return hwNumber
	}
	return hwTime
}

var levelWords = map[string]bool{"trace": true, "debug": true, "info": true, "notice": true, "warn": true,
	"warning": true, "error": true, "err": true, "crit": true, "critical": true, "alert": true, "fatal": true,
	"emerg": true, "severe": true, "fine": true}

// stripComponent removes "component:" (one or two words, the last ending
// in ':') from the start of s when it is there.
func stripComponent(s string) string {
	w1, r1 := cutWord(s)
	if len(w1) > 1 && strings.HasSuffix(w1, ":") && !strings.Contains(w1, "=") {
		return r1
	}
	w2, r2 := cutWord(r1)
	if len(w2) > 1 && strings.HasSuffix(w2, ":") && !strings.Contains(w1+w2, "=") && strings.ContainsAny(w2, "[(") {
		return r2
	}
	return s
}
