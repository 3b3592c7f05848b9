package query

import (
	"strings"
	"testing"
	"time"
)

func TestSeriesPointsSQL(t *testing.T) {
	from, to := time.UnixMilli(0), time.UnixMilli(3_600_000)
	v, err := SeriesPointsSQL("it's", []string{"1", "18446744073709551615"}, from, to, 11000, Skip{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM samples_data FINAL", "metric_name = 'it\\'s'", "series_id IN (1, 18446744073709551615)",
		"time >= fromUnixTimestamp64Milli(0) AND time < fromUnixTimestamp64Milli(3600000)",
		// One row per series: its points, as stored, at most 11000.
		"count() AS n", "groupArray(11000)(toUnixTimestamp64Milli(time)) AS t", "groupArray(11000)(value) AS value", "GROUP BY series_id"} {
		if !strings.Contains(v, want) {
			t.Errorf("points SQL lacks %q:\n%s", want, v)
		}
	}
	// No per-step aggregation is left in the engine.
	if strings.Contains(v, "intDiv") || strings.Contains(v, "step") {
		t.Errorf("points SQL aggregates per step:\n%s", v)
	}
	b, err := SeriesBandPointsSQL("m", []string{"7"}, BandColumns, from, to, 5, Skip{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM bands FINAL", "learning = 0", "time <= fromUnixTimestamp64Milli(3600000)", "count() AS n",
		"groupArray(5)(expected) AS expected", "groupArray(5)(lower) AS lower", "groupArray(5)(upper) AS upper", "groupArray(5)(score) AS score"} {
		if !strings.Contains(b, want) {
			t.Errorf("band points SQL lacks %q:\n%s", want, b)
		}
	}
	for _, bad := range []struct {
		ids []string
		max int
		msg string
	}{
		{[]string{"1 OR 1=1"}, 10, "not an unsigned 64-bit integer"},
		{nil, 10, "no series"},
		{[]string{"1"}, 0, "must be at least 1"},
	} {
		bandPoints := func(metric string, ids []string, from, to time.Time, max int, skip Skip) (string, error) {
			return SeriesBandPointsSQL(metric, ids, BandColumns, from, to, max, skip)
		}
		for _, sql := range []func(string, []string, time.Time, time.Time, int, Skip) (string, error){SeriesPointsSQL, bandPoints} {
			if _, err := sql("m", bad.ids, from, to, bad.max, Skip{}); err == nil || !strings.Contains(err.Error(), bad.msg) {
				t.Errorf("%v, %d points: %v, want %q", bad.ids, bad.max, err, bad.msg)
			}
		}
	}
}

// TestSkip: a statement leaves out the span the plugin holds already, and
// nothing when the span is empty.
func TestSkip(t *testing.T) {
	from, to := time.UnixMilli(0), time.UnixMilli(3_600_000)
	skip := Skip{From: time.UnixMilli(600_000), To: time.UnixMilli(3_000_000)}
	want := "AND (time < fromUnixTimestamp64Milli(600000) OR time >= fromUnixTimestamp64Milli(3000000))"
	for name, build := range map[string]func(Skip) (string, error){
		"values": func(s Skip) (string, error) {
			return SeriesValuesSQL("m", []string{"1"}, time.Minute, "avg", from, to, s)
		},
		"bands": func(s Skip) (string, error) {
			return SeriesBandsSQL("m", []string{"1"}, BandColumns, time.Minute, "avg", from, to, s)
		},
		"value points": func(s Skip) (string, error) { return SeriesPointsSQL("m", []string{"1"}, from, to, 10, s) },
		"band points": func(s Skip) (string, error) {
			return SeriesBandPointsSQL("m", []string{"1"}, BandColumns, from, to, 10, s)
		},
	} {
		with, err := build(skip)
		if err != nil || !strings.Contains(with, want) {
			t.Errorf("%s with a skip: %v\n%s", name, err, with)
		}
		for _, none := range []Skip{{}, {From: skip.To, To: skip.From}} {
			if without, _ := build(none); strings.Contains(without, " OR ") {
				t.Errorf("%s with the empty skip %v: %s", name, none, without)
			}
		}
	}
}
