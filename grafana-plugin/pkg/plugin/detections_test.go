package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// fakeAPI answers the API calls the query types make; sql maps a part of
// the SQL to the answer, and every SQL received is kept. With arrow set,
// an SQL request that asks for an Arrow stream gets the answer as one, as
// firebreak on its embedded engine sends it.
type fakeAPI struct {
	mu    sync.Mutex
	sqls  []string
	sql   map[string]string
	arrow bool
}

func (f *fakeAPI) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/series":
			io.WriteString(w, `{"series":[{"series_id":1,"metric_name":"lat","labels":{"service":"checkout"}},{"series_id":2,"metric_name":"lat","labels":{"service":"cart"}}]}`)
		case "/api/v1/query_range":
			io.WriteString(w, `{"points":[[60000,1],[120000,2]]}`)
		case "/api/v1/sql":
			b, _ := io.ReadAll(r.Body)
			sql := string(b)
			f.mu.Lock()
			f.sqls = append(f.sqls, sql)
			f.mu.Unlock()
			for part, answer := range f.sql {
				if !strings.Contains(sql, part) {
					continue
				}
				if f.arrow && strings.Contains(r.Header.Get("Accept"), firebreak.ArrowStreamType) {
					w.Header().Set("Content-Type", firebreak.ArrowStreamType)
					w.Write(arrowAnswer(t, answer))
					return
				}
				io.WriteString(w, answer)
				return
			}
			t.Errorf("unexpected SQL %s", sql)
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"unexpected"}`)
		default:
			t.Errorf("unexpected call %s", r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}
}

func runQuery(t *testing.T, api *fakeAPI, queryType, model string) backend.DataResponse {
	t.Helper()
	return runQueryWithHeaders(t, api, queryType, model, nil)
}

// runQueryWithHeaders runs one query in a request with these headers, as
// Grafana's alerting and expressions mark theirs.
func runQueryWithHeaders(t *testing.T, api *fakeAPI, queryType, model string, headers map[string]string) backend.DataResponse {
	t.Helper()
	srv := httptest.NewServer(api.handler(t))
	defer srv.Close()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"` + srv.URL + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := inst.(*Datasource).QueryData(context.Background(), &backend.QueryDataRequest{Headers: headers, Queries: []backend.DataQuery{{
		RefID: "A", QueryType: queryType, JSON: json.RawMessage(model), Interval: time.Minute, MaxDataPoints: 100,
		TimeRange: backend.TimeRange{From: time.UnixMilli(0), To: time.UnixMilli(3_600_000)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Responses["A"]
}

// bandAnswers are a metrics query's answers for series 1 and 2. The
// points statements come first: series 1's values are all there (out of
// order), series 2 has more values than the statement reads (n = 3, one
// point), so the values of series 2 alone are asked again aggregated per
// step; series 1's band also has more points than read, so its band is
// asked per step (one score NULL), and series 2 has no band.
var bandAnswers = map[string]string{
	"(value) AS value\nFROM samples_data FINAL": `{"columns":[{"name":"id","type":"UInt64"},{"name":"n","type":"UInt64"},{"name":"t","type":"Array(Int64)"},{"name":"value","type":"Array(Float64)"}],
		"rows":[[1,2,[120000,60000],[2,1]],[2,3,[60000],[3]]]}`,
	"AS step_value": `{"columns":[{"name":"id","type":"UInt64"},{"name":"t","type":"Array(Int64)"},{"name":"value","type":"Array(Float64)"}],
		"rows":[[2,[60000],[3]]]}`,
	"(score) AS score\nFROM bands FINAL": `{"columns":[{"name":"id","type":"UInt64"},{"name":"n","type":"UInt64"},{"name":"t","type":"Array(Int64)"},{"name":"expected","type":"Array(Float64)"},{"name":"lower","type":"Array(Float64)"},{"name":"upper","type":"Array(Float64)"},{"name":"score","type":"Array(Float64)"}],
		"rows":[[1,3,[60000,120000],[1,1],[0.5,0.5],[1.5,1.5],[0.1,0.1]]]}`,
	"AS step_score": `{"columns":[{"name":"id","type":"UInt64"},{"name":"t","type":"Array(Int64)"},{"name":"expected","type":"Array(Float64)"},{"name":"lower","type":"Array(Float64)"},{"name":"upper","type":"Array(Float64)"},{"name":"score","type":"Array(Float64)"}],
		"rows":[[1,[60000,120000],[1,1],[0.5,0.5],[1.5,1.5],[0.1,null]]]}`,
}

func TestMetricsWithBand(t *testing.T) {
	for _, arrow := range []bool{false, true} {
		t.Run(map[bool]string{false: "JSON", true: "Arrow"}[arrow], func(t *testing.T) {
			testMetricsWithBand(t, &fakeAPI{sql: bandAnswers, arrow: arrow})
		})
	}
}

// TestMetricsArrowEqualsJSON: the same answers, sent as Arrow or as JSON,
// make the same frames.
func TestMetricsArrowEqualsJSON(t *testing.T) {
	model := `{"selector":"lat","aggregation":"max","step":"1m","withBand":true,"withScore":true}`
	fromJSON := runQuery(t, &fakeAPI{sql: bandAnswers}, "metrics", model)
	fromArrow := runQuery(t, &fakeAPI{sql: bandAnswers, arrow: true}, "metrics", model)
	if fromJSON.Error != nil || fromArrow.Error != nil {
		t.Fatalf("JSON: %v, Arrow: %v", fromJSON.Error, fromArrow.Error)
	}
	j, err := json.Marshal(fromJSON.Frames)
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(fromArrow.Frames)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != string(a) {
		t.Fatalf("frames from JSON\n%s\nfrom Arrow\n%s", j, a)
	}
}

func testMetricsWithBand(t *testing.T, api *fakeAPI) {
	// One statement for the values of all series and one for their bands:
	// each row is one series. A panel gets one wide frame: the steps of
	// every series, then each series' value and band fields.
	r := runQuery(t, api, "metrics", `{"selector":"lat","aggregation":"max","step":"1m","withBand":true,"withScore":true}`)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if len(r.Frames) != 1 {
		t.Fatalf("%d frames, want one wide frame", len(r.Frames))
	}
	wide := r.Frames[0]
	if wide.Meta.Type != data.FrameTypeTimeSeriesWide || wide.Fields[0].Name != "time" || wide.Fields[0].Len() != 2 ||
		!wide.Fields[0].At(1).(time.Time).Equal(time.UnixMilli(120000)) {
		t.Fatalf("frame: type %s, fields %v", wide.Meta.Type, wide.Fields)
	}
	var names []string
	for _, field := range wide.Fields[1:] {
		names = append(names, field.Config.DisplayNameFromDS)
	}
	want := `lat{service="checkout"}|lat{service="checkout"} expected|lat{service="checkout"} lower|lat{service="checkout"} upper|lat{service="checkout"} score|lat{service="cart"}`
	if strings.Join(names, "|") != want {
		t.Fatalf("fields\n%s\nwant\n%s", strings.Join(names, "|"), want)
	}
	upper := wide.Fields[4]
	if upper.Name != "upper" || upper.Len() != 2 || *floatAt(upper, 0) != 1.5 {
		t.Fatalf("upper field: %v", upper)
	}
	if floatAt(wide.Fields[5], 1) != nil {
		t.Fatal("a null score must stay null")
	}
	if v := wide.Fields[6]; *floatAt(v, 0) != 3 || floatAt(v, 1) != nil {
		t.Fatalf("cart's values: %v, want 3 then null (cart has no second step)", v)
	}

	// For alerting and server-side expressions, which read one number
	// field a frame: a frame per band field, with the same fields.
	alert := runQueryWithHeaders(t, api, "metrics", `{"selector":"lat","aggregation":"max","step":"1m","withBand":true,"withScore":true}`, map[string]string{backend.FromAlertHeaderName: "true"})
	if alert.Error != nil {
		t.Fatal(alert.Error)
	}
	var perField []string
	for i, f := range alert.Frames {
		perField = append(perField, f.Name)
		if len(f.Fields) != 2 || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Fatalf("frame %s: type %s, %d fields", f.Name, f.Meta.Type, len(f.Fields))
		}
		if i >= 1 && i <= 4 && (!reflect.DeepEqual(f.Fields[0], wide.Fields[0]) || !reflect.DeepEqual(f.Fields[1], wide.Fields[i+1])) {
			t.Fatalf("frame %s differs from the panel's band field %s", f.Name, wide.Fields[i+1].Name)
		}
	}
	wantPerField := `lat{service="checkout"}|lat{service="checkout"} expected|lat{service="checkout"} lower|lat{service="checkout"} upper|lat{service="checkout"} score|lat{service="cart"}`
	if strings.Join(perField, "|") != wantPerField {
		t.Fatalf("frames for alerting\n%s\nwant\n%s", strings.Join(perField, "|"), wantPerField)
	}
	if n := r.Frames[0].Meta.Notices; len(n) != 1 || !strings.Contains(n[0].Text, "1 of 2 series have no band") {
		t.Fatalf("notices %v", n)
	}
	// Per query: the points of both series' values and bands, then per
	// step the values of series 2 and the band of series 1.
	if len(api.sqls) != 8 {
		t.Fatalf("%d statements, want four per query: %q", len(api.sqls), api.sqls)
	}
	for _, sql := range api.sqls {
		if strings.Contains(sql, "$__") {
			t.Fatalf("SQL %s", sql)
		}
		values, points := strings.Contains(sql, "FROM samples_data"), strings.Contains(sql, "count() AS n")
		switch {
		case points && !strings.Contains(sql, "series_id IN (1, 2)"),
			values && !points && (!strings.Contains(sql, "series_id IN (2)") || !strings.Contains(sql, "max(value) AS step_value")),
			!values && !points && (!strings.Contains(sql, "series_id IN (1)") || !strings.Contains(sql, "max(upper) AS step_upper")):
			t.Fatalf("SQL %s", sql)
		}
		if values && !strings.Contains(sql, "time < fromUnixTimestamp64Milli(3600000)") || !values && !strings.Contains(sql, "time <= fromUnixTimestamp64Milli(3600000)") {
			t.Fatalf("time bounds of %s", sql)
		}
	}
}

// TestMetricsBandColumns: withBand alone reads and frames the band
// without the score, withScore alone the score without the band (a step's
// highest, whatever the values' aggregation, count too).
func TestMetricsBandColumns(t *testing.T) {
	columns := func(names ...string) string {
		var b strings.Builder
		b.WriteString(`{"columns":[{"name":"id","type":"UInt64"},{"name":"n","type":"UInt64"},{"name":"t","type":"Array(Int64)"}`)
		for _, n := range names {
			b.WriteString(`,{"name":"` + n + `","type":"Array(Float64)"}`)
		}
		b.WriteString(`],"rows":[[1,2,[60000,120000]`)
		for range names {
			b.WriteString(`,[0.5,0.7]`)
		}
		b.WriteString(`]]}`)
		return b.String()
	}
	for _, tt := range []struct {
		model, statement string
		columns          []string
	}{
		{`{"selector":"lat","aggregation":"max","step":"1m","withBand":true}`,
			"groupArray(124)(expected) AS expected, groupArray(124)(lower) AS lower, groupArray(124)(upper) AS upper\nFROM bands FINAL",
			[]string{"expected", "lower", "upper"}},
		{`{"selector":"lat","aggregation":"count","step":"1m","withScore":true}`,
			"AS t,\n  groupArray(124)(score) AS score\nFROM bands FINAL",
			[]string{"score"}},
	} {
		api := &fakeAPI{sql: map[string]string{
			"(value) AS value\nFROM samples_data FINAL": columns("value"),
			tt.statement: columns(tt.columns...),
		}}
		r := runQuery(t, api, "metrics", tt.model)
		if r.Error != nil {
			t.Fatalf("%s: %v", tt.model, r.Error)
		}
		var names []string
		for _, f := range r.Frames[0].Fields[1:] {
			names = append(names, f.Config.DisplayNameFromDS)
		}
		want := []string{`lat{service="checkout"}`}
		for _, c := range tt.columns {
			want = append(want, `lat{service="checkout"} `+c)
		}
		want = append(want, `lat{service="cart"}`) // no row: no steps, no band
		if strings.Join(names, "|") != strings.Join(want, "|") {
			t.Errorf("%s: fields %q, want %q", tt.model, names, want)
		}
		if len(api.sqls) != 2 {
			t.Errorf("%s: %d statements, want the values' and the band's points: %q", tt.model, len(api.sqls), api.sqls)
		}
	}
}

// TestDenseMetricsGoToTheEngine: once a metric's series had more points
// than a points statement reads at a step, that step and longer ones are
// aggregated by the engine at once; shorter ones still read points.
func TestDenseMetricsGoToTheEngine(t *testing.T) {
	var d denseSteps
	if !d.pointsFit("lat", time.Minute) {
		t.Fatal("an unknown metric must try its points")
	}
	d.overflowed("lat", 5*time.Minute)
	d.overflowed("lat", 10*time.Minute)
	for step, want := range map[time.Duration]bool{time.Minute: true, 5 * time.Minute: false, time.Hour: false} {
		if got := d.pointsFit("lat", step); got != want {
			t.Errorf("step %s: points fit %v, want %v", step, got, want)
		}
	}
	if !d.pointsFit("other", time.Hour) {
		t.Fatal("another metric is not dense")
	}

	// Through a query: the second query on the same instance sends series 2's
	// values to the engine... and series 1's too, since the metric is dense.
	api := &fakeAPI{sql: bandAnswers}
	srv := httptest.NewServer(api.handler(t))
	defer srv.Close()
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"` + srv.URL + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	ds := inst.(*Datasource)
	q := backend.DataQuery{RefID: "A", QueryType: "metrics", JSON: json.RawMessage(`{"selector":"lat","aggregation":"max","step":"1m"}`),
		TimeRange: backend.TimeRange{From: time.UnixMilli(0), To: time.UnixMilli(3_600_000)}}
	if _, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}}); err != nil {
		t.Fatal(err)
	}
	if n := len(api.sqls); n != 2 || !strings.Contains(api.sqls[0], "count() AS n") {
		t.Fatalf("first query: %d statements %q, want the points, then series 2 per step", n, api.sqls)
	}
	if ds.dense.pointsFit("lat", time.Minute) {
		t.Fatal("lat overflowed at 1m: it must go to the engine at 1m")
	}
	api.sqls = nil
	ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	if n := len(api.sqls); n != 1 || strings.Contains(api.sqls[0], "count() AS n") || !strings.Contains(api.sqls[0], "series_id IN (1, 2)") {
		t.Fatalf("second query: %q, want one per-step statement for both series", api.sqls)
	}
}

