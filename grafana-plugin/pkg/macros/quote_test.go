package macros

import "testing"

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"checkout", `'checkout'`},
		{"", `''`},
		{"o'brien", `'o\'brien'`},
		{`x\' OR 1=1 --`, `'x\\\' OR 1=1 --'`},
		{"a\x00b", `'a\0b'`},
		{"€ ünïcode", `'€ ünïcode'`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := QuoteList([]string{"a", "b'c"}); got != `('a', 'b\'c')` {
		t.Errorf("QuoteList = %s", got)
	}
}
