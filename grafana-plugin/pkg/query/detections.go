package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
)

// The detector tables (docs/schema.md, "Detector outputs") are read through
// the API's read-only SQL. The SQL built here keeps the time range as
// macros ($__timeFilter, $__from, $__to), which the handler expands like any
// SQL query's; every value from the query model is a checked keyword, a
// number this package formats, or a string literal rendered by
// macros.Quote.

// bandAggregations is how a band's columns combine within a step, by the
// values' aggregation: the band follows the values. The score is always the
// step's worst (max).
var bandAggregations = map[string]string{
	"avg": "avg(%s)", "min": "min(%s)", "max": "max(%s)", "sum": "sum(%s)",
	"last": "argMax(%s, time)", "first": "argMin(%s, time)",
}

// BandColumns are the columns of the bands table a metrics query can
// read, in order: the band (expected, lower, upper) and the anomaly score.
// Points scored while the baseline was still learning are left out: their
// band is the point itself.
var BandColumns = []string{"expected", "lower", "upper", "score"}

// checkBandColumns checks that columns are some of BandColumns, in their
// order, each once.
func checkBandColumns(columns []string) error {
	if len(columns) == 0 {
		return fmt.Errorf("no band column: ask for some of %s", strings.Join(BandColumns, ", "))
	}
	next := 0
	for _, c := range columns {
		k := slices.Index(BandColumns[next:], c)
		if k < 0 {
			return fmt.Errorf("band column %q is not one of %s, in that order, each once", c, strings.Join(BandColumns, ", "))
		}
		next += k + 1
	}
	return nil
}

// bandSelect checks columns and returns each column's aggregation per step
// by agg: the band follows the values, the score is always the step's
// worst (max).
func bandSelect(columns []string, agg string) ([]string, error) {
	if err := checkBandColumns(columns); err != nil {
		return nil, err
	}
	out := make([]string, len(columns))
	for i, c := range columns {
		if c == "score" {
			out[i] = "max(score)"
			continue
		}
		f, ok := bandAggregations[agg]
		if !ok {
			return nil, fmt.Errorf("no band for aggregation %q", agg)
		}
		out[i] = fmt.Sprintf(f, c)
	}
	return out, nil
}

// AnomalyColumns are the columns AnomaliesSQL returns, in order.
var AnomalyColumns = []string{"time", "kind", "state", "service", "metric", "labels", "value", "expected",
	"score", "direction", "rule", "severity", "predicted_breach_at"}

// AnomaliesSQL selects the detector findings within the time range that
// pass the filters, newest first. predicted_breach_at is the epoch where it
// does not apply (the store has no NULL): converters.NullEpoch clears it.
func AnomaliesSQL(q Query) string {
	where := []string{"$__timeFilter(time)"}
	where = append(where, q.commonFilters()...)
	if q.MinScore != nil {
		where = append(where, "score >= "+strconv.FormatFloat(*q.MinScore, 'g', -1, 64))
	}
	if q.State != "" {
		where = append(where, "state = "+macros.Quote(q.State))
	}
	return `SELECT time, kind, state, service, metric_name AS metric, labels, value, expected, score, direction, rule, severity, predicted_breach_at
FROM anomalies FINAL
WHERE ` + strings.Join(where, " AND ") + `
ORDER BY time DESC, kind, metric
LIMIT ` + strconv.Itoa(q.Limit)
}

// AlertColumns are the columns AlertsSQL returns in current mode, which
// ends with updated_at (the newest transition); history mode starts with
// time (of the transition) instead.
var AlertColumns = []string{"alertname", "kind", "severity", "service", "state", "starts_at", "ends_at",
	"summary", "generator_url", "fingerprint"}

// AlertsSQL selects alerts. Current: the newest transition of each
// fingerprint up to the end of the range (argMax over time), for alerts
// still firing then or changed within the range, longest-running first.
// History: every transition within the range, newest first. ends_at is the
// epoch while firing: converters.NullEpoch clears it.
func AlertsSQL(q Query) string {
	filters := q.commonFilters()
	if q.Mode == ModeHistory {
		where := append([]string{"$__timeFilter(time)"}, filters...)
		if q.State != "" {
			where = append(where, "state = "+macros.Quote(q.State))
		}
		return `SELECT time, alertname, kind, severity, service, state, starts_at, ends_at, annotations['summary'] AS summary, generator_url, fingerprint
FROM alerts FINAL
WHERE ` + strings.Join(where, " AND ") + `
ORDER BY time DESC, alertname
LIMIT ` + strconv.Itoa(q.Limit)
	}
	// The inner query renames the columns so that the outer aliases, which
	// reuse the table's names, never shadow a column in a filter.
	where := append([]string{"time <= fromUnixTimestamp64Milli($__to)"}, filters...)
	having := "(state = 'firing' OR updated_at >= fromUnixTimestamp64Milli($__from))"
	if q.State != "" {
		having += " AND state = " + macros.Quote(q.State)
	}
	return `SELECT argMax(a_alertname, a_time) AS alertname, argMax(a_kind, a_time) AS kind,
  argMax(a_severity, a_time) AS severity, argMax(a_service, a_time) AS service,
  argMax(a_state, a_time) AS state, argMax(a_starts_at, a_time) AS starts_at, argMax(a_ends_at, a_time) AS ends_at,
  argMax(a_summary, a_time) AS summary, argMax(a_generator_url, a_time) AS generator_url,
  fingerprint, max(a_time) AS updated_at
FROM (
  SELECT fingerprint, time AS a_time, alertname AS a_alertname, kind AS a_kind, severity AS a_severity,
    service AS a_service, state AS a_state, starts_at AS a_starts_at, ends_at AS a_ends_at,
    annotations['summary'] AS a_summary, generator_url AS a_generator_url
  FROM alerts FINAL
  WHERE ` + strings.Join(where, " AND ") + `
)
GROUP BY fingerprint
HAVING ` + having + `
ORDER BY starts_at, alertname
LIMIT ` + strconv.Itoa(q.Limit)
}

