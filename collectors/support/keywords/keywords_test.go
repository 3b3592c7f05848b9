package keywords

import (
	"reflect"
	"strings"
	"testing"
)

func groupsOf(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Group)
	}
	return out
}

func TestMatchRules(t *testing.T) {
	m := MustNew(map[string][]string{
		"payment":  {"card declined", "payment*", "支付", "扣款"},
		"login":    {"log in", "login*", "password", "登录", "登錄"},
		"refund":   {"refund*", "退款"},
		"delivery": {"parcel", "快递"},
	})
	cases := []struct {
		text string
		want []string
	}{
		{"My CARD DECLINED twice", []string{"payment"}},
		{"card   declined", []string{"payment"}},
		{"card-declined", []string{"payment"}},
		{"discard declined", nil}, // word start
		{"card declinedx", nil},   // word end
		{"payments failing", []string{"payment"}},
		{"I cannot log-in, wrong Password", []string{"login"}},
		{"logins broken", []string{"login"}},
		{"passwords", nil},
		{"refunded? no refund yet", []string{"refund"}},
		{"支付失败，已扣款但是没有退款", []string{"payment", "refund"}},
		{"无法登录", []string{"login"}},
		{"無法登錄", []string{"login"}},
		{"快递三天没到, parcel lost", []string{"delivery"}},
		{"", nil},
		{"nothing relevant here", nil},
	}
	for _, c := range cases {
		got := groupsOf(m.Match(c.text, nil))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Match(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	hits := m.Match("支付 支付 refund", nil)
	if hits[0].Group != "payment" || hits[0].Count != 2 || Best(hits) != "payment" {
		t.Fatalf("counts: %+v", hits)
	}
	if Best(m.Match("refund then payment", nil)) != "refund" {
		t.Fatal("ties go to the earliest group")
	}
	if Best(nil) != "" {
		t.Fatal("Best of nothing")
	}
}

func TestOverlappingKeywords(t *testing.T) {
	m := MustNew(map[string][]string{"a": {"he", "she", "hers"}, "b": {"his", "rs"}})
	// Suffix-link outputs reach "he" inside "she" and "rs" inside "hers",
	// but none of them starts a word inside "ushers".
	got := m.Match("ushers his", nil)
	if !reflect.DeepEqual(groupsOf(got), []string{"b"}) {
		t.Fatalf("%+v", got)
	}
	m2 := MustNew(map[string][]string{"x": {"超时*", "时间"}, "y": {"超"}})
	if g := groupsOf(m2.Match("支付超时", nil)); !reflect.DeepEqual(g, []string{"y", "x"}) {
		t.Fatalf("%v", g)
	}
}

func TestNewRejectsBadKeywords(t *testing.T) {
	for _, g := range []map[string][]string{
		{"": {"x"}},
		{"a": {""}},
		{"a": {"  *"}},
		{"a": {strings.Repeat("x", MaxKeywordBytes+1)}},
		{"a": {"\xff"}},
	} {
		if _, err := New(g); err == nil {
			t.Errorf("New(%q) accepted", g)
		}
	}
	m, err := New(nil)
	if err != nil || len(m.Match("anything", nil)) != 0 {
		t.Fatal("empty matcher")
	}
}

func TestLongestKeyword(t *testing.T) {
	long := strings.Repeat("ab ", 84) + "end" // 255 bytes
	m := MustNew(map[string][]string{"x": {long}})
	if len(m.Match("zz "+long+" zz", nil)) != 1 || len(m.Match("z"+long, nil)) != 0 {
		t.Fatal("longest keyword: left boundary must still be seen")
	}
}

// FuzzMatch checks the automaton against a naive search on the normalized
// text.
func FuzzMatch(f *testing.F) {
	f.Add("card declined, 支付失败 refunds", "card declined")
	f.Add("aaa", "aa")
	f.Fuzz(func(t *testing.T, text, kw string) {
		m, err := New(map[string][]string{"g": {kw}})
		if err != nil {
			return
		}
		got := len(m.Match(text, nil)) > 0
		p := m.pats[0]
		norm := normalizeText(text)
		want := false
		for i := 0; i+p.n <= len(norm); i++ {
			if norm[i:i+p.n] != p.normalized {
				continue
			}
			if p.leftWord && i > 0 && isWordByte(norm[i-1]) {
				continue
			}
			if p.rightWord && i+p.n < len(norm) && isWordByte(norm[i+p.n]) {
				continue
			}
			want = true
			break
		}
		if got != want {
			t.Fatalf("Match(%q, %q) = %v, naive %v", text, kw, got, want)
		}
	})
}

func normalizeText(s string) string {
	var b strings.Builder
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := normByte(s[i])
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

func BenchmarkMatch(b *testing.B) {
	m := MustNew(map[string][]string{
		"payment": {"card declined", "payment*", "支付", "扣款", "charge*", "billing"},
		"login":   {"log in", "login*", "password", "登录"},
		"refund":  {"refund*", "退款", "money back"},
	})
	text := "Hi, I tried to log in three times and my card declined at checkout; 支付失败了，请尽快退款 thanks"
	b.SetBytes(int64(len(text)))
	var hits []Hit
	for b.Loop() {
		hits = m.Match(text, hits[:0])
	}
}
