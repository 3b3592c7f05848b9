package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	fbapi "github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// TestArrowStepsEqualJSON: firebreak on its embedded engine answers the
// metrics query's per-series statements as Arrow, and those answers give
// the same steps as the JSON answers to the same statements (what a
// ClickHouse server store sends).
func TestArrowStepsEqualJSON(t *testing.T) {
	e := firebreak(t)
	detections(t, e)
	c := fbapi.New(e.base, "", 20*time.Second)
	ctx := context.Background()
	for _, metric := range []string{metricRequests, metricSpiky} {
		ids := seriesIDs(t, c, metric)
		values, err := query.SeriesValuesSQL(metric, ids, time.Minute, "avg", e.rangeFrom, e.rangeTo, query.Skip{})
		if err != nil {
			t.Fatal(err)
		}
		bands, err := query.SeriesBandsSQL(metric, ids, query.BandColumns, time.Minute, "max", e.rangeFrom, e.rangeTo, query.Skip{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{values, bands} {
			table, err := c.SQLTable(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			defer table.Release()
			if table.Records == nil {
				t.Fatalf("firebreak on chDB answered JSON to a request for Arrow: %s", sql)
			}
			rows, err := c.SQL(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			fromArrow, err := converters.StepsBySeries(table)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := converters.StepsBySeries(&fbapi.Table{Rows: rows})
			if err != nil {
				t.Fatal(err)
			}
			if len(fromJSON) == 0 || !reflect.DeepEqual(fromArrow, fromJSON) {
				t.Fatalf("%s\nsteps from Arrow %v\nfrom JSON %v", sql, fromArrow, fromJSON)
			}
		}
	}
}

// TestMetricsFramesEqualRowsPerStep: the frames of a metrics query with
// withBand, read from one row per series with the steps as arrays, hold
// exactly the steps of the statements the plugin sent before, which
// returned one row per series and step (and had to be split into batches
// of series to stay within the API's row limit).
func TestMetricsFramesEqualRowsPerStep(t *testing.T) {
	e := firebreak(t)
	detections(t, e)
	c := fbapi.New(e.base, "", 20*time.Second)
	client := grpcPlugin(t)
	ctx := context.Background()
	for _, metric := range []string{metricRequests, metricSpiky} {
		ids := seriesIDs(t, c, metric)
		want := map[string]*converters.SeriesSteps{} // by series id and field name
		for _, sql := range []string{rowsPerStepValuesSQL(metric, ids, e.rangeFrom, e.rangeTo), rowsPerStepBandsSQL(metric, ids, e.rangeFrom, e.rangeTo)} {
			rows, err := c.SQL(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			for key, steps := range stepsFromRowsPerStep(t, rows) {
				want[key] = steps
			}
		}

		q := dq("A", "metrics", `{"selector":"{__name__=\"`+metric+`\"}","aggregation":"avg","step":"1m","withBand":true,"withScore":true}`)
		q.TimeRange = backend.TimeRange{From: e.rangeFrom, To: e.rangeTo}
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pluginContext("firebreak", e.settingsJSON(), nil), Queries: []backend.DataQuery{q}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*converters.SeriesSteps{}
		idOf := map[string]string{} // by the fields' labels
		for _, f := range ok(t, resp, "A").Frames {
			for _, field := range f.Fields[1:] {
				id, known := idOf[field.Labels.String()]
				if !known {
					id = seriesIDOf(t, c, field.Labels)
					idOf[field.Labels.String()] = id
				}
				got[id+" "+field.Name] = fieldSteps(f.Fields[0], field)
			}
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: frames\n%s\nrows per step\n%s", metric, dumpSteps(got), dumpSteps(want))
		}
		if metric == metricSpiky && got[ids[0]+" upper"] == nil {
			t.Fatalf("%s has no band frames: %s", metric, dumpSteps(got))
		}
	}
}

func seriesIDs(t testing.TB, c *fbapi.Client, metric string) []string {
	t.Helper()
	series, err := c.Series(context.Background(), []string{`{__name__="` + metric + `"}`}, time.Time{}, 100)
	if err != nil || len(series) == 0 {
		t.Fatalf("series of %s: %v, %v", metric, series, err)
	}
	ids := make([]string, len(series))
	for i, s := range series {
		ids[i] = s.SeriesID.String()
	}
	return ids
}

// seriesIDOf finds the id of the series with these labels.
func seriesIDOf(t *testing.T, c *fbapi.Client, labels data.Labels) string {
	t.Helper()
	matchers := make([]string, 0, len(labels))
	for k, v := range labels {
		matchers = append(matchers, fmt.Sprintf("%s=%q", k, v))
	}
	series, err := c.Series(context.Background(), []string{"{" + strings.Join(matchers, ",") + "}"}, time.Time{}, 2)
	if err != nil || len(series) != 1 {
		t.Fatalf("series with labels %v: %v, %v", labels, series, err)
	}
	return series[0].SeriesID.String()
}

// The statements the plugin sent before (one row per series and step), for
// the avg aggregation at a one-minute step.
func rowsPerStepValuesSQL(metric string, ids []string, from, to time.Time) string {
	return fmt.Sprintf(`SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), 60000) * 60000 AS t, avg(value) AS value
FROM samples_data FINAL
WHERE metric_name = '%s' AND series_id IN (%s)
  AND time >= fromUnixTimestamp64Milli(%d) AND time < fromUnixTimestamp64Milli(%d)
GROUP BY series_id, t ORDER BY series_id, t`, metric, strings.Join(ids, ", "), from.UnixMilli(), to.UnixMilli())
}

func rowsPerStepBandsSQL(metric string, ids []string, from, to time.Time) string {
	return fmt.Sprintf(`SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), 60000) * 60000 AS t, avg(expected) AS expected, avg(lower) AS lower, avg(upper) AS upper, max(score) AS score
FROM bands FINAL
WHERE metric_name = '%s' AND series_id IN (%s) AND learning = 0
  AND time >= fromUnixTimestamp64Milli(%d) AND time <= fromUnixTimestamp64Milli(%d)
GROUP BY series_id, t ORDER BY series_id, t`, metric, strings.Join(ids, ", "), from.UnixMilli(), to.UnixMilli())
}

// stepsFromRowsPerStep reads rows of id, t, then value columns: the steps
// by series id and column name.
func stepsFromRowsPerStep(t *testing.T, res *fbapi.Result) map[string]*converters.SeriesSteps {
	t.Helper()
	out := map[string]*converters.SeriesSteps{}
	for _, row := range res.Rows {
		ms, err := row[1].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		for c, col := range res.Columns[2:] {
			key := row[0].(json.Number).String() + " " + col.Name
			s := out[key]
			if s == nil {
				s = &converters.SeriesSteps{Values: map[string][]*float64{}}
				out[key] = s
			}
			s.Times = append(s.Times, time.UnixMilli(ms).UTC())
			var v *float64
			if n, ok := row[c+2].(json.Number); ok {
				f, err := n.Float64()
				if err != nil {
					t.Fatal(err)
				}
				v = &f
			}
			s.Values[col.Name] = append(s.Values[col.Name], v)
		}
	}
	return out
}

// fieldSteps are a number field's steps: the times where it has a value
// (a panel's wide frame holds every series' steps, null where a series has
// none), and those values.
func fieldSteps(times, field *data.Field) *converters.SeriesSteps {
	s := &converters.SeriesSteps{Values: map[string][]*float64{}}
	for i := range times.Len() {
		if floatAt(field, i) == nil {
			continue
		}
		s.Times = append(s.Times, times.At(i).(time.Time).UTC())
		s.Values[field.Name] = append(s.Values[field.Name], floatAt(field, i))
	}
	return s
}

func dumpSteps(m map[string]*converters.SeriesSteps) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// TestStepCacheEqualsEngine: a metrics query over a range moved on (a
// panel refreshed) answers with the steps the plugin's step cache held
// from the last read and the engine's for the rest, and that is exactly
// what a data source without the cache answers.
func TestStepCacheEqualsEngine(t *testing.T) {
	e := firebreak(t)
	detections(t, e)
	c := grpcPlugin(t)
	noCache, err := json.Marshal(map[string]any{"url": e.base, "timeoutSeconds": 20, "stepCacheSeconds": 0})
	if err != nil {
		t.Fatal(err)
	}
	withCache, without := pluginContext("firebreak-step-cache", e.settingsJSON(), nil), pluginContext("firebreak-no-step-cache", noCache, nil)
	run := func(pc backend.PluginContext, shift time.Duration) backend.DataResponse {
		t.Helper()
		q := dq("A", "metrics", `{"selector":"{__name__=~\"`+metricSpiky+`|`+metricRequests+`\"}","aggregation":"avg","step":"1m","withBand":true,"withScore":true}`)
		q.TimeRange = backend.TimeRange{From: e.rangeFrom.Add(shift), To: e.rangeTo.Add(shift)}
		resp, err := c.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{q}})
		if err != nil {
			t.Fatal(err)
		}
		return ok(t, resp, "A")
	}
	held := func(r backend.DataResponse) float64 {
		stats := r.Frames[0].Meta.Stats
		if len(stats) != 1 {
			t.Fatalf("stats %v, want the steps from the step cache", stats)
		}
		r.Frames[0].Meta.Stats = nil
		return stats[0].Value
	}
	if n := held(run(withCache, 0)); n != 0 {
		t.Fatalf("the first read took %v steps from an empty cache", n)
	}
	for _, shift := range []time.Duration{90 * time.Second, 3*time.Minute + 7*time.Second} {
		got, want := run(withCache, shift), run(without, shift)
		n := held(got)
		t.Logf("moved on by %s: %v steps from the step cache", shift, n)
		if n < 10 {
			t.Fatalf("moved on by %s: %v steps from the cache, want the older steps of the last read", shift, n)
		}
		if n := held(want); n != 0 {
			t.Fatalf("a data source without the cache took %v steps from it", n)
		}
		g, err := json.Marshal(got.Frames)
		if err != nil {
			t.Fatal(err)
		}
		w, err := json.Marshal(want.Frames)
		if err != nil {
			t.Fatal(err)
		}
		if string(g) != string(w) {
			t.Fatalf("moved on by %s: with the step cache\n%s\nwithout\n%s", shift, g, w)
		}
	}
}

// floatAt is a number field's value at row i, nil for null: a metrics
// field is float64 when it has no null, *float64 when it has.
func floatAt(f *data.Field, i int) *float64 {
	v, err := f.NullableFloatAt(i)
	if err != nil {
		panic(err)
	}
	return v
}