// commonFilters are the conditions on kind, service and severity, columns
// the anomalies and alerts tables share.
func (q Query) commonFilters() []string {
	var out []string
	for _, f := range []struct {
		col    string
		values []string
	}{{"kind", q.Kinds}, {"service", q.Services}, {"severity", q.Severities}} {
		switch len(f.values) {
		case 0:
		case 1:
			out = append(out, f.col+" = "+macros.Quote(f.values[0]))
		default:
			out = append(out, f.col+" IN "+macros.QuoteList(f.values))
		}
	}
	return out
}

// valueAggregations are the values' aggregations within a step, as
// /api/v1/query_range computes them.
var valueAggregations = map[string]string{
	"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "sum": "sum(value)",
	"count": "count()", "last": "argMax(value, time)", "first": "argMin(value, time)",
}

// SeriesValuesSQL selects several series of one metric per step in one
// statement, as /api/v1/query_range does for one, one row per series: id
// (the series id), t (the steps' starts in Unix milliseconds,
// epoch-aligned) and value, arrays aligned with each other; ordered by
// series; points within [from, to). One row per series keeps any number of
// series and steps within the API's row limit, so one statement reads the
// table's granules once for all of them, where rows per step forced
// batches of series that each read nearly every granule again.
//
// The steps come in the order rows reach groupArray, the hash
// aggregation's, not time order: the reader orders them
// (converters.StepsBySeries), which costs the plugin 2–4 ms CPU for the
// bands of 100 series × 1,441 steps where arraySort of each column cost the
// engine 10–27 ms (BENCHMARKS.md, "Grafana plugin"). The arrays of one row
// stay aligned: they are gathered from the same rows in the same order.
// The inner names (step_…) differ from the outer aliases, which ClickHouse
// would otherwise read where the column is meant.
func SeriesValuesSQL(metric string, ids []string, step time.Duration, agg string, from, to time.Time, skip Skip) (string, error) {
	f, ok := valueAggregations[agg]
	if !ok {
		return "", fmt.Errorf("aggregation %q is not one of avg, min, max, sum, count, last, first", agg)
	}
	in, stepMs, err := batchArgs(ids, step)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`SELECT id, groupArray(step_start) AS t, groupArray(step_value) AS value
FROM (
  SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), %[1]d) * %[1]d AS step_start, %[2]s AS step_value
  FROM samples_data FINAL
  WHERE metric_name = %[3]s AND series_id IN (%[4]s)
    AND time >= fromUnixTimestamp64Milli(%[5]d) AND time < fromUnixTimestamp64Milli(%[6]d)%[7]s
  GROUP BY series_id, step_start
)
GROUP BY id ORDER BY id`, stepMs, f, macros.Quote(metric), in, from.UnixMilli(), to.UnixMilli(), skip.sql()), nil
}

// SeriesBandsSQL selects several series' bands of one metric per step
// (steps aligned as /api/v1/query_range aligns its buckets), shaped as
// SeriesValuesSQL: id, t, then columns (some of BandColumns), each an
// array aligned with t; within [from, to].
func SeriesBandsSQL(metric string, ids, columns []string, step time.Duration, agg string, from, to time.Time, skip Skip) (string, error) {
	aggs, err := bandSelect(columns, agg)
	if err != nil {
		return "", err
	}
	in, stepMs, err := batchArgs(ids, step)
	if err != nil {
		return "", err
	}
	outer, inner := make([]string, len(columns)), make([]string, len(columns))
	for i, c := range columns {
		outer[i] = "groupArray(step_" + c + ") AS " + c
		inner[i] = aggs[i] + " AS step_" + c
	}
	return fmt.Sprintf(`SELECT id, groupArray(step_start) AS t, %[2]s
FROM (
  SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), %[1]d) * %[1]d AS step_start, %[3]s
  FROM bands FINAL
  WHERE metric_name = %[4]s AND series_id IN (%[5]s) AND learning = 0
    AND time >= fromUnixTimestamp64Milli(%[6]d) AND time <= fromUnixTimestamp64Milli(%[7]d)%[8]s
  GROUP BY series_id, step_start
)
GROUP BY id ORDER BY id`, stepMs, strings.Join(outer, ", "), strings.Join(inner, ", "),
		macros.Quote(metric), in, from.UnixMilli(), to.UnixMilli(), skip.sql()), nil
}

