package queryapi

import (
	"strings"
	"testing"
	"time"
)

func TestSelectorSQL(t *testing.T) {
	cases := []struct{ sel, want string }{
		{`{__name__="up"}`, `metric_name = 'up'`},
		{`up{job="api"}`, `metric_name = 'up' AND labels['job'] = 'api'`},
		{`{service!="x"}`, `labels['service'] != 'x'`},
		{`{service=~"check.*"}`, `match(labels['service'], '^(?:check.*)$')`},
		{`{service!~"a|b"}`, `NOT match(labels['service'], '^(?:a|b)$')`},
	}
	for _, c := range cases {
		got, err := selectorSQL(c.sel)
		if err != nil {
			t.Fatalf("%s: %v", c.sel, err)
		}
		// The parser may order matchers; compare as sets.
		if !sameParts(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.sel, got, c.want)
		}
	}
}

func sameParts(a, b string) bool {
	pa, pb := strings.Split(a, " AND "), strings.Split(b, " AND ")
	if len(pa) != len(pb) {
		return false
	}
	seen := map[string]int{}
	for _, p := range pa {
		seen[p]++
	}
	for _, p := range pb {
		if seen[p] == 0 {
			return false
		}
		seen[p]--
	}
	return true
}

// Injection attempts must end up inside a quoted literal, never as SQL.
func TestSelectorSQLQuotesEverything(t *testing.T) {
	for _, v := range []string{
		`x' OR 1=1 --`,
		`x\' OR 1=1 --`,
		`\\' ; DROP TABLE samples_data; --`,
		"x\x00y",
	} {
		sel := `{job=` + quoteForPromQL(v) + `}`
		got, err := selectorSQL(sel)
		if err != nil {
			t.Fatalf("%q: %v", sel, err)
		}
		lit := strings.TrimPrefix(got, `labels['job'] = `)
		if unquoted, ok := unquote(lit); !ok || unquoted != v {
			t.Fatalf("%q rendered as %s, which is not the literal %q", v, got, v)
		}
	}
	// Label names are quoted too.
	got, err := selectorSQL(`{"we'ird"="v"}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, `labels['we\'ird']`) {
		t.Fatalf("label name not quoted: %s", got)
	}
	if _, err := selectorSQL(`{job="a"`); err == nil {
		t.Fatal("unterminated selector accepted")
	}
}

func quoteForPromQL(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x00", `\x00`)
	return `"` + r.Replace(s) + `"`
}

// unquote reads back a literal made by quote, as ClickHouse would.
func unquote(lit string) (string, bool) {
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", false
	}
	var b strings.Builder
	body := lit[1 : len(lit)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\'' {
			return "", false // an unescaped quote would end the literal early
		}
		if c == '\\' && i+1 < len(body) {
			i++
			switch body[i] {
			case '0':
				b.WriteByte(0)
			default:
				b.WriteByte(body[i])
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func TestParseTimeAndStep(t *testing.T) {
	ts, err := parseTime("1700000000.5")
	if err != nil || ts.UnixMilli() != 1700000000500 {
		t.Fatalf("unix seconds: %v %v", ts, err)
	}
	ts, err = parseTime("2026-11-01T12:00:00Z")
	if err != nil || !ts.Equal(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("rfc3339: %v %v", ts, err)
	}
	for _, bad := range []string{"", "yesterday", "NaN", "Inf"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	for in, want := range map[string]time.Duration{"60": time.Minute, "5m": 5 * time.Minute, "0.5": 500 * time.Millisecond} {
		if got, err := parseStep(in); err != nil || got != want {
			t.Errorf("parseStep(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "-1s", "soon"} {
		if _, err := parseStep(bad); err == nil {
			t.Errorf("parseStep(%q) accepted", bad)
		}
	}
}
