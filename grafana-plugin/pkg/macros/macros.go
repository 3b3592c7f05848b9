// Package macros expands Grafana-style macros in a SQL query, in the
// backend, so alert rules and dashboards get the same SQL:
//
//	$__timeFilter(col)         (col >= fromUnixTimestamp64Milli(FROM) AND col <= fromUnixTimestamp64Milli(TO))
//	$__timeGroup(col, step)    toStartOfInterval(col, INTERVAL n SECOND) (MILLISECOND below 1 s);
//	                           step is a duration (30s, 5m, 1h, 1d, 500ms), seconds, or $__interval
//	$__interval                the query interval as Grafana writes it: 30s, 5m, 1h, 200ms
//	$__interval_ms             the query interval in milliseconds
//	$__from, $__to             the time range in Unix milliseconds
//
// Every value the expansion writes is a number this package formats; the
// only text copied from the query is the column expression, which is the
// author's own SQL. An unknown $__name is an error rather than SQL that
// fails later with a less helpful message.
package macros

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Context is what the macros expand to.
type Context struct {
	From, To time.Time
	// Interval is the query interval (Grafana's $__interval); it must be > 0
	// when $__interval, $__interval_ms or $__timeGroup(col, $__interval) is used.
	Interval time.Duration
}

type macro struct {
	args int // -1: no parentheses
	fn   func(c Context, args []string) (string, error)
}

var macros = map[string]macro{
	"timeFilter":  {args: 1, fn: timeFilter},
	"timeGroup":   {args: 2, fn: timeGroup},
	"interval":    {args: -1, fn: interval},
	"interval_ms": {args: -1, fn: intervalMs},
	"from":        {args: -1, fn: from},
	"to":          {args: -1, fn: to},
}

// Names lists the supported macros, for messages and editors.
func Names() []string {
	out := make([]string, 0, len(macros))
	for n := range macros {
		out = append(out, "$__"+n)
	}
	sort.Strings(out)
	return out
}

// Expand replaces every macro in sql.
func Expand(sql string, c Context) (string, error) {
	var b strings.Builder
	b.Grow(len(sql) + 64)
	for i := 0; i < len(sql); {
		j := strings.Index(sql[i:], "$__")
		if j < 0 {
			b.WriteString(sql[i:])
			break
		}
		b.WriteString(sql[i : i+j])
		start := i + j
		nameEnd := start + 3
		for nameEnd < len(sql) && isIdent(sql[nameEnd]) {
			nameEnd++
		}
		name := sql[start+3 : nameEnd]
		m, ok := macros[name]
		if !ok {
			return "", fmt.Errorf("unknown macro $__%s: supported are %s", name, strings.Join(Names(), ", "))
		}
		next := nameEnd
		var args []string
		if m.args >= 0 {
			var err error
			args, next, err = parseArgs(sql, nameEnd)
			if err != nil {
				return "", fmt.Errorf("$__%s: %w", name, err)
			}
			if len(args) != m.args {
				return "", fmt.Errorf("$__%s takes %d argument(s), got %d", name, m.args, len(args))
			}
			for k, a := range args {
				// Arguments may hold macros themselves: $__timeGroup(t, $__interval).
				if args[k], err = Expand(a, c); err != nil {
					return "", err
				}
				if args[k] == "" {
					return "", fmt.Errorf("$__%s: argument %d is empty", name, k+1)
				}
			}
		}
		out, err := m.fn(c, args)
		if err != nil {
			return "", fmt.Errorf("$__%s: %w", name, err)
		}
		b.WriteString(out)
		i = next
	}
	return b.String(), nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// parseArgs reads "(a, b)" starting at sql[pos]: top-level commas split
// arguments; parentheses nest; quoted strings and identifiers are skipped
// whole. It returns the trimmed arguments and the index after ")".
func parseArgs(sql string, pos int) ([]string, int, error) {
	if pos >= len(sql) || sql[pos] != '(' {
		return nil, 0, fmt.Errorf("expected ( after the macro name")
	}
	var args []string
	depth := 0
	argStart := pos + 1
	for i := pos + 1; i < len(sql); i++ {
		switch c := sql[i]; c {
		case '\'', '"', '`':
			end := closingQuote(sql, i)
			if end < 0 {
				return nil, 0, fmt.Errorf("unterminated %c in the arguments", c)
			}
			i = end
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			args = append(args, strings.TrimSpace(sql[argStart:i]))
			return args, i + 1, nil
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(sql[argStart:i]))
				argStart = i + 1
			}
		}
	}
	return nil, 0, fmt.Errorf("missing ) after the arguments")
}

// closingQuote returns the index of the quote closing the one at open,
// honouring backslash escapes and doubled quotes, or -1.
func closingQuote(s string, open int) int {
	q := s[open]
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i
		}
	}
	return -1
}

func interval(c Context, _ []string) (string, error) {
	return FormatInterval(c.Interval), needInterval(c)
}

func intervalMs(c Context, _ []string) (string, error) {
	return strconv.FormatInt(c.Interval.Milliseconds(), 10), needInterval(c)
}

func from(c Context, _ []string) (string, error) {
	return strconv.FormatInt(c.From.UnixMilli(), 10), nil
}

func to(c Context, _ []string) (string, error) { return strconv.FormatInt(c.To.UnixMilli(), 10), nil }

func needInterval(c Context) error {
	if c.Interval <= 0 {
		return fmt.Errorf("the query has no interval")
	}
	return nil
}

func timeFilter(c Context, args []string) (string, error) {
	col := args[0]
	return fmt.Sprintf("(%s >= fromUnixTimestamp64Milli(%d) AND %s <= fromUnixTimestamp64Milli(%d))",
		col, c.From.UnixMilli(), col, c.To.UnixMilli()), nil
}

func timeGroup(c Context, args []string) (string, error) {
	d, err := ParseInterval(args[1])
	if err != nil {
		return "", err
	}
	if d%time.Second == 0 {
		return fmt.Sprintf("toStartOfInterval(%s, INTERVAL %d SECOND)", args[0], d/time.Second), nil
	}
	return fmt.Sprintf("toStartOfInterval(%s, INTERVAL %d MILLISECOND)", args[0], d.Milliseconds()), nil
}

// ParseInterval reads a step: a Go or Grafana duration (500ms, 30s, 5m, 1h,
// 1d, 1w) or a number of seconds. It must be at least 1 ms.
func ParseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if n, unit, ok := cutUnit(s); ok {
		d = time.Duration(n) * unit
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%q is not an interval such as 30s, 5m, 1h or 1d", s)
	}
	if d < time.Millisecond {
		return 0, fmt.Errorf("interval %q is below 1ms", s)
	}
	return d, nil
}

// cutUnit reads "<int>d" and "<int>w", which Go's durations lack.
func cutUnit(s string) (int64, time.Duration, bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	return n, unit, true
}

// FormatInterval writes d as Grafana writes $__interval: the largest whole
// unit of d, day, hour, minute, second, else milliseconds.
func FormatInterval(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d >= u.d && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
