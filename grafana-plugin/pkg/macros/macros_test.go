package macros

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	c := Context{
		From:     time.UnixMilli(1_700_000_000_000).UTC(),
		To:       time.UnixMilli(1_700_003_600_000).UTC(),
		Interval: time.Minute,
	}
	tests := []struct {
		name, in, want string
	}{
		{"no macros", "SELECT 1", "SELECT 1"},
		{"time filter", "SELECT * FROM samples WHERE $__timeFilter(time)",
			"SELECT * FROM samples WHERE (time >= fromUnixTimestamp64Milli(1700000000000) AND time <= fromUnixTimestamp64Milli(1700003600000))"},
		{"time filter on an expression", "WHERE $__timeFilter(toDateTime(ts, 'UTC'))",
			"WHERE (toDateTime(ts, 'UTC') >= fromUnixTimestamp64Milli(1700000000000) AND toDateTime(ts, 'UTC') <= fromUnixTimestamp64Milli(1700003600000))"},
		{"time group seconds", "SELECT $__timeGroup(time, 5m) AS t", "SELECT toStartOfInterval(time, INTERVAL 300 SECOND) AS t"},
		{"time group with $__interval", "$__timeGroup(time,$__interval)", "toStartOfInterval(time, INTERVAL 60 SECOND)"},
		{"time group days", "$__timeGroup(time, 1d)", "toStartOfInterval(time, INTERVAL 86400 SECOND)"},
		{"time group plain seconds", "$__timeGroup(time, 15)", "toStartOfInterval(time, INTERVAL 15 SECOND)"},
		{"time group milliseconds", "$__timeGroup(time, 250ms)", "toStartOfInterval(time, INTERVAL 250 MILLISECOND)"},
		{"nested parentheses and quotes in args", "$__timeGroup(if(x = ',)', a, b), 1m)",
			"toStartOfInterval(if(x = ',)', a, b), INTERVAL 60 SECOND)"},
		{"interval", "SELECT '$__interval'", "SELECT '1m'"},
		{"interval ms before interval", "$__interval_ms / $__interval", "60000 / 1m"},
		{"from and to", "WHERE t BETWEEN fromUnixTimestamp64Milli($__from) AND fromUnixTimestamp64Milli($__to)",
			"WHERE t BETWEEN fromUnixTimestamp64Milli(1700000000000) AND fromUnixTimestamp64Milli(1700003600000)"},
		{"adjacent", "$__from$__to", "17000000000001700003600000"},
		{"a dollar that is not a macro", "SELECT '$5', '$_x'", "SELECT '$5', '$_x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, c)
			if err != nil {
				t.Fatalf("Expand(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Expand(%q)\n got  %q\n want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	c := Context{From: time.Unix(0, 0), To: time.Unix(3600, 0), Interval: time.Minute}
	tests := []struct {
		name, in, wantErr string
		ctx               *Context
	}{
		{name: "unknown macro", in: "SELECT $__timeFrom()", wantErr: "unknown macro $__timeFrom"},
		{name: "missing parenthesis", in: "WHERE $__timeFilter time", wantErr: "expected ("},
		{name: "unclosed", in: "WHERE $__timeFilter(time", wantErr: "missing )"},
		{name: "unterminated quote", in: "$__timeFilter(x = ')", wantErr: "unterminated '"},
		{name: "too many arguments", in: "$__timeFilter(a, b)", wantErr: "takes 1 argument(s), got 2"},
		{name: "too few arguments", in: "$__timeGroup(time)", wantErr: "takes 2 argument(s), got 1"},
		{name: "empty argument", in: "$__timeFilter()", wantErr: "argument 1 is empty"},
		{name: "bad interval", in: "$__timeGroup(time, 1 minute)", wantErr: "not an interval"},
		{name: "interval is SQL, not a number", in: "$__timeGroup(time, 60 SECOND) OR 1=1 --)", wantErr: "not an interval"},
		{name: "zero interval", in: "$__timeGroup(time, 0)", wantErr: "below 1ms"},
		{name: "no query interval", in: "$__interval_ms", wantErr: "no interval", ctx: &Context{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := c
			if tt.ctx != nil {
				ctx = *tt.ctx
			}
			got, err := Expand(tt.in, ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Expand(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestFormatAndParseInterval(t *testing.T) {
	tests := []struct {
		d    time.Duration
		text string
	}{
		{200 * time.Millisecond, "200ms"},
		{1500 * time.Millisecond, "1500ms"},
		{30 * time.Second, "30s"},
		{90 * time.Second, "90s"},
		{5 * time.Minute, "5m"},
		{2 * time.Hour, "2h"},
		{48 * time.Hour, "2d"},
	}
	for _, tt := range tests {
		if got := FormatInterval(tt.d); got != tt.text {
			t.Errorf("FormatInterval(%v) = %q, want %q", tt.d, got, tt.text)
		}
		if got, err := ParseInterval(tt.text); err != nil || got != tt.d {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", tt.text, got, err, tt.d)
		}
	}
	if got, err := ParseInterval("1w"); err != nil || got != 7*24*time.Hour {
		t.Errorf("ParseInterval(1w) = %v, %v", got, err)
	}
	if got, err := ParseInterval("0.5"); err != nil || got != 500*time.Millisecond {
		t.Errorf("ParseInterval(0.5) = %v, %v", got, err)
	}
}
