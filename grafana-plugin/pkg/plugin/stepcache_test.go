package plugin

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// minuteSteps are steps at the given minutes, each valued its minute.
func minuteSteps(minutes ...int) *converters.SeriesSteps {
	s := &converters.SeriesSteps{Values: map[string][]*float64{FieldValue: nil}}
	for _, m := range minutes {
		v := float64(m)
		s.Times = append(s.Times, time.Unix(int64(m)*60, 0).UTC())
		s.Values[FieldValue] = append(s.Values[FieldValue], &v)
	}
	return s
}

func minutesOf(s *converters.SeriesSteps) string {
	var parts []string
	for i, t := range s.Times {
		parts = append(parts, fmt.Sprintf("%d=%g", t.Unix()/60, *s.Values[FieldValue][i]))
	}
	return strings.Join(parts, " ")
}

func span(from, to int) []int {
	var out []int
	for m := from; m < to; m++ {
		out = append(out, m)
	}
	return out
}

// TestStepCache: a range moved forward reuses the complete steps of the
// last read, leaves them out of the statements, and puts them back in
// order; nothing is reused past the ttl, for another step or aggregation,
// or when one series of the statement has no entry.
func TestStepCache(t *testing.T) {
	now := time.Unix(90*60, 0) // minute 90: steps ending by minute 80 are complete
	c := newStepCache(5 * time.Minute)
	c.now = func() time.Time { return now }
	ids := []string{"1", "2"}
	at := func(m, s int) time.Time { return time.Unix(int64(m)*60+int64(s), 0) }

	// First read: [0:30, 85:00], nothing held yet.
	from, to := at(0, 30), at(85, 0)
	if got := c.span("values", ids, time.Minute, "avg", from, to); got.steps != nil || !got.From.IsZero() {
		t.Fatalf("empty cache holds %+v", got)
	}
	fresh := map[string]*converters.SeriesSteps{"1": minuteSteps(span(0, 85)...), "2": minuteSteps(span(0, 85)...)}
	c.complete("values", ids, time.Minute, "avg", from, to, cachedSpan{}, fresh)

	// Moved on by 2 minutes: [2:30, 87:00]. Held: the complete steps of
	// both reads, minutes 3 to 73 (minute 2 starts before the range; 74 on
	// ended less than 10 minutes before the series' newest step, 84).
	now = now.Add(2 * time.Minute)
	from, to = at(2, 30), at(87, 0)
	got := c.span("values", ids, time.Minute, "avg", from, to)
	if want := (query.Skip{From: at(3, 0).UTC(), To: at(74, 0).UTC()}); got.Skip != want {
		t.Fatalf("skip %v, want %v", got.Skip, want)
	}
	if minutesOf(got.steps["1"]) != minutesOf(minuteSteps(span(3, 74)...)) {
		t.Fatalf("held %s", minutesOf(got.steps["1"]))
	}
	// The engine answers the rest: the partial minute 2, and 74 to 86
	// (series 2 has nothing there: it stopped).
	fresh = map[string]*converters.SeriesSteps{"1": minuteSteps(append([]int{2}, span(74, 87)...)...)}
	c.complete("values", ids, time.Minute, "avg", from, to, got, fresh)
	if want := minutesOf(minuteSteps(span(2, 87)...)); minutesOf(fresh["1"]) != want {
		t.Fatalf("series 1 spliced\n%s\nwant\n%s", minutesOf(fresh["1"]), want)
	}
	if want := minutesOf(minuteSteps(span(3, 74)...)); minutesOf(fresh["2"]) != want {
		t.Fatalf("series 2 spliced\n%s\nwant\n%s", minutesOf(fresh["2"]), want)
	}
	// The entry keeps the time of its oldest steps: it expires 5 minutes
	// after the first read, however often it is refreshed. Series 1 is
	// kept to 10 minutes before its newest step (86), series 2, which
	// stopped at 73, to 63: a series behind (its pipeline late) keeps less.
	for id, until := range map[string]time.Time{"1": at(76, 0), "2": at(63, 0)} {
		if e := c.entries[stepKey{"values", id, time.Minute, "avg"}]; !e.fetched.Equal(now.Add(-2*time.Minute)) || !e.until.Equal(until) {
			t.Fatalf("series %s: entry read at %s until %s, want until %s", id, e.fetched, e.until, until)
		}
	}

	for name, miss := range map[string]func() cachedSpan{
		"another aggregation": func() cachedSpan { return c.span("values", ids, time.Minute, "max", from, to) },
		"another step":        func() cachedSpan { return c.span("values", ids, 2*time.Minute, "avg", from, to) },
		"another table":       func() cachedSpan { return c.span("bands", ids, time.Minute, "avg", from, to) },
		"a series not held":   func() cachedSpan { return c.span("values", []string{"1", "3"}, time.Minute, "avg", from, to) },
		"a range before it":   func() cachedSpan { return c.span("values", ids, time.Minute, "avg", at(0, 0), at(2, 0)) },
		"past the ttl": func() cachedSpan {
			defer func(was time.Time) { now = was }(now)
			now = now.Add(4 * time.Minute)
			return c.span("values", ids, time.Minute, "avg", from, to)
		},
	} {
		if got := miss(); got.steps != nil {
			t.Errorf("%s: held %v", name, got.Skip)
		}
	}

	// Off: nothing kept.
	off := newStepCache(0)
	off.complete("values", ids, time.Minute, "avg", from, to, cachedSpan{}, map[string]*converters.SeriesSteps{"1": minuteSteps(1, 2)})
	if len(off.entries) != 0 || off.span("values", ids, time.Minute, "avg", from, to).steps != nil {
		t.Fatal("a cache with ttl 0 keeps steps")
	}
}

// TestStepCacheBounded: past maxCachedValues, the oldest entries go.
func TestStepCacheBounded(t *testing.T) {
	now := time.Unix(100_000*60, 0)
	c := newStepCache(time.Hour)
	c.now = func() time.Time { return now }
	steps := minuteSteps(span(0, 20_000)...) // 40,000 values with the times
	n := maxCachedValues/40_000 + 5
	for i := range n {
		now = now.Add(time.Second)
		id := fmt.Sprint(i)
		c.complete("values", []string{id}, time.Minute, "avg", time.Unix(0, 0), time.Unix(20_000*60, 0), cachedSpan{},
			map[string]*converters.SeriesSteps{id: steps})
	}
	if c.values > maxCachedValues {
		t.Fatalf("%d values held, over %d", c.values, maxCachedValues)
	}
	var held []string
	for k := range c.entries {
		held = append(held, k.seriesID)
	}
	if slices.Contains(held, "0") || !slices.Contains(held, fmt.Sprint(n-1)) {
		t.Fatalf("the oldest entry must go first, the newest stay: %d held", len(held))
	}
}
