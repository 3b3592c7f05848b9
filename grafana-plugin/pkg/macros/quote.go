package macros

import "strings"

// Quote renders s as a ClickHouse string literal: backslash, quote and NUL
// are escaped, so no value can end the literal. Every text a user or the
// API gives that the backend writes into SQL goes through Quote.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteList renders values as a parenthesised list of string literals for
// IN: ('a', 'b'). It must not be called with no values.
func QuoteList(values []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Quote(v))
	}
	b.WriteByte(')')
	return b.String()
}
