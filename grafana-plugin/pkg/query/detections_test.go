package query

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func parse(t *testing.T, model string) Query {
	t.Helper()
	q, err := Parse(backend.DataQuery{RefID: "A", JSON: []byte(model)})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// oneLine folds whitespace so expectations read as one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestSeriesBandsSQLStatement(t *testing.T) {
	from, to := time.UnixMilli(0), time.UnixMilli(3_600_000)
	tests := []struct {
		name, metric, id string
		step             time.Duration
		agg, want        string
		wantErr          string
	}{
		{name: "avg per minute", metric: "http_requests_total", id: "42", step: time.Minute, agg: "avg",
			want: "SELECT id, groupArray(step_start) AS t, groupArray(step_expected) AS expected, groupArray(step_lower) AS lower, groupArray(step_upper) AS upper, groupArray(step_score) AS score FROM ( " +
				"SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), 60000) * 60000 AS step_start, avg(expected) AS step_expected, avg(lower) AS step_lower, avg(upper) AS step_upper, max(score) AS step_score " +
				"FROM bands FINAL WHERE metric_name = 'http_requests_total' AND series_id IN (42) AND learning = 0 AND time >= fromUnixTimestamp64Milli(0) AND time <= fromUnixTimestamp64Milli(3600000) " +
				"GROUP BY series_id, step_start ) GROUP BY id ORDER BY id"},
		{name: "last follows time, metric quoted", metric: `it's\`, id: "18446744073709551615", step: 1500 * time.Millisecond, agg: "last",
			want: "SELECT id, groupArray(step_start) AS t, groupArray(step_expected) AS expected, groupArray(step_lower) AS lower, groupArray(step_upper) AS upper, groupArray(step_score) AS score FROM ( " +
				"SELECT series_id AS id, intDiv(toUnixTimestamp64Milli(time), 1500) * 1500 AS step_start, argMax(expected, time) AS step_expected, argMax(lower, time) AS step_lower, argMax(upper, time) AS step_upper, max(score) AS step_score " +
				`FROM bands FINAL WHERE metric_name = 'it\'s\\' AND series_id IN (18446744073709551615) AND learning = 0 AND time >= fromUnixTimestamp64Milli(0) AND time <= fromUnixTimestamp64Milli(3600000) ` +
				"GROUP BY series_id, step_start ) GROUP BY id ORDER BY id"},
		{name: "series id must be a number", metric: "m", id: "1 OR 1=1", step: time.Minute, agg: "avg", wantErr: "not an unsigned 64-bit integer"},
		{name: "no band of a count", metric: "m", id: "1", step: time.Minute, agg: "count", wantErr: `no band for aggregation "count"`},
		{name: "step below 1ms", metric: "m", id: "1", step: time.Microsecond, agg: "avg", wantErr: "below 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SeriesBandsSQL(tt.metric, []string{tt.id}, BandColumns, tt.step, tt.agg, from, to, Skip{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if oneLine(got) != tt.want {
				t.Fatalf("SeriesBandsSQL() =\n%s\nwant\n%s", oneLine(got), tt.want)
			}
		})
	}
}

func TestAnomaliesSQL(t *testing.T) {
	const head = "SELECT time, kind, state, service, metric_name AS metric, labels, value, expected, score, direction, rule, severity, predicted_breach_at FROM anomalies FINAL WHERE "
	tests := []struct{ name, model, where string }{
		{"no filters", `{"queryType":"anomalies"}`, "$__timeFilter(time) ORDER BY time DESC, kind, metric LIMIT 1000"},
		{"every filter", `{"queryType":"anomalies","kinds":["anomaly","silence"],"service":"checkout","minScore":0.75,"state":"open","limit":20}`,
			"$__timeFilter(time) AND kind IN ('anomaly', 'silence') AND service = 'checkout' AND score >= 0.75 AND state = 'open' ORDER BY time DESC, kind, metric LIMIT 20"},
		{"several services, quoted", `{"queryType":"anomalies","service":"cart,x') OR 1=1 --","minScore":0}`,
			`$__timeFilter(time) AND service IN ('cart', 'x\') OR 1=1 --') AND score >= 0 ORDER BY time DESC, kind, metric LIMIT 1000`},
		{"severity", `{"queryType":"anomalies","kinds":["predictive"],"severity":"critical"}`,
			"$__timeFilter(time) AND kind = 'predictive' AND severity = 'critical' ORDER BY time DESC, kind, metric LIMIT 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(AnomaliesSQL(parse(t, tt.model))); got != head+tt.where {
				t.Fatalf("AnomaliesSQL() =\n%s\nwant\n%s", got, head+tt.where)
			}
		})
	}
}

func TestAlertsSQL(t *testing.T) {
	got := oneLine(AlertsSQL(parse(t, `{"queryType":"alerts","mode":"history","service":"checkout","state":"firing","limit":5}`)))
	want := "SELECT time, alertname, kind, severity, service, state, starts_at, ends_at, annotations['summary'] AS summary, generator_url, fingerprint " +
		"FROM alerts FINAL WHERE $__timeFilter(time) AND service = 'checkout' AND state = 'firing' ORDER BY time DESC, alertname LIMIT 5"
	if got != want {
		t.Fatalf("history:\n%s\nwant\n%s", got, want)
	}

	got = oneLine(AlertsSQL(parse(t, `{"queryType":"alerts","kinds":["anomaly"],"severity":"o'clock"}`)))
	for _, part := range []string{
		"argMax(a_state, a_time) AS state",
		"argMax(a_summary, a_time) AS summary",
		"annotations['summary'] AS a_summary",
		`WHERE time <= fromUnixTimestamp64Milli($__to) AND kind = 'anomaly' AND severity = 'o\'clock' )`,
		"GROUP BY fingerprint HAVING (state = 'firing' OR updated_at >= fromUnixTimestamp64Milli($__from)) ORDER BY starts_at, alertname LIMIT 1000",
	} {
		if !strings.Contains(got, part) {
			t.Fatalf("current mode lacks %q:\n%s", part, got)
		}
	}
	got = oneLine(AlertsSQL(parse(t, `{"queryType":"alerts","state":"resolved"}`)))
	if !strings.Contains(got, "HAVING (state = 'firing' OR updated_at >= fromUnixTimestamp64Milli($__from)) AND state = 'resolved'") {
		t.Fatalf("current mode with a state: %s", got)
	}
}

func TestSeriesSQL(t *testing.T) {
	from, to := time.UnixMilli(0), time.UnixMilli(3_600_000)
	v, err := SeriesValuesSQL("it's", []string{"1", "18446744073709551615"}, time.Minute, "last", from, to, Skip{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"argMax(value, time) AS step_value", "metric_name = 'it\\'s'", "series_id IN (1, 18446744073709551615)",
		"intDiv(toUnixTimestamp64Milli(time), 60000) * 60000 AS step_start", "time < fromUnixTimestamp64Milli(3600000)", "GROUP BY series_id, step_start",
		// One row per series, its steps as arrays.
		"SELECT id, groupArray(step_start) AS t, groupArray(step_value) AS value",
		"GROUP BY id ORDER BY id"} {
		if !strings.Contains(v, want) {
			t.Errorf("values SQL lacks %q:\n%s", want, v)
		}
	}
	b, err := SeriesBandsSQL("m", []string{"7"}, BandColumns, time.Minute, "avg", from, to, Skip{})
	if err != nil || !strings.Contains(b, "avg(upper) AS step_upper") || !strings.Contains(b, "groupArray(step_score) AS score") || !strings.Contains(b, "learning = 0") || !strings.Contains(b, "time <= fromUnixTimestamp64Milli(3600000)") {
		t.Fatalf("bands SQL %v:\n%s", err, b)
	}
	for _, bad := range []struct {
		ids []string
		agg string
		msg string
	}{
		{[]string{"1 OR 1=1"}, "avg", "not an unsigned 64-bit integer"},
		{nil, "avg", "no series"},
		{[]string{"1"}, "median", `aggregation "median"`},
	} {
		if _, err := SeriesValuesSQL("m", bad.ids, time.Minute, bad.agg, from, to, Skip{}); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%v %s: %v, want %q", bad.ids, bad.agg, err, bad.msg)
		}
	}
	if _, err := SeriesBandsSQL("m", []string{"1"}, BandColumns, time.Minute, "count", from, to, Skip{}); err == nil {
		t.Error("a count has no band")
	}
	// The score alone: its step's highest, with any aggregation.
	score, err := SeriesBandsSQL("m", []string{"1"}, []string{"score"}, time.Minute, "count", from, to, Skip{})
	if err != nil || !strings.Contains(score, "SELECT id, groupArray(step_start) AS t, groupArray(step_score) AS score\n") ||
		!strings.Contains(score, "max(score) AS step_score\n") || strings.Contains(score, "expected") {
		t.Fatalf("score SQL %v:\n%s", err, score)
	}
	for _, bad := range [][]string{nil, {"value"}, {"score", "expected"}, {"lower", "lower"}, {"expected; DROP TABLE bands"}} {
		if _, err := SeriesBandsSQL("m", []string{"1"}, bad, time.Minute, "avg", from, to, Skip{}); err == nil {
			t.Errorf("band columns %q: no error", bad)
		}
		if _, err := SeriesBandPointsSQL("m", []string{"1"}, bad, from, to, 10, Skip{}); err == nil {
			t.Errorf("band point columns %q: no error", bad)
		}
	}
}
