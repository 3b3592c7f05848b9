// Package logpatterns mines log templates online: each line is split into
// words, variable parts are masked by generic rules (numbers, addresses,
// ids, paths, durations), and the masked words are routed through a
// prefix tree (Drain's: word count, then the first words) to the most
// similar template, which is generalized where they differ. A template's
// id is the xxhash64 of its text, so the same template has the same id in
// every partition, process and restart. See docs/log-patterns.md.
package logpatterns

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Config sets the miner. The zero value of a field means its default.
type Config struct {
	// Depth is how many leading words route a line in the prefix tree
	// (after its word count). Default 2.
	Depth int
	// Similarity is the share of a family's words a line must have in
	// the same places to join it. Default 0.5.
	Similarity float64
	// Variants is how many distinct words a position of a family must
	// show before it is a variable; fewer distinct words keep separate
	// templates ("opened"/"closed"). Default 4.
	Variants int
	// MaxChildren bounds a tree node's children; more distinct words go
	// to its wildcard child. Default 100.
	MaxChildren int
}

// DefaultConfig is the configuration the benchmark and the service use.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Depth <= 0 {
		c.Depth = 2
	}
	if c.Similarity <= 0 {
		c.Similarity = 0.5
	}
	if c.Variants <= 1 {
		c.Variants = 4
	}
	if c.MaxChildren <= 0 {
		c.MaxChildren = 100
	}
	return c
}

// Match is the template a line was assigned to.
type Match struct {
	// ID is the template's content hash (TemplateID of Template).
	ID uint64
	// Template is the template text, words joined by one space, variable
	// parts as <*>.
	Template string
	// Cluster numbers the template within this miner (0, 1, ...); it
	// stays the same when the template is generalized.
	Cluster int
	// New: the line started a new template.
	New bool
	// Changed: the line generalized an existing template, whose id was
	// PrevID (the store may map PrevID to ID).
	Changed bool
	PrevID  uint64
	// Merged lists other templates folded into this one by this line
	// (their ids before the fold); usually empty.
	Merged []uint64
}

// Template is one mined template.
type Template struct {
	ID    uint64
	Text  string
	Count int64
}

// TemplateID is the stable id of a template text.
func TemplateID(text string) uint64 { return xxhash.Sum64String(text) }

// A family is a set of lines of one length that are similar (Drain's
// cluster). Its positions are constant (one word), split (2 to
// Variants-1 distinct words: each word is a separate template) or
// variable. Its templates are its clusters.
type family struct {
	tokens   []string   // the first line's words
	vals     [][]string // per position: distinct words, nil while only tokens[p]
	variable []bool
	groups   map[uint64]int32 // split-position words → cluster
	members  []int32          // live clusters
}

// A cluster is one template.
type cluster struct {
	fam    int32
	tokens []string
	text   string
	id     uint64
	count  int64
	parent int32 // itself, or the cluster it was merged into
}

type node struct {
	children map[string]*node
	families []int32
}

// Miner mines templates from one stream of lines. It is not safe for
// concurrent use: give each partition its own.
type Miner struct {
	cfg      Config
	byLen    map[int]*node
	families []*family
	clusters []*cluster
	tok      tokenizer
}

// NewMiner returns an empty miner.
func NewMiner(cfg Config) *Miner {
	return &Miner{cfg: cfg.withDefaults(), byLen: map[int]*node{}}
}

var keySep = []byte{0}

// Add assigns one line's content (the message without its header, see
// HeaderFormat) to a template, creating or generalizing one as needed.
func (m *Miner) Add(content string) Match {
	m.tok.tokenize(content)
	toks := m.tok.masked
	leaf := m.route(toks)
	best, bestSim, bestVars := -1, -1.0, -1
	for _, fi := range leaf.families {
		f := m.families[fi]
		same, vars := 0, 0
		for i, t := range f.tokens {
			switch {
			case f.variable[i]:
				vars++
			case f.vals[i] == nil:
				if t == toks[i] {
					same++
				}
			default:
				for _, v := range f.vals[i] {
					if v == toks[i] {
						same++
						break
					}
				}
			}
		}
		sim := 1.0
		if len(toks) > 0 {
			sim = float64(same) / float64(len(toks))
		}
		if sim > bestSim || (sim == bestSim && vars > bestVars) {
			best, bestSim, bestVars = int(fi), sim, vars
		}
	}
	if best < 0 || bestSim < m.cfg.Similarity {
		best = len(m.families)
		f := &family{tokens: make([]string, len(toks)), vals: make([][]string, len(toks)),
			variable: make([]bool, len(toks)), groups: map[uint64]int32{}}
		for i, t := range toks {
			f.tokens[i] = strings.Clone(t)
		}
		m.families = append(m.families, f)
		leaf.families = append(leaf.families, int32(best))
	}
	return m.place(int32(best), toks)
}