func TestByMetric(t *testing.T) {
	var series []firebreak.Series
	for i := range 5 {
		series = append(series, firebreak.Series{MetricName: []string{"a", "b"}[i%2]})
	}
	// One group per metric, in order of first appearance, whatever the
	// number of series or steps.
	got := byMetric(series)
	want := [][]int{{0, 2, 4}, {1, 3}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("byMetric %v, want %v", got, want)
	}
}

const anomaliesAnswer = `{"columns":[{"name":"time","type":"DateTime64(3, 'UTC')"},{"name":"kind","type":"LowCardinality(String)"},{"name":"state","type":"LowCardinality(String)"},
{"name":"service","type":"LowCardinality(String)"},{"name":"metric","type":"LowCardinality(String)"},{"name":"labels","type":"Map(LowCardinality(String), String)"},
{"name":"value","type":"Float64"},{"name":"expected","type":"Float64"},{"name":"score","type":"Float64"},{"name":"direction","type":"LowCardinality(String)"},
{"name":"rule","type":"LowCardinality(String)"},{"name":"severity","type":"LowCardinality(String)"},{"name":"predicted_breach_at","type":"DateTime64(3, 'UTC')"}],
"rows":[["2026-11-22T06:05:00Z","anomaly","open","checkout","lat",{"service":"checkout"},3.2,0.1,0.97,"up","","","1970-01-01T00:00:00Z"]]}`

