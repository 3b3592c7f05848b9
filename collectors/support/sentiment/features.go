package sentiment

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// Features of the trained model, hashed into 2^bits weights (the hashing
// trick, with a sign bit against collision bias):
//
//   - the text is cut into units: an English word (ASCII letters and digits,
//     lower case, apostrophes dropped so "don't" is "dont", letters repeated
//     three times or more cut to two so "sooo" is "soo"); one Han character
//     (or any other non-ASCII letter); a number; "!" or "?" (full-width
//     too); an emoji or emoticon; an @mention (one unit for all);
//   - clause marks (. , ; : and their Chinese forms, newlines, brackets and
//     quotes) end a segment: no n-gram spans them;
//   - features are the unigrams, the bigrams of adjacent units, and the
//     trigrams of three adjacent Han characters (character 1–3-grams for
//     Chinese, word 1–2-grams for English; wordN = 3 adds word trigrams);
//   - negation: an English word after a negator (not, no, never, n't forms,
//     without…) until the end of the clause gets a marked unigram
//     ("not good" → not, good_NEG, "not good"); Chinese negation (不好,
//     没有) is read by the character bigrams and trigrams;
//   - a feature counts once however often it occurs (presence, which did
//     better than counts on held-back training rows); the sum of weights is
//     divided by the square root of the number of features;
//   - URLs and redaction tags ([EMAIL], [PHONE]…) are skipped.
//
// Extraction allocates nothing once the scratch buffers have grown.

const (
	unitBreak uint64 = 0 // segment end (never a real unit id: ids are mixed)
	negSalt   uint64 = 0x9e3779b97f4a7c15
)

type unit struct {
	id  uint64
	han bool // a Han character
	neg bool // an English word in a negation scope
}

type featScratch struct {
	units []unit
	feats []uint64
}

// Unit ids of the fixed units.
var (
	idNumber   = mix64(0x6e756d)    // "num"
	idMention  = mix64(0x406d656e)  // "@men"
	idExclaim  = mix64(0x21212121)  // "!"
	idQuestion = mix64(0x3f3f3f3f)  // "?"
	idEllipsis = mix64(0x2e2e2e2e2) // "..."
)

// negators are English words that open a negation scope, by unit id.
var negators = func() map[uint64]bool {
	m := map[uint64]bool{}
	for _, w := range []string{
		"not", "no", "never", "nothing", "nobody", "none", "nor", "neither", "nowhere", "cannot", "without",
		"hardly", "barely", "scarcely", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent",
		"cant", "couldnt", "wont", "wouldnt", "shouldnt", "havent", "hasnt", "hadnt", "aint", "mustnt",
		"neednt", "lack", "lacks", "lacking", "nt",
	} {
		m[wordID([]byte(w))] = true
	}
	return m
}()

