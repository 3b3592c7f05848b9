package integration

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	fbapi "github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// pointsLimit is the points statements' limit a series in these tests: the
// plugin's most points a series.
const pointsLimit = 11_000

// TestPointsStepsEqualEngine checks that aggregating the stored points in
// Go (query.SeriesPointsSQL and SeriesBandPointsSQL, read by
// converters.ValueStepsFromPoints and BandStepsFromPoints) gives the
// engine's steps (query.SeriesValuesSQL and SeriesBandsSQL, read by
// converters.StepsBySeries), from the Arrow and the JSON answer, at steps
// of 1 m, 5 m and 30 s, for every aggregation: on the benchmark's 100
// one-minute series (a point a step at 1 m, five at 5 m, empty steps at
// 30 s) and on the detector's 5-second series (12 points a minute, its
// band starting after the detector's warm-up). avg and sum may differ in
// the last bits (the engine adds in its own order): 1e-9 relative.
func TestPointsStepsEqualEngine(t *testing.T) {
	e := firebreak(t)
	detections(t, e)
	start, end := e.benchSeries(t)
	c := fbapi.New(e.base, "", time.Minute)
	for _, m := range []struct {
		metric   string
		from, to time.Time
	}{
		{"fbbench_latency_seconds", start, end.Add(time.Minute)},
		{metricSpiky, e.rangeFrom, e.rangeTo},
	} {
		ids := seriesIDs(t, c, m.metric)
		valuesSQL, err := query.SeriesPointsSQL(m.metric, ids, m.from, m.to, pointsLimit, query.Skip{})
		if err != nil {
			t.Fatal(err)
		}
		bandsSQL, err := query.SeriesBandPointsSQL(m.metric, ids, query.BandColumns, m.from, m.to, pointsLimit, query.Skip{})
		if err != nil {
			t.Fatal(err)
		}
		// One answer of each statement, in each form, serves every step
		// and aggregation.
		valuePoints, bandPoints := bothForms(t, c, valuesSQL), bothForms(t, c, bandsSQL)
		for _, step := range []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Second} {
			for _, agg := range []string{"avg", "max", "last", "sum", "min", "first", "count"} {
				name := fmt.Sprintf("%s, step %s, %s", m.metric, step, agg)
				sql, err := query.SeriesValuesSQL(m.metric, ids, step, agg, m.from, m.to, query.Skip{})
				if err != nil {
					t.Fatal(err)
				}
				want := engineSteps(t, c, sql)
				if len(want) != len(ids) {
					t.Fatalf("%s: the engine has steps for %d of %d series", name, len(want), len(ids))
				}
				for form, table := range valuePoints {
					got, perStep, err := converters.ValueStepsFromPoints(table, step, agg)
					if err != nil || len(perStep) != 0 {
						t.Fatalf("%s, %s: %v; left to the engine: %v", name, form, err, perStep)
					}
					sameSteps(t, name+", values, "+form, got, want, agg == "avg" || agg == "sum")
				}
				if agg == "count" {
					continue // no band
				}
				sql, err = query.SeriesBandsSQL(m.metric, ids, query.BandColumns, step, agg, m.from, m.to, query.Skip{})
				if err != nil {
					t.Fatal(err)
				}
				want = engineSteps(t, c, sql)
				if len(want) == 0 {
					t.Fatalf("%s: the engine has no band", name)
				}
				for form, table := range bandPoints {
					got, perStep, err := converters.BandStepsFromPoints(table, step, agg, query.BandColumns)
					if err != nil || len(perStep) != 0 {
						t.Fatalf("%s, %s: %v; left to the engine: %v", name, form, err, perStep)
					}
					sameSteps(t, name+", bands, "+form, got, want, agg == "avg" || agg == "sum")
				}
			}
		}
	}

	// At a limit of one point fewer than each benchmark series has, its
	// arrays hold only some of its points: every series is left to the
	// engine. At its number of points, none is.
	ids := seriesIDs(t, c, "fbbench_latency_seconds")
	slices.SortFunc(ids, strings.Compare)
	for limit, wantLeft := range map[int][]string{benchPoints - 1: ids, benchPoints: nil} {
		sql, err := query.SeriesPointsSQL("fbbench_latency_seconds", ids, start, end.Add(time.Minute), limit, query.Skip{})
		if err != nil {
			t.Fatal(err)
		}
		for form, table := range bothForms(t, c, sql) {
			got, perStep, err := converters.ValueStepsFromPoints(table, time.Minute, "avg")
			if err != nil || !slices.Equal(perStep, wantLeft) || len(got)+len(perStep) != len(ids) {
				t.Errorf("at most %d points, %s: %d series aggregated, %d left to the engine, want %d left (%v)", limit, form, len(got), len(perStep), len(wantLeft), err)
			}
		}
	}
}