// Skip is a span of time a per-series statement leaves out, [From, To):
// the steps the plugin holds already (its step cache), so that the engine
// reads only the rest of the range. The zero Skip leaves nothing out.
type Skip struct{ From, To time.Time }

func (s Skip) sql() string {
	if s.From.IsZero() || !s.To.After(s.From) {
		return ""
	}
	// Two ranges joined by OR, which the engine's primary key analysis
	// reads as two ranges of granules: it reads NOT (a range) as every
	// granule.
	return fmt.Sprintf("\n    AND (time < fromUnixTimestamp64Milli(%d) OR time >= fromUnixTimestamp64Milli(%d))", s.From.UnixMilli(), s.To.UnixMilli())
}

// batchArgs checks the series ids (unsigned integers, formatted here) and
// the step.
func batchArgs(ids []string, step time.Duration) (string, int64, error) {
	if len(ids) == 0 {
		return "", 0, fmt.Errorf("no series")
	}
	parts := make([]string, len(ids))
	for i, s := range ids {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return "", 0, fmt.Errorf("series id %q is not an unsigned 64-bit integer", s)
		}
		parts[i] = strconv.FormatUint(id, 10)
	}
	stepMs := step.Milliseconds()
	if stepMs < 1 {
		return "", 0, fmt.Errorf("step %s is below 1ms", step)
	}
	return strings.Join(parts, ", "), stepMs, nil
}

// SeriesPointsSQL selects several series' points of one metric as they are
// stored, for the plugin to aggregate per step itself
// (converters.ValueStepsFromPoints): one row per series, id, n (its points
// within [from, to), as SeriesValuesSQL bounds them), t (the points' times
// in Unix milliseconds) and value, the arrays holding at most maxPoints
// points each, in any order. Without SeriesValuesSQL's inner GROUP BY
// series and step (a hash aggregation over every point), the engine's
// part of the band panel's values costs about half (BENCHMARKS.md,
// "Grafana plugin"); the same statement serves every step and aggregation.
//
// groupArray(maxPoints) keeps the first points it is handed of a series
// with more: each array's prefix, and ClickHouse does not document that
// separate groupArray calls cut the same rows. So a series' arrays are
// only read when n <= maxPoints, all of its points, aligned as any
// groupArray calls over the same rows are (SeriesValuesSQL relies on the
// same); the converter reports the others, for SeriesValuesSQL to
// aggregate.
func SeriesPointsSQL(metric string, ids []string, from, to time.Time, maxPoints int, skip Skip) (string, error) {
	in, err := pointsArgs(ids, maxPoints)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`SELECT series_id AS id, count() AS n, groupArray(%[1]d)(toUnixTimestamp64Milli(time)) AS t, groupArray(%[1]d)(value) AS value
FROM samples_data FINAL
WHERE metric_name = %[2]s AND series_id IN (%[3]s)
  AND time >= fromUnixTimestamp64Milli(%[4]d) AND time < fromUnixTimestamp64Milli(%[5]d)%[6]s
GROUP BY series_id`, maxPoints, macros.Quote(metric), in, from.UnixMilli(), to.UnixMilli(), skip.sql()), nil
}

// SeriesBandPointsSQL is SeriesPointsSQL for the bands (as SeriesBandsSQL
// reads them: scored points, not learning ones, within [from, to]): id, n,
// t, then columns (some of BandColumns), at most maxPoints each; for
// converters.BandStepsFromPoints.
func SeriesBandPointsSQL(metric string, ids, columns []string, from, to time.Time, maxPoints int, skip Skip) (string, error) {
	if err := checkBandColumns(columns); err != nil {
		return "", err
	}
	in, err := pointsArgs(ids, maxPoints)
	if err != nil {
		return "", err
	}
	arrays := make([]string, len(columns))
	for i, c := range columns {
		arrays[i] = fmt.Sprintf("groupArray(%d)(%s) AS %s", maxPoints, c, c)
	}
	return fmt.Sprintf(`SELECT series_id AS id, count() AS n, groupArray(%[1]d)(toUnixTimestamp64Milli(time)) AS t,
  %[2]s
FROM bands FINAL
WHERE metric_name = %[3]s AND series_id IN (%[4]s) AND learning = 0
  AND time >= fromUnixTimestamp64Milli(%[5]d) AND time <= fromUnixTimestamp64Milli(%[6]d)%[7]s
GROUP BY series_id`, maxPoints, strings.Join(arrays, ", "), macros.Quote(metric), in, from.UnixMilli(), to.UnixMilli(), skip.sql()), nil
}

// pointsArgs checks the series ids as batchArgs does, and the points'
// limit.
func pointsArgs(ids []string, maxPoints int) (string, error) {
	if maxPoints < 1 {
		return "", fmt.Errorf("at most %d points a series is not a limit: it must be at least 1", maxPoints)
	}
	in, _, err := batchArgs(ids, time.Millisecond)
	return in, err
}
