package sentiment

import (
	"math"
	"strings"
	"sync"
	"testing"
)

func TestBuiltinLexiconsLoad(t *testing.T) {
	l, err := builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.terms) < 1000 {
		t.Fatalf("only %d terms", len(l.terms))
	}
}

func TestBaselineDirections(t *testing.T) {
	b := NewBaseline()
	cases := []struct {
		text, lang, want string
	}{
		// English support messages.
		{"Thank you so much, the refund arrived and your team was super helpful!", "en", Positive},
		{"Great service, fast delivery :)", "en", Positive},
		{"My payment failed twice and I was charged anyway. This is unacceptable!", "en", Negative},
		{"The app keeps crashing when I try to log in", "en", Negative},
		{"Still waiting for my parcel, no response from support", "en", Negative},
		{"not good", "en", Negative},
		{"not bad at all", "en", Positive},
		{"I can't log in", "en", Negative},
		{"I love the new checkout but the delivery was terribly late", "en", Negative},
		{"It was a bit slow, but the staff were lovely", "en", Positive},
		{"How do I change the address on my order?", "en", Neutral},
		{"Please update my billing address to [EMAIL]", "en", Neutral},
		{"This is AWFUL", "en", Negative},
		{"sooo goooood", "en", Positive},
		{"It doesn't work 😡", "en", Negative},
		{"The movie was a masterpiece, truly moving", "en", Positive},
		{"a dull, tedious mess", "en", Negative},
		// Chinese support messages.
		{"支付失败了，钱被扣了但是订单没有生成，太坑了", "zh", Negative},
		{"快递三天了还没到，客服也不回复", "zh", Negative},
		{"登录不了，一直报错", "zh", Negative},
		{"客服态度很好，问题很快就解决了，谢谢！", "zh", Positive},
		{"送餐很快，味道不错，好评", "zh", Positive},
		{"不好吃", "zh", Negative},
		{"不太满意", "zh", Negative},
		{"不错", "zh", Positive},
		{"还不错，就是有点贵", "zh", Neutral},
		{"出差住的酒店，差不多一个小时到", "zh", Neutral},
		{"请问怎么修改收货地址？", "zh", Neutral},
		{"好慢啊", "zh", Negative},
		{"非常满意，强烈推荐", "zh", Positive},
		{"再也不会买了，垃圾", "zh", Negative},
		{"无法支付", "zh", Negative},
		// Mixed.
		{"app一直crash，太差了", "zh", Negative},
	}
	for _, c := range cases {
		r := b.Score(c.text, c.lang)
		if c.want == Neutral && r.Label != Neutral && math.Abs(r.Score) > 0.35 {
			t.Errorf("%q: %+v, want roughly neutral", c.text, r)
		}
		if c.want != Neutral && r.Label != c.want {
			t.Errorf("%q: %+v, want %s", c.text, r, c.want)
		}
	}
}

func TestBaselineOrdering(t *testing.T) {
	b := NewBaseline()
	less := [][2]string{
		{"very bad", "bad"},
		{"bad", "not bad"},
		{"not good", "good"},
		{"good", "very good"},
		{"good", "good!!!"},
		{"很差", "差"},
		{"差", "不差"},
		{"不好", "好"},
		{"好", "很好"},
		{"慢", "不慢"},
	}
	for _, p := range less {
		a, c := b.Score(p[0], ""), b.Score(p[1], "")
		if !(a.Score < c.Score) {
			t.Errorf("want %q (%.3f) < %q (%.3f)", p[0], a.Score, p[1], c.Score)
		}
	}
}

func TestExtraLexicon(t *testing.T) {
	b, err := NewBaselineWith(BaselineOptions{Lexicons: []string{"-2 sev1\n0 terrible\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Score("we have a sev1", "en"); r.Label != Negative {
		t.Fatalf("extra term: %+v", r)
	}
	if r := b.Score("terrible", "en"); r.Label != Neutral {
		t.Fatalf("override: %+v", r)
	}
	if r := NewBaseline().Score("terrible", "en"); r.Label != Negative {
		t.Fatal("extra lexicons must not change the shared built-in one")
	}
	for _, bad := range []string{"good", "9 word", "xx fast", "x0 very", "1/y2 odd", "1/x9 odd"} {
		if _, err := NewBaselineWith(BaselineOptions{Lexicons: []string{bad}}); err == nil {
			t.Errorf("lexicon %q accepted", bad)
		}
	}
}

func TestLabelFor(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{-1, Negative}, {-0.1, Negative}, {-0.05, Neutral}, {0, Neutral}, {0.09, Neutral}, {0.1, Positive}, {1, Positive}} {
		if got := LabelFor(c.s, 0.1); got != c.want {
			t.Errorf("LabelFor(%v) = %s", c.s, got)
		}
	}
	if Clamp(math.NaN()) != 0 || Clamp(3) != 1 || Clamp(-3) != -1 || Clamp(0.5) != 0.5 {
		t.Fatal("Clamp")
	}
}

func TestConcurrentScoring(t *testing.T) {
	b := NewBaseline()
	texts := []string{"not very good at all", "支付失败，太慢了", "GREAT!!! 👍", "meh"}
	want := make([]Result, len(texts))
	for i, s := range texts {
		want[i] = b.Score(s, "")
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for n := 0; n < 500; n++ {
				i := n % len(texts)
				if got := b.Score(texts[i], ""); got != want[i] {
					t.Errorf("%q: %+v vs %+v", texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestScoreDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	b := NewBaseline()
	text := "The app crashed AGAIN and support was not helpful at all!!! 支付失败，退款太慢了 😡"
	b.Score(text, "en")
	if n := testing.AllocsPerRun(200, func() { b.Score(text, "en") }); n > 0 {
		t.Fatalf("%v allocations per message", n)
	}
}

// FuzzBaseline: any input scores in [-1, 1] with a consistent label.
func FuzzBaseline(f *testing.F) {
	f.Add("not very good, but 还不错!!! :) https://x.y/z")
	f.Add("不不不不好好好好")
	f.Add(strings.Repeat("very ", 50) + "bad")
	b := NewBaseline()
	f.Fuzz(func(t *testing.T, s string) {
		r := b.Score(s, "en")
		if math.IsNaN(r.Score) || r.Score < -1 || r.Score > 1 {
			t.Fatalf("score %v", r.Score)
		}
		if r.Label != LabelFor(r.Score, DefaultNeutralBand) {
			t.Fatalf("label %s for %v", r.Label, r.Score)
		}
	})
}

func BenchmarkBaseline(b *testing.B) {
	bl := NewBaseline()
	texts := []string{
		"Hello, my order #123456 has not arrived and nobody answers my emails. Please help!",
		"Thank you so much, the refund arrived and your team was super helpful!",
		"支付失败了，钱被扣了但是订单没有生成，客服也不回复，太坑了",
		"送餐很快，味道不错，下次还会再点",
	}
	n := 0
	for _, s := range texts {
		n += len(s)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			bl.Score(s, "")
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "messages/s")
}