// TestPointsNonFiniteEqualEngine checks the aggregations' treatment of NaN
// and infinities against the engine: 5,000 points of one series, a second
// apart, with NaN, +Inf and -Inf among finite values (a step of NaN only,
// one of infinities only), as a points answer and as the engine's steps
// of a minute, both in Arrow, which keeps them (JSON makes them null:
// converters.ValueStepsFromPoints leaves uncertain min and max steps to
// the engine then, as its unit tests check).
func TestPointsNonFiniteEqualEngine(t *testing.T) {
	e := firebreak(t)
	c := fbapi.New(e.base, "", time.Minute)
	const points = `SELECT arrayJoin(range(5000)) AS i, toInt64(i * 1000 + 7) AS pt,
    multiIf(intDiv(i, 60) = 3, nan, intDiv(i, 60) = 5, if(i % 2 = 0, inf, -inf), i % 7 = 0, nan, i % 11 = 0, inf, i % 13 = 0, -inf, toFloat64(i % 17) - 8.25) AS pv`
	table, err := c.SQLTable(context.Background(), `SELECT toUInt64(1) AS id, count() AS n, groupArray(pt) AS t, groupArray(pv) AS value FROM (`+points+`)`)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	if table.Records == nil {
		t.Fatal("the points came as JSON, which has no NaN or infinity")
	}
	for agg, f := range map[string]string{
		"avg": "avg(pv)", "min": "min(pv)", "max": "max(pv)", "sum": "sum(pv)",
		"count": "count()", "last": "argMax(pv, pt)", "first": "argMin(pv, pt)",
	} {
		want := engineSteps(t, c, `SELECT toUInt64(1) AS id, groupArray(s) AS t, groupArray(a) AS value FROM (
  SELECT intDiv(pt, 60000) * 60000 AS s, `+f+` AS a FROM (`+points+`) GROUP BY s)`)
		got, perStep, err := converters.ValueStepsFromPoints(table, time.Minute, agg)
		if err != nil || len(perStep) != 0 {
			t.Fatalf("%s: %v; left to the engine: %v", agg, err, perStep)
		}
		if len(want["1"].Times) != 84 {
			t.Fatalf("%s: the engine has %d steps, want 84", agg, len(want["1"].Times))
		}
		sameSteps(t, "non-finite points, "+agg, got, want, agg == "avg" || agg == "sum")
	}
}

// bothForms is a statement's answer as Arrow (the embedded engine's) and
// as JSON (what a ClickHouse server store answers).
func bothForms(t *testing.T, c *fbapi.Client, sql string) map[string]*fbapi.Table {
	t.Helper()
	table, err := c.SQLTable(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(table.Release)
	if table.Records == nil {
		t.Fatal("the embedded engine answered JSON where Arrow was asked for")
	}
	rows, err := c.SQL(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*fbapi.Table{"Arrow": table, "JSON": {Rows: rows}}
}

// engineSteps are a per-step statement's steps, as the plugin reads them.
func engineSteps(t *testing.T, c *fbapi.Client, sql string) map[string]*converters.SeriesSteps {
	t.Helper()
	table, err := c.SQLTable(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Release()
	steps, err := converters.StepsBySeries(table)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// sameSteps fails unless got has want's series, steps and values (nil
// where want has nil); close within 1e-9 relative when sums differ in
// order.
func sameSteps(t *testing.T, name string, got, want map[string]*converters.SeriesSteps, close bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d series, the engine %d", name, len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if g == nil || !slices.EqualFunc(g.Times, w.Times, time.Time.Equal) {
			t.Fatalf("%s: series %s has steps %v, the engine %v", name, id, stepsOf(g), w.Times)
		}
		if len(g.Values) != len(w.Values) {
			t.Fatalf("%s: series %s has columns %v, the engine %v", name, id, g.Values, w.Values)
		}
		for col, wv := range w.Values {
			gv := g.Values[col]
			if len(gv) != len(wv) {
				t.Fatalf("%s: series %s has %d %s values, the engine %d", name, id, len(gv), col, len(wv))
			}
			for i := range wv {
				switch {
				case wv[i] == nil && gv[i] == nil:
				case wv[i] == nil || gv[i] == nil:
					t.Fatalf("%s: series %s, %s at %s: %v, the engine %v", name, id, col, w.Times[i], deref(gv[i]), deref(wv[i]))
				case *gv[i] == *wv[i]:
				case close && math.Abs(*gv[i]-*wv[i]) <= 1e-9*max(math.Abs(*gv[i]), math.Abs(*wv[i])):
				default:
					t.Fatalf("%s: series %s, %s at %s: %v, the engine %v", name, id, col, w.Times[i], *gv[i], *wv[i])
				}
			}
		}
	}
}

func stepsOf(s *converters.SeriesSteps) []time.Time {
	if s == nil {
		return nil
	}
	return s.Times
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