// wordID hashes a lower-case word (FNV-1a then mixed).
func wordID(w []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range w {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix64(h ^ 0x776f7264)
}

func runeID(r rune) uint64 { return mix64(uint64(r) ^ 0x72756e65<<32) }

// units cuts text into units.
func (sc *featScratch) cut(text string) {
	u := sc.units[:0]
	neg := false
	brk := func() {
		neg = false
		if n := len(u); n > 0 && u[n-1].id != unitBreak {
			u = append(u, unit{id: unitBreak})
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case isLetter(c):
				// A word: letters and digits, apostrophes inside dropped.
				h := uint64(14695981039346656037)
				var p1, p2 byte // the two previous letters, for squeezing
				j := i
				for j < len(text) {
					d := text[j]
					if isLetter(d) || '0' <= d && d <= '9' {
						d = lower(d)
						if !(d == p1 && d == p2) {
							h ^= uint64(d)
							h *= 1099511628211
						}
						p2, p1 = p1, d
						j++
					} else if d == '\'' && j+1 < len(text) && isLetter(text[j+1]) {
						j++
					} else if d == 0xe2 && j+3 < len(text) && text[j+1] == 0x80 && text[j+2] == 0x99 && isLetter(text[j+3]) {
						j += 3 // ’
					} else {
						break
					}
				}
				if j+2 < len(text) && text[j] == ':' && text[j+1] == '/' && text[j+2] == '/' ||
					j+1 < len(text) && text[j] == '.' && j-i == 3 && (text[i] == 'w' || text[i] == 'W') && lower(text[i+1]) == 'w' && lower(text[i+2]) == 'w' {
					for j < len(text) && text[j] != ' ' && text[j] != '\n' && text[j] != '\t' {
						j++
					}
					i = j
					continue
				}
				id := mix64(h ^ 0x776f7264)
				if negators[id] {
					// The negator itself is a plain unit; the scope starts after it.
					u = append(u, unit{id: id})
					neg = true
				} else {
					u = append(u, unit{id: id, neg: neg})
				}
				i = j
			case '0' <= c && c <= '9':
				for i < len(text) && ('0' <= text[i] && text[i] <= '9' || (text[i] == '.' || text[i] == ',') && i+1 < len(text) && '0' <= text[i+1] && text[i+1] <= '9') {
					i++
				}
				u = append(u, unit{id: idNumber})
			case c == '@' && i+1 < len(text) && (isLetter(text[i+1]) || text[i+1] == '_'):
				i++
				for i < len(text) && (isLetter(text[i]) || '0' <= text[i] && text[i] <= '9' || text[i] == '_') {
					i++
				}
				u = append(u, unit{id: idMention})
			case c == '[':
				// Redaction tags: [EMAIL], [PHONE], [CARD], [IBAN], [EMAIL:3f9a…].
				j := i + 1
				for j < len(text) && 'A' <= text[j] && text[j] <= 'Z' {
					j++
				}
				if j > i+1 && j < len(text) && text[j] == ':' {
					for j < len(text) && text[j] != ']' && text[j] != ' ' {
						j++
					}
				}
				if j > i+1 && j < len(text) && text[j] == ']' {
					i = j + 1
				} else {
					brk()
					i++
				}
			default:
				if id, n := emoticonID(text[i:]); n > 0 {
					u = append(u, unit{id: id})
					i += n
					continue
				}
				switch c {
				case '!':
					u = append(u, unit{id: idExclaim})
					brk()
				case '?':
					u = append(u, unit{id: idQuestion})
					brk()
				case '.':
					if i+2 < len(text) && text[i+1] == '.' && text[i+2] == '.' {
						for i+1 < len(text) && text[i+1] == '.' {
							i++
						}
						brk()
						u = append(u, unit{id: idEllipsis})
					}
					brk()
				case ',', ';', ':', '\n', '(', ')', '"', '[', ']', '{', '}', '<', '>', '|', '/':
					brk()
				}
				i++
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		i += w
		switch {
		case r >= 0x2e80 && unicode.Is(unicode.Han, r):
			u = append(u, unit{id: runeID(r), han: true})
		case r == '！':
			u = append(u, unit{id: idExclaim})
			brk()
		case r == '？':
			u = append(u, unit{id: idQuestion})
			brk()
		case r == '…':
			brk()
			u = append(u, unit{id: idEllipsis})
			brk()
		case '０' <= r && r <= '９':
			for i < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[i:])
				if !('０' <= r2 && r2 <= '９') {
					break
				}
				i += w2
			}
			u = append(u, unit{id: idNumber})
		case r == '\u0085' || r == '\u00a0' || r == '\u3000' || unicode.IsSpace(r) || r == utf8.RuneError || r == '\u200d' || r == '\ufe0f':
			// spaces, joiners and variation selectors
		case unicode.IsLetter(r) || unicode.Is(unicode.So, r):
			u = append(u, unit{id: runeID(r)})
		case unicode.IsPunct(r):
			brk()
		}
	}
	sc.units = u
}

// extract fills sc.feats with the hashed features of text.
func (sc *featScratch) extract(text string, wordN, charN int) {
	sc.cut(text)
	f := sc.feats[:0]
	u := sc.units
	for i := range u {
		a := u[i]
		if a.id == unitBreak {
			continue
		}
		uni := a.id
		if a.neg {
			uni ^= negSalt
		}
		f = append(f, mix64(uni+0x1111))
		if i < 1 || u[i-1].id == unitBreak {
			continue
		}
		b := u[i-1]
		h2 := mix64(b.id*0x9e3779b97f4a7c15 ^ a.id + 0x2222)
		if max(wordN, boolInt(a.han && b.han)*charN) >= 2 {
			f = append(f, h2)
		}
		if i < 2 || u[i-2].id == unitBreak {
			continue
		}
		c := u[i-2]
		n := wordN
		if a.han && b.han && c.han {
			n = charN
		}
		if n >= 3 {
			f = append(f, mix64(h2*0xc2b2ae3d27d4eb4f^c.id+0x3333))
		}
	}
	// Presence, not counts: each feature once.
	slices.Sort(f)
	sc.feats = slices.Compact(f)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func emoticonID(s string) (uint64, int) {
	switch s[0] {
	case ':', ';', '=', '<', '>', '^':
	default:
		return 0, 0
	}
	for k, em := range emoticons {
		if len(s) >= len(em.s) && s[:len(em.s)] == em.s {
			return mix64(uint64(k) + 0x656d6f74), len(em.s)
		}
	}
	return 0, 0
}
