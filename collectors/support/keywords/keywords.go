// Package keywords finds groups of keywords (complaint categories, services)
// in customer messages in one pass, whatever the number of keywords: the
// keywords of all groups are compiled into one Aho-Corasick automaton over
// bytes.
//
// Matching rules, the same for every group:
//   - case-insensitive for ASCII; runs of whitespace, '-' and '_' count as one
//     space, so "log-in", "log in" and "log  in" are the same text;
//   - a keyword that starts (ends) with an ASCII letter or digit matches only
//     at a word start (end): "card" does not match "discard" or "cards";
//   - a keyword ending in '*' matches any word continuing it: "refund*"
//     matches "refunds" and "refunded";
//   - other keywords (Chinese, for example) match anywhere: "支付" in
//     "支付失败".
package keywords

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxKeywordBytes bounds one keyword after normalization.
const MaxKeywordBytes = 255

// Matcher is a compiled set of keyword groups. It is immutable and safe for
// concurrent use.
type Matcher struct {
	groups []string // sorted
	pats   []pattern
	class  [256]uint8
	nclass int
	next   []int32   // state*nclass + class → state
	out    [][]int32 // state → patterns ending here (own and via suffix links)
}

type pattern struct {
	group      int32
	n          int // bytes, normalized
	leftWord   bool
	rightWord  bool // must end at a word end (false for "prefix*" and non-alnum ends)
	normalized string
}

// Hit is one group found in a text.
type Hit struct {
	Group string
	Count int // keyword occurrences of this group
	First int // byte offset (in the normalized text) of the first occurrence's end
}

// New compiles groups (name → keywords). Empty keywords, keywords longer than
// MaxKeywordBytes and empty group names are errors; duplicate keywords within
// or across groups are allowed (each counts for its groups).
func New(groups map[string][]string) (*Matcher, error) {
	m := &Matcher{}
	for name := range groups {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("keyword group with an empty name")
		}
		m.groups = append(m.groups, name)
	}
	sort.Strings(m.groups)
	for gi, name := range m.groups {
		for _, kw := range groups[name] {
			p, err := compilePattern(kw)
			if err != nil {
				return nil, fmt.Errorf("group %q: %w", name, err)
			}
			p.group = int32(gi)
			m.pats = append(m.pats, p)
		}
	}
	m.build()
	return m, nil
}

// MustNew is New for keyword lists written in code.
func MustNew(groups map[string][]string) *Matcher {
	m, err := New(groups)
	if err != nil {
		panic(err)
	}
	return m
}

// Groups lists the group names, sorted.
func (m *Matcher) Groups() []string { return append([]string(nil), m.groups...) }

func compilePattern(kw string) (pattern, error) {
	raw := strings.TrimSpace(kw)
	prefix := strings.HasSuffix(raw, "*")
	raw = strings.TrimSpace(strings.TrimSuffix(raw, "*"))
	if !utf8.ValidString(raw) {
		return pattern{}, fmt.Errorf("keyword %q is not valid UTF-8", kw)
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(raw); i++ {
		c := normByte(raw[i])
		if c == ' ' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	norm := b.String()
	if norm == "" {
		return pattern{}, fmt.Errorf("empty keyword %q", kw)
	}
	if len(norm) > MaxKeywordBytes {
		return pattern{}, fmt.Errorf("keyword %.20q… longer than %d bytes", norm, MaxKeywordBytes)
	}
	return pattern{
		n:          len(norm),
		leftWord:   isWordByte(norm[0]),
		rightWord:  !prefix && isWordByte(norm[len(norm)-1]),
		normalized: norm,
	}, nil
}

// normByte lower-cases ASCII and maps separators to a space.
func normByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f', c == '-', c == '_':
		return ' '
	}
	return c
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// build compiles the patterns into a DFA over byte classes.
func (m *Matcher) build() {
	// Byte classes: every byte used by a pattern gets its own class; all
	// other bytes share class 0, which leads back towards the root.
	m.nclass = 1
	for _, p := range m.pats {
		for i := 0; i < len(p.normalized); i++ {
			c := p.normalized[i]
			if m.class[c] == 0 {
				m.class[c] = uint8(m.nclass)
				m.nclass++
			}
		}
	}
	if m.nclass > 255 {
		// Cannot happen: at most 255 distinct bytes after normalization
		// (uppercase ASCII is folded away).
		panic("keywords: too many byte classes")
	}
	// Trie.
	type node struct {
		child map[uint8]int32
		out   []int32
	}
	nodes := []node{{child: map[uint8]int32{}}}
	for pi, p := range m.pats {
		s := int32(0)
		for i := 0; i < len(p.normalized); i++ {
			c := m.class[p.normalized[i]]
			nx, ok := nodes[s].child[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, node{child: map[uint8]int32{}})
				nodes[s].child[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(pi))
	}
	// Breadth-first: suffix links and the full transition table.
	nc := m.nclass
	m.next = make([]int32, len(nodes)*nc)
	fail := make([]int32, len(nodes))
	m.out = make([][]int32, len(nodes))
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < nc; c++ {
		if nx, ok := nodes[0].child[uint8(c)]; ok {
			m.next[c] = nx
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	m.out[0] = nodes[0].out
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(append([]int32(nil), nodes[s].out...), m.out[fail[s]]...)
		for c := 0; c < nc; c++ {
			if nx, ok := nodes[s].child[uint8(c)]; ok {
				fail[nx] = m.next[int(fail[s])*nc+c]
				m.next[int(s)*nc+c] = nx
				queue = append(queue, nx)
			} else {
				m.next[int(s)*nc+c] = m.next[int(fail[s])*nc+c]
			}
		}
	}
}

// Match returns the groups found in text, appended to dst in the order of
// their first occurrence.
func (m *Matcher) Match(text string, dst []Hit) []Hit {
	if len(m.pats) == 0 {
		return dst
	}
	base := len(dst)
	// ring holds the last normalized bytes, for the left word boundary; a
	// keyword is at most 255 bytes, so 256 always reach the byte before it.
	var ring [256]byte
	const mask = len(ring) - 1
	nc := m.nclass
	state := int32(0)
	k := 0 // normalized bytes so far
	prevSpace := true
	for i := 0; i < len(text); i++ {
		c := normByte(text[i])
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		ring[k&mask] = c
		k++
		state = m.next[int(state)*nc+int(m.class[c])]
		for _, pi := range m.out[state] {
			p := &m.pats[pi]
			if p.leftWord {
				start := k - p.n
				if start > 0 && isWordByte(ring[(start-1)&mask]) {
					continue
				}
			}
			if p.rightWord && i+1 < len(text) && isWordByte(text[i+1]) {
				continue
			}
			dst = addHit(dst, base, m.groups[p.group], k)
		}
	}
	return dst
}

func addHit(dst []Hit, base int, group string, pos int) []Hit {
	for j := base; j < len(dst); j++ {
		if dst[j].Group == group {
			dst[j].Count++
			return dst
		}
	}
	return append(dst, Hit{Group: group, Count: 1, First: pos})
}

// Best returns the group with the most occurrences (ties: the earliest), or
// "" when hits is empty.
func Best(hits []Hit) string {
	best := -1
	for i, h := range hits {
		if best < 0 || h.Count > hits[best].Count || h.Count == hits[best].Count && h.First < hits[best].First {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return hits[best].Group
}