func TestAnomaliesQuery(t *testing.T) {
	api := &fakeAPI{sql: map[string]string{"FROM anomalies FINAL": anomaliesAnswer}}
	r := runQuery(t, api, "anomalies", `{"kinds":["anomaly"],"service":"checkout","minScore":0.5}`)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	f := r.Frames[0]
	if f.Meta.PreferredVisualization != data.VisTypeTable || len(f.Fields) != 13 {
		t.Fatalf("table: %+v, %d fields", f.Meta, len(f.Fields))
	}
	if b, _ := f.FieldByName("predicted_breach_at"); b.At(0).(*time.Time) != nil {
		t.Fatal("the epoch must read as null")
	}
	sql := f.Meta.ExecutedQueryString
	if !strings.Contains(sql, "kind = 'anomaly' AND service = 'checkout' AND score >= 0.5") || strings.Contains(sql, "$__") {
		t.Fatalf("executed %s", sql)
	}

	r = runQuery(t, api, "anomalies", `{"format":"annotations"}`)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	a := r.Frames[0]
	if a.Meta.DataTopic != data.DataTopicAnnotations || a.Fields[1].Name != "title" || a.Fields[1].At(0) != "anomaly in checkout" || a.Meta.ExecutedQueryString == "" {
		t.Fatalf("annotations frame: %+v %v", a.Meta, a.Fields)
	}

	if r := runQuery(t, api, "anomalies", `{"kinds":["incident"]}`); r.Error == nil || r.Status != backend.StatusBadRequest {
		t.Fatalf("bad kind: %v", r.Error)
	}
}

