package integration

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/plugin"
)

var (
	grpcOnce   sync.Once
	grpcClient *datasourcetest.TestPluginClient
	grpcErr    error
)

// grpcPlugin serves the plugin on the SDK's gRPC test server, as Grafana
// reaches it, and returns the client side. The SDK allows one server per
// process, so the package's tests share it.
func grpcPlugin(t testing.TB) *datasourcetest.TestPluginClient {
	t.Helper()
	grpcOnce.Do(func() {
		// The SDK logs every request at debug level; keep test output readable.
		log.DefaultLogger = log.NewWithLevel(log.Warn)
		backend.Logger = log.DefaultLogger
		addr, err := freePort()
		if err != nil {
			grpcErr = err
			return
		}
		tp, err := datasourcetest.Manage(plugin.NewDatasource, datasourcetest.ManageOpts{Address: addr})
		if err != nil {
			grpcErr = err
			return
		}
		atExit(func() { tp.Shutdown() })
		grpcClient = tp.Client
	})
	if grpcErr != nil {
		t.Fatal(grpcErr)
	}
	return grpcClient
}

var dsUpdated = time.Now()

func pluginContext(uid string, jsonData []byte, secure map[string]string) backend.PluginContext {
	return backend.PluginContext{
		OrgID:    1,
		PluginID: plugin.PluginID,
		User:     &backend.User{Login: "admin", Role: "Admin"},
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 1, UID: uid, Name: "Firebreak", Type: plugin.PluginID,
			JSONData: jsonData, DecryptedSecureJSONData: secure, Updated: dsUpdated,
		},
	}
}

func TestGRPCHealth(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	ctx := context.Background()

	res, err := c.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContext("firebreak", e.settingsJSON(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusOk || !regexp.MustCompile(`^Firebreak \S+, store chdb, broker ok$`).MatchString(res.Message) {
		t.Fatalf("health = %s %q", res.Status, res.Message)
	}
	var details map[string]string
	if err := json.Unmarshal(res.JSONDetails, &details); err != nil || details["writer"] != "ok" {
		t.Fatalf("health details %s: %v", res.JSONDetails, err)
	}

	// Nothing listens on a fresh free port: the message says what to fix.
	dead, _ := freePort()
	res, err = c.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContext("dead", []byte(`{"url":"http://`+dead+`","timeoutSeconds":2}`), nil)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusError ||
		!strings.HasPrefix(res.Message, "cannot reach Firebreak at http://"+dead) ||
		!strings.Contains(res.Message, "check the URL and that firebreak run is up") {
		t.Fatalf("unreachable health = %s %q", res.Status, res.Message)
	}

	res, _ = c.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pluginContext("empty", []byte(`{}`), nil)})
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "URL is empty") {
		t.Fatalf("empty settings health = %s %q", res.Status, res.Message)
	}
}

