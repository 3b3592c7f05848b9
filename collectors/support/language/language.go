// Package language guesses the language of a short customer message from its
// scripts, with no model and no allocation: Han characters mean Chinese
// (unless kana or hangul say Japanese or Korean), Latin letters mean English
// unless common words of another Latin-script language outnumber English
// ones. Anything else, or too little text, is "und" (undetermined, as in
// BCP 47).
package language

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Codes returned by Detect.
const (
	Chinese      = "zh"
	English      = "en"
	Japanese     = "ja"
	Korean       = "ko"
	Undetermined = "und"
)

// Detect returns "zh", "en", "ja", "ko" or "und" for text. Redaction tags
// ([EMAIL], [PHONE]…), URLs and Slack-style mentions are ignored.
func Detect(text string) string {
	var c counts
	c.scan(text)
	return c.decide()
}

type counts struct {
	han, kana, hangul, latin, nonASCIILatin, other int
	words, enWords, foreignWords                   int
}

// A Han character carries about as much as a short English word: weigh it
// as three Latin letters when the two scripts are mixed.
const hanWeight = 3

func (c *counts) decide() string {
	cjk := c.han + c.kana + c.hangul
	switch {
	case cjk == 0 && c.latin < 2:
		return Undetermined
	case c.kana > 0 && c.kana*5 >= c.han && (c.han+c.kana)*hanWeight >= c.latin:
		return Japanese
	case c.hangul > 0 && c.hangul*hanWeight >= c.latin && c.hangul >= c.han:
		return Korean
	case c.han > 0 && c.han*hanWeight >= c.latin:
		if c.kana > 0 {
			return Japanese
		}
		return Chinese
	case c.latin > c.other:
		if c.foreignWords > c.enWords || c.nonASCIILatin*10 > c.latin {
			return Undetermined
		}
		return English
	}
	return Undetermined
}

func (c *counts) scan(s string) {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case isLetter(b):
				j := i
				for j < len(s) && (isLetter(s[j]) || s[j] == '\'') {
					j++
				}
				word := s[i:j]
				if j+2 < len(s) && s[j] == ':' && s[j+1] == '/' && s[j+2] == '/' || strings.HasPrefix(word, "www") && j < len(s) && s[j] == '.' {
					i = skipToSpace(s, j) // URL
					continue
				}
				c.word(word)
				i = j
			case b == '[':
				// Redaction tags: [EMAIL], [PHONE], [CARD], [IBAN].
				j := i + 1
				for j < len(s) && 'A' <= s[j] && s[j] <= 'Z' {
					j++
				}
				if j < len(s) && s[j] == ']' && j > i+1 {
					i = j + 1
				} else {
					i++
				}
			case b == '<' && i+1 < len(s) && (s[i+1] == '@' || s[i+1] == '#' || s[i+1] == '!' || s[i+1] == 'h'):
				// Slack markup: <@U123>, <#C123|name>, <!here>, <https://…>.
				if k := strings.IndexByte(s[i:], '>'); k > 0 {
					i += k + 1
				} else {
					i++
				}
			case b == '@':
				i = skipWord(s, i+1) // @mention
			default:
				i++
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch {
		case unicode.Is(unicode.Han, r):
			c.han++
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			c.kana++
		case unicode.Is(unicode.Hangul, r):
			c.hangul++
		case unicode.Is(unicode.Latin, r):
			c.latin++
			c.nonASCIILatin++
		case unicode.IsLetter(r):
			c.other++
		}
	}
}

func (c *counts) word(w string) {
	c.latin += len(w)
	c.words++
	if len(w) > 8 {
		return
	}
	var buf [8]byte
	for k := 0; k < len(w); k++ {
		ch := w[k]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[k] = ch
	}
	// m[string(b)] does not allocate.
	if englishWords[string(buf[:len(w)])] {
		c.enWords++
	}
	if foreignWords[string(buf[:len(w)])] {
		c.foreignWords++
	}
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func skipToSpace(s string, i int) int {
	for i < len(s) && s[i] != ' ' && s[i] != '\n' && s[i] != '\t' {
		i++
	}
	return i
}

func skipWord(s string, i int) int {
	for i < len(s) && (isLetter(s[i]) || '0' <= s[i] && s[i] <= '9' || s[i] == '_' || s[i] == '.') {
		i++
	}
	return i
}

// englishWords are frequent English function words.
var englishWords = set("the a an and or but is are was were be been am i you he she it we they my your our " +
	"me him her us them this that these those of to in on at for with from by not no do does did " +
	"have has had can could will would should there here what when why how who which if so just " +
	"please thanks thank hi hello order still yet again")

// foreignWords are frequent function words of other Latin-script languages
// (French, German, Spanish, Portuguese, Italian, Dutch), ASCII-only, that
// are not English words.
var foreignWords = set("le la les des du une est je pas pour vous nous avec mais sont " +
	"der die das und ist nicht ich ein eine mit mein sie wir auf ja nein " +
	"el los las que y es mi por con para una muy pero gracias hola " +
	"os um uma obrigado " +
	"il di che della sono grazie " +
	"het een niet ik zijn voor")

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