// place adds a line to family fi: new words at its positions may split
// it into more templates or make a position variable.
func (m *Miner) place(fi int32, toks []string) Match {
	f := m.families[fi]
	var merged []uint64
	for i, t := range toks {
		if f.variable[i] {
			continue
		}
		if f.vals[i] == nil {
			if t == f.tokens[i] {
				continue
			}
			f.vals[i] = []string{f.tokens[i]}
			// The position now splits templates: re-key them.
			m.rekey(f, -1)
		}
		if slices.Contains(f.vals[i], t) {
			continue
		}
		// A value with a wildcard covers the values it matches:
		// "(<*>)" covers "()" and "(localhost)".
		if j := coveredBy(f.vals[i], t); j >= 0 {
			toks[i] = f.vals[i][j]
			continue
		}
		if strings.Contains(t, Wildcard) {
			if n := m.cover(f, i, t); n > 0 {
				continue
			}
		}
		f.vals[i] = append(f.vals[i], strings.Clone(t))
		if len(f.vals[i]) >= m.cfg.Variants {
			f.variable[i] = true
			f.vals[i] = nil
			merged = append(merged, m.rekey(f, i)...)
		}
	}
	key := f.key(toks)
	ci, ok := f.groups[key]
	if !ok {
		c := &cluster{fam: fi, tokens: make([]string, len(toks)), count: 1, parent: int32(len(m.clusters))}
		for i, t := range toks {
			if f.variable[i] {
				c.tokens[i] = Wildcard
			} else {
				c.tokens[i] = strings.Clone(t)
			}
		}
		c.setText()
		ci = int32(len(m.clusters))
		m.clusters = append(m.clusters, c)
		f.groups[key] = ci
		f.members = append(f.members, ci)
		return Match{ID: c.id, Template: c.text, Cluster: int(ci), New: true, Merged: merged}
	}
	c := m.clusters[ci]
	c.count++
	return Match{ID: c.id, Template: c.text, Cluster: int(ci), Merged: merged}
}

// key hashes a line's words at the family's split positions.
func (f *family) key(toks []string) uint64 {
	var d xxhash.Digest
	d.Reset()
	for i, t := range toks {
		if f.vals[i] != nil && !f.variable[i] {
			d.WriteString(t)
			d.Write(keySep)
		}
	}
	return d.Sum64()
}

// rekey recomputes the keys of f's templates after a position changed
// state; when p >= 0, position p became variable: it is a wildcard in
// every template and templates that become equal fold. It returns the ids
// that disappeared or changed.
func (m *Miner) rekey(f *family, p int) []uint64 {
	var gone []uint64
	clear(f.groups)
	live := f.members[:0]
	for _, ci := range f.members {
		c := m.clusters[ci]
		old := c.id
		if p >= 0 {
			c.tokens[p] = Wildcard
		}
		key := f.key(c.tokens)
		if into, ok := f.groups[key]; ok {
			dst := m.clusters[into]
			dst.count += c.count
			c.parent = into
			gone = append(gone, old)
			continue
		}
		c.setText()
		if c.id != old {
			gone = append(gone, old)
		}
		f.groups[key] = ci
		live = append(live, ci)
	}
	f.members = live
	return gone
}

func (c *cluster) setText() {
	c.text = strings.Join(c.tokens, " ")
	c.id = TemplateID(c.text)
}

// route finds (creating it) the leaf for a token sequence.
func (m *Miner) route(toks []string) *node {
	n := m.byLen[len(toks)]
	if n == nil {
		n = &node{}
		m.byLen[len(toks)] = n
	}
	for d := 0; d < m.cfg.Depth && d < len(toks); d++ {
		key := toks[d]
		if hasDigit(key) || strings.Contains(key, Wildcard) {
			key = Wildcard
		}
		child := n.children[key]
		if child == nil {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			if len(n.children) >= m.cfg.MaxChildren-1 && key != Wildcard {
				key = Wildcard
				child = n.children[key]
			}
			if child == nil {
				child = &node{}
				n.children[strings.Clone(key)] = child
			}
		}
		n = child
	}
	return n
}

// Templates returns every live template, in creation order.
func (m *Miner) Templates() []Template {
	out := make([]Template, 0, len(m.clusters))
	for i, c := range m.clusters {
		if int(c.parent) == i {
			out = append(out, Template{ID: c.id, Text: c.text, Count: c.count})
		}
	}
	return out
}

// finalClusters maps every cluster index to the live cluster it now
// belongs to.
func (m *Miner) finalClusters() []int {
	out := make([]int, len(m.clusters))
	for i := range out {
		j := i
		for int(m.clusters[j].parent) != j {
			j = int(m.clusters[j].parent)
		}
		out[i] = j
	}
	return out
}

// coveredBy returns the index of a value with a wildcard that matches t,
// or -1.
func coveredBy(vals []string, t string) int {
	for j, v := range vals {
		if len(v) > len(Wildcard) && strings.Contains(v, Wildcard) && wildMatch(v, t) {
			return j
		}
	}
	return -1
}

// cover replaces the values of position p that pattern matches by
// pattern, folding the templates that become equal; it returns how many
// values it replaced.
func (m *Miner) cover(f *family, p int, pattern string) int {
	if pattern == Wildcard {
		return 0
	}
	n := 0
	keep := f.vals[p][:0]
	for _, v := range f.vals[p] {
		if wildMatch(pattern, v) {
			n++
			continue
		}
		keep = append(keep, v)
	}
	if n == 0 {
		return 0
	}
	f.vals[p] = append(keep, strings.Clone(pattern))
	for _, ci := range f.members {
		c := m.clusters[ci]
		if wildMatch(pattern, c.tokens[p]) {
			c.tokens[p] = f.vals[p][len(f.vals[p])-1]
		}
	}
	m.rekey(f, -1)
	return n
}

// wildMatch reports whether s matches pattern, where each <*> in pattern
// matches any run of bytes (possibly empty). Glob matching with one
// backtrack point: O(len(pattern) × len(s)) at worst.
func wildMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(pattern[p:], Wildcard):
			p += len(Wildcard)
			star, mark = p, i
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star, mark
		default:
			return false
		}
	}
	for strings.HasPrefix(pattern[p:], Wildcard) {
		p += len(Wildcard)
	}
	return p == len(pattern)
}