func TestAlertsQuery(t *testing.T) {
	answer := `{"columns":[{"name":"alertname","type":"LowCardinality(String)"},{"name":"kind","type":"LowCardinality(String)"},{"name":"severity","type":"LowCardinality(String)"},
{"name":"service","type":"LowCardinality(String)"},{"name":"state","type":"LowCardinality(String)"},{"name":"starts_at","type":"DateTime64(3, 'UTC')"},
{"name":"ends_at","type":"DateTime64(3, 'UTC')"},{"name":"summary","type":"String"},{"name":"generator_url","type":"String"},{"name":"fingerprint","type":"String"},
{"name":"updated_at","type":"DateTime64(3, 'UTC')"}],
"rows":[["FirebreakAnomaly","anomaly","warning","checkout","firing","2026-11-22T06:05:00Z","1970-01-01T00:00:00Z","latency up","http://g/d","fp1","2026-11-22T06:05:00Z"]]}`
	api := &fakeAPI{sql: map[string]string{"FROM alerts FINAL": answer}}
	r := runQuery(t, api, "alerts", `{"state":"firing"}`)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	f := r.Frames[0]
	if e, _ := f.FieldByName("ends_at"); e.Type() != data.FieldTypeNullableTime || e.At(0).(*time.Time) != nil {
		t.Fatalf("ends_at while firing must be null: %v", e)
	}
	if s, _ := f.FieldByName("summary"); s.At(0) != "latency up" {
		t.Fatalf("summary %v", s.At(0))
	}
	if sql := f.Meta.ExecutedQueryString; !strings.Contains(sql, "argMax(a_state, a_time) AS state") || !strings.Contains(sql, "time <= fromUnixTimestamp64Milli(3600000)") {
		t.Fatalf("executed %s", sql)
	}
}
