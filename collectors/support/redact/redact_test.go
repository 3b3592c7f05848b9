package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	cases := []struct {
		in, want string
		kinds    Kind
	}{
		// Nothing to do.
		{"", "", 0},
		{"my order has not arrived", "my order has not arrived", 0},
		{"order 123456 cost 49.90 on 2026-11-03 at 10:30", "order 123456 cost 49.90 on 2026-11-03 at 10:30", 0},
		{"ip 192.168.100.200 and version 1.2.3", "ip 192.168.100.200 and version 1.2.3", 0},
		{"an @ sign alone, @mention, a@b", "an @ sign alone, @mention, a@b", 0},
		// E-mail.
		{"write to jane.doe+shop@example.co.uk.", "write to [EMAIL].", Email},
		{"邮箱是zhang_san@qq.com谢谢", "邮箱是[EMAIL]谢谢", Email},
		{"a@b.c is not, x@host.com5 is not", "a@b.c is not, x@host.com5 is not", 0},
		{"two: a@x.org,b@y.org", "two: [EMAIL],[EMAIL]", Email},
		// Cards (Luhn-valid test numbers).
		{"card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29", Card},
		{"card 4111-1111-1111-1111", "card [CARD]", Card},
		{"卡号4111111111111111被扣款", "卡号[CARD]被扣款", Card},
		{"amex 3782 822463 10005", "amex [CARD]", Card},
		{"card 4111 1111 1111 1112", "card 4111 1111 1111 1112", 0}, // Luhn fails
		{"4111111111111111 1234", "[CARD] 1234", Card},
		{"full width ４１１１１１１１１１１１１１１１", "full width [CARD]", Card},
		// Phones.
		{"call +86 138 1234 5678 now", "call [PHONE] now", Phone},
		{"+1 (555) 123-4567", "[PHONE]", Phone},
		{"+44 20 7946 0958", "[PHONE]", Phone},
		{"手机13812345678，快点", "手机[PHONE]，快点", Phone},
		{"我的号码 138-1234-5678", "我的号码 [PHONE]", Phone},
		{"reach me at 555-123-4567 or (555) 123 4567", "reach me at [PHONE] or [PHONE]", Phone},
		{"座机 010-12345678", "座机 [PHONE]", Phone},
		{"appelez 06 12 34 56 78", "appelez [PHONE]", Phone},
		{"phone: 5551234567", "phone: [PHONE]", Phone},
		{"my telephone is 7654321", "my telephone is [PHONE]", Phone},
		{"电话 0086 13812345678", "电话 [PHONE]", Phone},
		{"order 13812345678902", "order 13812345678902", 0}, // too long for a mobile, not Luhn
		{"hotel booking 12345678", "hotel booking 12345678", 0},
		{"I called about order 12345678", "I called about order 12345678", 0},
		// IBAN.
		{"IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please", IBAN},
		{"GB82WEST12345698765432.", "[IBAN].", IBAN},
		{"DE89 3704 0044 0532 0130 02", "DE89 3704 0044 0532 0130 02", 0}, // check fails
		// Several at once.
		{"I'm bob@mail.com, +49 30 1234567, card 5500 0000 0000 0004",
			"I'm [EMAIL], [PHONE], card [CARD]", Email | Phone | Card},
	}
	for _, c := range cases {
		got, kinds := String(c.in)
		if got != c.want || kinds != c.kinds {
			t.Errorf("String(%q)\n got %q %v\nwant %q %v", c.in, got, kinds.Names(), c.want, c.kinds.Names())
		}
	}
}

func TestUnchangedStringIsNotCopied(t *testing.T) {
	in := "nothing here 42"
	out, _ := String(in)
	if out != in {
		t.Fatal(out)
	}
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	if n := testing.AllocsPerRun(100, func() { String(in) }); n != 0 {
		t.Fatalf("%v allocations for text without personal data", n)
	}
}

// digitRuns yields every maximal run of ASCII or full-width digits, as
// digit values.
func digitRuns(s string) [][]byte {
	var out [][]byte
	var cur []byte
	for i := 0; i < len(s); {
		v, w := digitAt(s, i)
		if w == 0 {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			i++
			continue
		}
		cur = append(cur, v)
		i += w
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// FuzzString: no panics, and whatever the input, the output never holds a
// run of 13–19 digits that passes Luhn, nor a full e-mail address.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"card 4111 1111 1111 1111", "4111111111111111", "x@y.com", "+86 138 1234 5678",
		"DE89 3704 0044 0532 0130 00", "１２３４５６７８９０１２３", "(555) 123-4567", "a@b@c.com.cn",
		"４1111111111111111@x.com", "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, kinds := String(in)
		if kinds == 0 && out != in {
			t.Fatalf("changed without a kind: %q → %q", in, out)
		}
		for _, run := range digitRuns(out) {
			if len(run) >= 13 && len(run) <= 19 && luhn(run) {
				t.Fatalf("Luhn-valid run %v survives in %q (from %q)", run, out, in)
			}
		}
		var spans []span
		findEmails(out, &spans)
		if len(spans) > 0 {
			t.Fatalf("e-mail survives in %q (from %q)", out, in)
		}
	})
}

func BenchmarkString(b *testing.B) {
	texts := []string{
		"Hello, my order #123456 has not arrived and nobody answers my emails. Please help!",
		"我的手机号是13812345678，邮箱zhang@example.com，订单号 2026110300123，已经扣款但是没有发货",
		"card 4111 1111 1111 1111 was declined twice, call me on +44 20 7946 0958",
	}
	n := 0
	for _, s := range texts {
		n += len(s)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range texts {
			String(s)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "messages/s")
}

func TestKindNames(t *testing.T) {
	if got := strings.Join((Email | Card).Names(), ","); got != "email,card" {
		t.Fatal(got)
	}
}
