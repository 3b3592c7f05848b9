package logpatterns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/firebreak-aiops/firebreak/detectors/internal/statebuf"
)

// State layout (MarshalBinary), integers uvarint unless noted:
//
//	"FBLP", version 1
//	config: depth, variants, maxChildren, similarity (float64 bits, 8 bytes LE)
//	family count; per family: word count, words, then per position a
//	  state byte (0 constant, 1 split, 2 variable) and, when split, the
//	  value count and values
//	cluster count; per cluster: family, parent, count, word count, words
//
// Strings are uvarint length + bytes. The prefix tree and the template
// keys are rebuilt on load (families are replayed in creation order, which
// is how the tree was grown).
const stateVersion = 1

var stateMagic = []byte("FBLP")

// MarshalBinary encodes the miner's whole state.
func (m *Miner) MarshalBinary() ([]byte, error) {
	b := append([]byte(nil), stateMagic...)
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, uint64(m.cfg.Depth))
	b = binary.AppendUvarint(b, uint64(m.cfg.Variants))
	b = binary.AppendUvarint(b, uint64(m.cfg.MaxChildren))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.cfg.Similarity))
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	b = binary.AppendUvarint(b, uint64(len(m.families)))
	for _, f := range m.families {
		b = binary.AppendUvarint(b, uint64(len(f.tokens)))
		for _, t := range f.tokens {
			str(t)
		}
		for i := range f.tokens {
			switch {
			case f.variable[i]:
				b = append(b, 2)
			case f.vals[i] != nil:
				b = append(b, 1)
				b = binary.AppendUvarint(b, uint64(len(f.vals[i])))
				for _, v := range f.vals[i] {
					str(v)
				}
			default:
				b = append(b, 0)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(m.clusters)))
	for _, c := range m.clusters {
		b = binary.AppendUvarint(b, uint64(c.fam))
		b = binary.AppendUvarint(b, uint64(c.parent))
		b = binary.AppendUvarint(b, uint64(c.count))
		b = binary.AppendUvarint(b, uint64(len(c.tokens)))
		for _, t := range c.tokens {
			str(t)
		}
	}
	return b, nil
}

var errState = errors.New("logpatterns: bad miner state")

// UnmarshalBinary replaces the miner's state with one MarshalBinary made.
// It never panics on bad input.
func (m *Miner) UnmarshalBinary(data []byte) error {
	if len(data) < 5 || string(data[:4]) != string(stateMagic) {
		return fmt.Errorf("%w: bad magic", errState)
	}
	if data[4] != stateVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", errState, data[4], stateVersion)
	}
	r := statebuf.NewReader(data[5:], errState)
	var cfg Config
	cfg.Depth = int(r.Uvarint(64))
	cfg.Variants = int(r.Uvarint(1 << 20))
	cfg.MaxChildren = int(r.Uvarint(1 << 30))
	cfg.Similarity = math.Float64frombits(r.U64())
	if r.Err() != nil || cfg.Similarity < 0 || cfg.Similarity > 1 || math.IsNaN(cfg.Similarity) {
		return fmt.Errorf("%w: config", errState)
	}
	n := NewMiner(cfg)
	nf := r.Uvarint(uint64(len(data)))
	for range nf {
		nt := r.Uvarint(uint64(len(data)))
		f := &family{tokens: make([]string, nt), vals: make([][]string, nt), variable: make([]bool, nt), groups: map[uint64]int32{}}
		for i := range f.tokens {
			f.tokens[i] = r.Str()
		}
		for i := range f.tokens {
			switch r.Byte() {
			case 0:
			case 1:
				nv := r.Uvarint(uint64(len(data)))
				// One value is a legitimate split: a wildcard value that
				// covered the others (Miner.cover) leaves a single one.
				if nv < 1 {
					r.Fail()
				}
				for range nv {
					f.vals[i] = append(f.vals[i], r.Str())
				}
			case 2:
				f.variable[i] = true
			default:
				r.Fail()
			}
		}
		if r.Err() != nil {
			return fmt.Errorf("%w: family %d", errState, len(n.families))
		}
		leaf := n.route(f.tokens)
		leaf.families = append(leaf.families, int32(len(n.families)))
		n.families = append(n.families, f)
	}
	nc := r.Uvarint(uint64(len(data)))
	for range nc {
		c := &cluster{}
		c.fam = int32(r.Uvarint(uint64(len(n.families))))
		c.parent = int32(r.Uvarint(nc))
		c.count = int64(r.Uvarint(math.MaxInt64))
		nt := r.Uvarint(uint64(len(data)))
		c.tokens = make([]string, nt)
		for i := range c.tokens {
			c.tokens[i] = r.Str()
		}
		if r.Err() != nil || int(c.fam) >= len(n.families) || int(c.parent) >= int(nc) ||
			len(c.tokens) != len(n.families[c.fam].tokens) {
			return fmt.Errorf("%w: template %d", errState, len(n.clusters))
		}
		c.setText()
		n.clusters = append(n.clusters, c)
	}
	if r.Len() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errState, r.Len())
	}
	for ci, c := range n.clusters {
		// Parents must lead to a live template without cycles.
		j, steps := ci, 0
		for int(n.clusters[j].parent) != j {
			j = int(n.clusters[j].parent)
			if steps++; steps > len(n.clusters) {
				return fmt.Errorf("%w: merge cycle at template %d", errState, ci)
			}
		}
		if int(c.parent) == ci {
			f := n.families[c.fam]
			f.members = append(f.members, int32(ci))
		}
	}
	for _, f := range n.families {
		n.rekey(f, -1)
	}
	*m = *n
	return nil
}