// queryAll runs the queries through gRPC over the seeded range.
func queryAll(t *testing.T, c *datasourcetest.TestPluginClient, e *env, queries ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	for i := range queries {
		if queries[i].TimeRange.From.IsZero() {
			queries[i].TimeRange = backend.TimeRange{From: e.rangeFrom, To: e.rangeTo}
		}
		if queries[i].Interval == 0 {
			queries[i].Interval = time.Minute
		}
		if queries[i].MaxDataPoints == 0 {
			queries[i].MaxDataPoints = 1000
		}
	}
	resp, err := c.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: pluginContext("firebreak", e.settingsJSON(), nil),
		Queries:       queries,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func dq(refID, queryType, model string) backend.DataQuery {
	return backend.DataQuery{RefID: refID, QueryType: queryType, JSON: json.RawMessage(model)}
}

func ok(t *testing.T, resp *backend.QueryDataResponse, refID string) backend.DataResponse {
	t.Helper()
	r, found := resp.Responses[refID]
	if !found {
		t.Fatalf("no response for %s", refID)
	}
	if r.Error != nil {
		t.Fatalf("%s: %v", refID, r.Error)
	}
	return r
}

func failed(t *testing.T, resp *backend.QueryDataResponse, refID, want string) {
	t.Helper()
	r := resp.Responses[refID]
	if r.Error == nil || !strings.Contains(r.Error.Error(), want) {
		t.Fatalf("%s: error = %v, want it to contain %q", refID, r.Error, want)
	}
	if r.Status < 400 {
		t.Fatalf("%s: status %d for an error", refID, r.Status)
	}
}

func fieldByName(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	field, i := f.FieldByName(name)
	if i < 0 {
		t.Fatalf("frame %q has no field %q", f.Name, name)
	}
	return field
}

func TestGRPCSQLQuery(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	resp := queryAll(t, c, e,
		dq("table", "sql", `{"rawSql":"SELECT metric_name, labels['service'] AS service, labels, count() AS n, max(time) AS last FROM samples WHERE $__timeFilter(time) AND metric_name = 'fbtest_requests' GROUP BY metric_name, service, labels ORDER BY service, n","format":"table"}`),
		dq("series", "sql", `{"rawSql":"SELECT $__timeGroup(time, $__interval) AS t, labels['instance'] AS instance, avg(value) AS v FROM samples WHERE $__timeFilter(time) AND metric_name = 'fbtest_requests' AND labels['service'] = 'checkout' GROUP BY t, instance ORDER BY t, instance","format":"time_series"}`),
		dq("write", "sql", `{"rawSql":"INSERT INTO series (series_id) VALUES (1)"}`),
		dq("macro", "sql", `{"rawSql":"SELECT 1 WHERE $__timeFilter(time"}`),
		dq("inject", "sql", `{"rawSql":"SELECT $__timeGroup(time, 60 SECOND) OR 1=1 --) FROM samples"}`),
		dq("unsorted", "sql", `{"rawSql":"SELECT $__timeGroup(time, 1m) AS t, labels['instance'] AS instance, avg(value) AS v FROM samples WHERE metric_name = 'fbtest_requests' GROUP BY t, instance ORDER BY t DESC","format":"time_series"}`),
		dq("unknown", "traces", `{}`),
	)

	// Table: one row per checkout/cart series, types as the converters promise.
	table := ok(t, resp, "table").Frames[0]
	if n, _ := table.RowLen(); n != 3 {
		t.Fatalf("table rows = %d, want 3:\n%v", n, table)
	}
	if got := fieldByName(t, table, "labels").Type(); got != data.FieldTypeString {
		t.Fatalf("labels field type %s", got)
	}
	if got := fieldByName(t, table, "last").Type(); got != data.FieldTypeTime {
		t.Fatalf("last field type %s", got)
	}
	nField := fieldByName(t, table, "n")
	for i := range 3 {
		if v := nField.At(i).(*uint64); v == nil || *v != seedPoints {
			t.Fatalf("row %d count = %v, want %d", i, v, seedPoints)
		}
	}
	if !strings.Contains(table.Meta.ExecutedQueryString, "fromUnixTimestamp64Milli(") {
		t.Fatalf("executed query not expanded: %s", table.Meta.ExecutedQueryString)
	}
	if strings.Contains(table.Meta.ExecutedQueryString, "$__") {
		t.Fatalf("macro left in %s", table.Meta.ExecutedQueryString)
	}

	// Time series: long rows become one value field per instance.
	wide := ok(t, resp, "series").Frames[0]
	if wide.Meta.Type != data.FrameTypeTimeSeriesWide || len(wide.Fields) != 3 {
		t.Fatalf("time series frame: type %s, %d fields", wide.Meta.Type, len(wide.Fields))
	}
	want := map[string]float64{"a": 10, "b": 20}
	for _, f := range wide.Fields[1:] {
		w, found := want[f.Labels["instance"]]
		if !found {
			t.Fatalf("unexpected field labels %v", f.Labels)
		}
		if f.Len() < 29 {
			t.Fatalf("instance %s: %d points, want ≥ 29 one-minute buckets", f.Labels["instance"], f.Len())
		}
		for i := 0; i < f.Len(); i++ {
			if v, _ := f.ConcreteAt(i); v != nil && v.(float64) != w {
				t.Fatalf("instance %s point %d = %v, want %v", f.Labels["instance"], i, v, w)
			}
		}
	}

	failed(t, resp, "write", "readonly")
	failed(t, resp, "macro", "$__timeFilter: missing )")
	failed(t, resp, "inject", "not an interval")
	failed(t, resp, "unsorted", "ORDER BY t")
	failed(t, resp, "unknown", `unknown query type "traces": use metrics, sql, anomalies, alerts, incidents, incident, logPatterns, logs, sentiment`)
}

func TestGRPCMetricsQuery(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	resp := queryAll(t, c, e,
		dq("avg", "metrics", `{"selector":"{__name__=\"fbtest_requests\", service=\"checkout\"}","aggregation":"avg","step":"1m"}`),
		dq("count", "metrics", `{"selector":"fbtest_requests{service=\"cart\"}","aggregation":"count","step":"5m"}`),
		dq("auto", "metrics", `{"selector":"{__name__=\"fbtest_latency_seconds\"}"}`),
		dq("many", "metrics", `{"selector":"{__name__=\"fbtest_many\"}","aggregation":"last"}`),
		dq("none", "metrics", `{"selector":"{__name__=\"fbtest_absent\"}"}`),
		dq("bad", "metrics", `{"selector":"{service=~\"(\"}"}`),
		dq("injection", "metrics", `{"selector":"{service=\"x') OR 1=1 --\"}"}`),
		dq("points", "metrics", `{"selector":"fbtest_requests","step":"1ms"}`),
		dq("agg", "metrics", `{"selector":"fbtest_requests","aggregation":"median"}`),
	)

	// A panel gets one wide frame: time, then a value field per series.
	frames := ok(t, resp, "avg").Frames
	if len(frames) != 1 || len(frames[0].Fields) != 3 || frames[0].Meta.Type != data.FrameTypeTimeSeriesWide {
		t.Fatalf("avg: %v, want one wide frame of time and instances a and b", frames)
	}
	want := map[string]float64{
		`fbtest_requests{instance="a", service="checkout"}`: 10,
		`fbtest_requests{instance="b", service="checkout"}`: 20,
	}
	times := frames[0].Fields[0]
	if times.Name != "time" || times.Len() != 30 { // 120 points at 15 s fill 30 one-minute steps
		t.Fatalf("time field %s: %d steps, want 30", times.Name, times.Len())
	}
	if got := times.At(1).(time.Time).Sub(times.At(0).(time.Time)); got != time.Minute {
		t.Fatalf("step between points = %s", got)
	}
	for _, v := range frames[0].Fields[1:] {
		name := v.Config.DisplayNameFromDS
		w, found := want[name]
		if !found {
			t.Fatalf("unexpected field %q", name)
		}
		delete(want, name)
		if v.Name != plugin.FieldValue || v.Labels["service"] != "checkout" || v.Labels["__name__"] != "fbtest_requests" {
			t.Fatalf("value field %s labels %v", v.Name, v.Labels)
		}
		for i := 0; i < v.Len(); i++ {
			if x := floatAt(v, i); x == nil || *x != w {
				t.Fatalf("%s point %d = %v, want %v", name, i, x, w)
			}
		}
	}

	cart := ok(t, resp, "count").Frames
	if len(cart) != 1 {
		t.Fatalf("count: %d frames", len(cart))
	}
	var total float64
	v := fieldByName(t, cart[0], plugin.FieldValue)
	for i := 0; i < v.Len(); i++ {
		total += *floatAt(v, i)
		if c := *floatAt(v, i); c > 20 {
			t.Fatalf("a 5-minute step holds %v points, at most 20 at 15 s", c)
		}
	}
	if total != seedPoints {
		t.Fatalf("counts add up to %v, want %d", total, seedPoints)
	}

	auto := ok(t, resp, "auto").Frames
	if len(auto) != 1 || fieldByName(t, auto[0], plugin.FieldValue).Len() != 30 {
		t.Fatalf("auto step (panel interval 1m): %v", auto)
	}

	many := ok(t, resp, "many").Frames
	if len(many) != 1 || len(many[0].Fields) != 1+plugin.MaxSeries {
		t.Fatalf("many: %d frames, want one of time and the cap of %d series", len(many), plugin.MaxSeries)
	}
	if len(many[0].Meta.Notices) != 1 || !strings.Contains(many[0].Meta.Notices[0].Text, "matches more than 100 series") {
		t.Fatalf("many: notices %v", many[0].Meta.Notices)
	}

	none := ok(t, resp, "none").Frames
	if len(none) != 1 || len(none[0].Meta.Notices) != 1 || !strings.Contains(none[0].Meta.Notices[0].Text, "no series matches") {
		t.Fatalf("none: %v", none)
	}

	failed(t, resp, "bad", "bad selector")
	if r := ok(t, resp, "injection"); len(r.Frames) != 1 || len(r.Frames[0].Meta.Notices) != 1 {
		t.Fatalf("a quote in a label value must only match nothing: %v", r.Frames)
	}
	failed(t, resp, "points", "use a step of at least")
	failed(t, resp, "agg", `aggregation "median" is not one of`)
}

// resource calls one resource path and decodes its JSON body.
func resource(t *testing.T, c *datasourcetest.TestPluginClient, e *env, path string, out any) int {
	t.Helper()
	var got *backend.CallResourceResponse
	p, rawQuery, _ := strings.Cut(path, "?")
	u := p
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	err := c.CallResource(context.Background(), &backend.CallResourceRequest{
		PluginContext: pluginContext(e.dataSourceUID(), e.settingsJSON(), nil),
		Path:          p, Method: "GET", URL: u,
	}, backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
		if got == nil {
			got = r
		} else {
			got.Body = append(got.Body, r.Body...)
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(got.Body, out); err != nil {
		t.Fatalf("%s: HTTP %d body %s: %v", path, got.Status, got.Body, err)
	}
	return got.Status
}

func TestGRPCResources(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	var list []string
	check := func(path string, want ...string) {
		t.Helper()
		list = nil
		if status := resource(t, c, e, path, &list); status != 200 {
			t.Fatalf("%s: HTTP %d", path, status)
		}
		if !slices.Equal(list, want) {
			t.Fatalf("%s = %q, want %q", path, list, want)
		}
	}
	check("metrics", metricLatency, metricMany, metricRequests, metricSpiky)
	check("labels?metric="+metricRequests, "instance", "service")
	check("labels", "idx", "instance", "service")
	check("label-values?label=service", "cart", "checkout", spikyService)
	check("label-values?label=instance&metric="+metricRequests, "a", "b")
	check("label-values?label=__name__&metric="+metricLatency, metricLatency)
	// A quote in a label name is data, not SQL.
	check("label-values?label=x%27%5D%20OR%201%3D1%20--", []string{}...)
	check("labels?metric=x%27%20OR%20%271%27%3D%271", []string{}...)

	var e2 map[string]string
	if status := resource(t, c, e, "label-values", &e2); status != 400 || !strings.Contains(e2["error"], "missing label") {
		t.Fatalf("label-values without label: %d %v", status, e2)
	}
	if status := resource(t, c, e, "nope", &e2); status != 404 {
		t.Fatalf("unknown resource: %d %v", status, e2)
	}
}
