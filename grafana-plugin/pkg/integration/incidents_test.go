package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/plugin"
)

// The incidents, logs and support data go in the way production data
// does: log lines through the JSON lines collector (the log-pattern stage
// mines them into log_templates and per-minute pattern counts), support
// messages through the support collector (redacted, scored), and the
// incident from the detector's spike anomaly and its alert, which the
// correlator inside `firebreak run` groups into an incident with a
// timeline. Everything passes through Kafka and the writer.

const (
	logService     = "fbtest-shop"
	timeoutLines   = 40 // "upstream timeout after N ms" errors, one every 30 s
	declinedLines  = 60 // "card declined for order N" info lines, one every 15 s
	supportService = "payments"
)

var (
	readOnce sync.Once
	readErr  error
	// incidentID is the spike's incident.
	incidentID string
)

// readSeeds sends the logs and support messages and waits until they, the
// mined templates and the spike's incident are stored.
func readSeeds(t *testing.T, e *env) {
	t.Helper()
	detections(t, e)
	readOnce.Do(func() { readErr = e.seedReads() })
	if readErr != nil {
		t.Fatal(readErr)
	}
}

func (e *env) post(path, contentType string, body []byte) error {
	resp, err := http.Post(e.base+path, contentType, bytes.NewReader(body))
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, msg)
	}
	return nil
}

func (e *env) seedReads() error {
	start := e.seedEnd.Add(-20 * time.Minute)
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	for i := range declinedLines {
		enc.Encode(map[string]any{"time": start.Add(time.Duration(i) * 15 * time.Second).Format(time.RFC3339Nano),
			"service": logService, "level": "info", "message": fmt.Sprintf("card declined for order %d", 1000+i), "labels": map[string]string{"pod": "shop-1"}})
	}
	for i := range timeoutLines {
		enc.Encode(map[string]any{"time": start.Add(time.Duration(i)*30*time.Second + 7*time.Second).Format(time.RFC3339Nano),
			"service": logService, "level": "error", "message": fmt.Sprintf("upstream Timeout after %d ms calling payments", 5000+i)})
	}
	enc.Encode(map[string]any{"time": start.Add(90 * time.Second).Format(time.RFC3339Nano),
		"service": logService, "level": "warn", "message": "card of O'Brien needs 3-D Secure"})
	if err := e.post("/api/v1/logs", "application/x-ndjson", lines.Bytes()); err != nil {
		return err
	}

	var msgs []map[string]any
	for i := range 12 {
		text := "thanks, the payment worked fine"
		if i%3 == 0 {
			text = "my payment failed twice and I was charged, this is terrible"
		}
		msgs = append(msgs, map[string]any{"id": fmt.Sprintf("fbtest-%d", i), "time": start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"channel": []string{"chat", "email"}[i%2], "service": supportService, "text": text, "language": "en"})
	}
	b, _ := json.Marshal(msgs)
	if err := e.post("/api/v1/support", "application/json", b); err != nil {
		return err
	}

	total := declinedLines + timeoutLines + 1
	checks := []struct {
		what, sql string
		want      int
	}{
		{"the log lines", "SELECT count() FROM logs FINAL WHERE service = '" + logService + "'", total},
		{"the support messages", "SELECT count() FROM support_messages FINAL WHERE service = '" + supportService + "'", len(msgs)},
		{"every line's template", "SELECT count() FROM log_templates FINAL WHERE service = '" + logService + "'", total},
		{"closed minutes of both templates", "SELECT uniqExact(template_id) FROM patterns FINAL WHERE kind = 'minute' AND service = '" + logService + "'", 2},
		{"the spike's incident", "SELECT count() FROM incidents FINAL WHERE has(services, '" + spikyService + "')", 1},
		{"the incident's timeline", "SELECT count() FROM incident_events FINAL WHERE incident_id IN (SELECT id FROM incidents FINAL WHERE has(services, '" + spikyService + "'))", 2},
	}
	deadline := time.Now().Add(150 * time.Second)
	for _, c := range checks {
		for {
			n, err := e.count(c.sql)
			if err != nil {
				return err
			}
			if n >= c.want {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("waiting for %s: %d rows, want ≥ %d (%s)", c.what, n, c.want, c.sql)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	var out struct {
		Rows [][]string `json:"rows"`
	}
	resp, err := http.Post(e.base+"/api/v1/sql", "text/plain", strings.NewReader("SELECT id FROM incidents FINAL WHERE has(services, '"+spikyService+"') ORDER BY opened_at DESC LIMIT 1"))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Rows) != 1 {
		return fmt.Errorf("reading the incident id: %v %v", err, out)
	}
	incidentID = out.Rows[0][0]
	return nil
}

func TestGRPCIncidents(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	readSeeds(t, e)
	resp := queryAll(t, c, e,
		dq("table", "incidents", `{"service":"$__all","limit":10}`),
		dq("filtered", "incidents", `{"service":"payments","severity":["P1","P2","P3","P4"],"state":"open"}`),
		dq("none", "incidents", `{"service":"x' OR '1'='1"}`),
		dq("anno", "incidents", `{"format":"annotations","service":"All"}`),
		dq("badsev", "incidents", `{"severity":["P9"]}`),
		dq("badstate", "incidents", `{"state":"firing"}`),
	)
	table := ok(t, resp, "table").Frames[0]
	var cols []string
	for _, f := range table.Fields {
		cols = append(cols, f.Name)
	}
	if strings.Join(cols, ",") != "id,title,state,severity,services,root_cause,opened_at,updated_at,mitigated_at,resolved_at,mtta,mttr,signals,report" {
		t.Fatalf("columns %v", cols)
	}
	row := -1
	for i := 0; i < table.Fields[0].Len(); i++ {
		if table.Fields[0].At(i) == incidentID {
			row = i
		}
	}
	if row < 0 {
		t.Fatalf("incident %s not listed: %v", incidentID, table)
	}
	if !strings.Contains(fieldByName(t, table, "services").At(row).(string), spikyService) ||
		fieldByName(t, table, "root_cause").At(row) != spikyService ||
		fieldByName(t, table, "report").At(row) != e.base+"/api/v1/incidents/"+incidentID+"/report?format=html" {
		t.Fatalf("incident row %d: %v", row, table)
	}
	if l := fieldByName(t, table, "id").Config.Links; len(l) != 1 || l[0].URL != e.base+"/api/v1/incidents/${__data.fields.id}/report?format=html" {
		t.Fatalf("id link %+v", l)
	}
	if u := fieldByName(t, table, "mttr").Config.Unit; u != "s" {
		t.Fatalf("mttr unit %q", u)
	}
	if n, _ := ok(t, resp, "filtered").Frames[0].RowLen(); n < 1 {
		t.Fatal("the open payments incident did not pass its own filters")
	}
	if n, _ := ok(t, resp, "none").Frames[0].RowLen(); n != 0 {
		t.Fatalf("a quote in the service matched %d incidents", n)
	}
	// The seed's silences open incidents of their own once noticed: the
	// payments one is among the annotations, not necessarily first.
	anno := ok(t, resp, "anno").Frames[0]
	payments := false
	for i := range anno.Rows() {
		payments = payments || strings.Contains(fieldByName(t, anno, "tags").At(i).(string), spikyService)
	}
	if anno.Meta.DataTopic != data.DataTopicAnnotations || fieldByName(t, anno, "timeEnd").Type() != data.FieldTypeTime || !payments {
		t.Fatalf("annotations %v", anno)
	}
	failed(t, resp, "badsev", `severity "P9" is not one of P1, P2, P3, P4`)
	failed(t, resp, "badstate", `state "firing" is not one of open, mitigated, resolved`)
}

func TestGRPCIncidentViews(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	readSeeds(t, e)
	model := func(view string) string { return fmt.Sprintf(`{"incidentId":%q,"view":%q}`, incidentID, view) }
	resp := queryAll(t, c, e,
		dq("timeline", "incident", model("timeline")),
		dq("states", "incident", model("states")),
		dq("roots", "incident", model("root_causes")),
		dq("series", "incident", model("series")),
		dq("summary", "incident", model("summary")),
		dq("missing", "incident", `{"incidentId":"inc-20000101-0000-00000000","view":"timeline"}`),
		dq("empty", "incident", `{"view":"timeline"}`),
		dq("unset", "incident", `{"incidentId":"$incident"}`),
		dq("inject", "incident", `{"incidentId":"inc-1' OR '1'='1"}`),
		dq("traversal", "incident", `{"incidentId":"inc-../../sql"}`),
		dq("badview", "incident", model("pie")),
	)
	tl := ok(t, resp, "timeline").Frames[0]
	if n, _ := tl.RowLen(); n < 2 {
		t.Fatalf("timeline: %v", tl)
	}
	times := fieldByName(t, tl, "time")
	for i := 1; i < times.Len(); i++ {
		if times.At(i).(time.Time).Before(times.At(i - 1).(time.Time)) {
			t.Fatalf("timeline not in time order: %v", tl)
		}
	}
	if fieldByName(t, tl, "kind").At(0) != "opened" {
		t.Fatalf("timeline starts with %v", fieldByName(t, tl, "kind").At(0))
	}

	st := ok(t, resp, "states").Frames[0]
	svc := fieldByName(t, st, spikyService)
	if st.Fields[0].Type() != data.FieldTypeTime || svc.Type() != data.FieldTypeString || svc.Len() < 2 {
		t.Fatalf("states frame: %v", st)
	}
	seen := map[string]bool{}
	for i := 0; i < svc.Len(); i++ {
		seen[svc.At(i).(string)] = true
	}
	if !seen["anomalous"] && !seen["alerting"] {
		t.Fatalf("payments never anomalous or alerting: %v", seen)
	}

	roots := ok(t, resp, "roots").Frames[0]
	if fieldByName(t, roots, "rank").At(0) != int64(1) || fieldByName(t, roots, "service").At(0) != spikyService ||
		fieldByName(t, roots, "onset").At(0).(*time.Time) == nil || fieldByName(t, roots, "explanation").At(0) == "" {
		t.Fatalf("root causes: %v", roots)
	}

	series := ok(t, resp, "series").Frames
	name := `fbtest_spiky_seconds{instance="p1", service="payments"}`
	var names []string
	for _, f := range series[0].Fields[1:] {
		names = append(names, f.Config.DisplayNameFromDS)
	}
	if len(series) != 1 || strings.Join(names, "|") != strings.Join([]string{name, name + " expected", name + " lower", name + " upper", name + " score"}, "|") {
		t.Fatalf("%d series frames, fields %q; want one wide frame of the series and its band", len(series), names)
	}
	if u := fieldsByDisplayName(series)[name+" upper"][1]; u == nil || u.Len() == 0 || u.Config.Custom["fillBelowTo"] != name+" lower" {
		t.Fatalf("upper field %v", u)
	}

	sum := ok(t, resp, "summary").Frames[0]
	if n, _ := sum.RowLen(); n != 1 || fieldByName(t, sum, "id").At(0) != incidentID ||
		fieldByName(t, sum, "report").At(0) != e.base+"/api/v1/incidents/"+incidentID+"/report?format=html" {
		t.Fatalf("summary: %v", sum)
	}

	failed(t, resp, "missing", "incident inc-20000101-0000-00000000 not found")
	if resp.Responses["missing"].Status != 404 {
		t.Fatalf("missing incident: status %d", resp.Responses["missing"].Status)
	}
	failed(t, resp, "empty", "choose an incident")
	failed(t, resp, "unset", "the variable $incident has no value")
	failed(t, resp, "inject", "is not inc-")
	failed(t, resp, "traversal", "is not inc-")
	failed(t, resp, "badview", `view "pie" is not one of timeline, states, root_causes, series, summary`)
}

func TestGRPCLogPatternsAndLogs(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	readSeeds(t, e)
	resp := queryAll(t, c, e,
		dq("top", "logPatterns", `{"service":"`+logService+`","mode":"top"}`),
		dq("new", "logPatterns", `{"service":"`+logService+`","mode":"new"}`),
		dq("rates", "logPatterns", `{"service":"`+logService+`","mode":"rates","limit":1}`),
		dq("logs", "logs", `{"service":"`+logService+`","search":"TIMEOUT after","limit":5}`),
		dq("errors", "logs", `{"service":"`+logService+`","severity":"error"}`),
		dq("quote", "logs", `{"search":"o'brien"}`),
		dq("inject", "logs", `{"service":"`+logService+`","search":"x') OR 1=1 --"}`),
		dq("badsev", "logs", `{"severity":"loud"}`),
		dq("badtemplate", "logs", `{"templateId":"1 OR 1=1"}`),
		dq("biglimit", "logs", `{"limit":5001}`),
		dq("badmode", "logPatterns", `{"mode":"all"}`),
	)
	top := ok(t, resp, "top").Frames[0]
	if n, _ := top.RowLen(); n < 2 || fieldByName(t, top, "template").At(0) != "card declined for order <*>" ||
		fieldByName(t, top, "severity").At(0) != "info" || fieldByName(t, top, "count").At(0).(int64) < 1 {
		t.Fatalf("top templates: %v", top)
	}
	var timeoutID string
	for i := 0; i < top.Fields[0].Len(); i++ {
		if strings.HasPrefix(fieldByName(t, top, "template").At(i).(string), "upstream Timeout") {
			timeoutID = fieldByName(t, top, "template_id").At(i).(string)
			if fieldByName(t, top, "severity").At(i) != "error" {
				t.Fatalf("timeout template severity %v", fieldByName(t, top, "severity").At(i))
			}
		}
	}
	if len(timeoutID) != 16 {
		t.Fatalf("no timeout template in %v", top)
	}
	if n, _ := ok(t, resp, "new").Frames[0].RowLen(); n < 2 {
		t.Fatalf("both templates were first seen in the range: %v", ok(t, resp, "new").Frames[0])
	}
	rates := ok(t, resp, "rates").Frames
	if len(rates) != 1 || rates[0].Meta.Type != data.FrameTypeTimeSeriesMulti || rates[0].Fields[1].Labels["service"] != logService ||
		rates[0].Fields[1].Len() < 2 {
		t.Fatalf("rates: %v", rates)
	}

	logs := ok(t, resp, "logs").Frames[0]
	if logs.Meta.Type != data.FrameTypeLogLines || logs.Meta.PreferredVisualization != data.VisTypeLogs {
		t.Fatalf("logs meta %+v", logs.Meta)
	}
	if n, _ := logs.RowLen(); n != 5 || fieldByName(t, logs, "severity").At(0) != "error" ||
		!strings.Contains(fieldByName(t, logs, "body").At(0).(string), "upstream Timeout after 5039 ms") {
		t.Fatalf("logs: %v", logs)
	}
	if n, _ := ok(t, resp, "errors").Frames[0].RowLen(); n != timeoutLines {
		t.Fatalf("error lines: %d, want %d", n, timeoutLines)
	}
	if n, _ := ok(t, resp, "quote").Frames[0].RowLen(); n != 1 {
		t.Fatalf("the O'Brien line: %d", n)
	}
	if n, _ := ok(t, resp, "inject").Frames[0].RowLen(); n != 0 {
		t.Fatalf("injection matched %d lines", n)
	}
	failed(t, resp, "badsev", `severity "loud" is not one of`)
	failed(t, resp, "badtemplate", "neither 16 hex digits")
	failed(t, resp, "biglimit", "limit 5001 is not between 1 and 5000")
	failed(t, resp, "badmode", `mode "all" is not one of top, new, rates`)

	// A template's lines, by the id the patterns table shows.
	resp = queryAll(t, c, e, dq("tpl", "logs", `{"templateId":"`+timeoutID+`"}`))
	if n, _ := ok(t, resp, "tpl").Frames[0].RowLen(); n != timeoutLines {
		t.Fatalf("lines of template %s: %d, want %d", timeoutID, n, timeoutLines)
	}
}

func TestGRPCSentimentAndAnnotations(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	readSeeds(t, e)
	resp := queryAll(t, c, e,
		dq("series", "sentiment", `{"service":"payments","view":"series"}`),
		dq("channels", "sentiment", `{"groupBy":"channel"}`),
		dq("samples", "sentiment", `{"service":"payments","view":"samples","limit":3}`),
		dq("inject", "sentiment", `{"channel":"chat' OR '1'='1","view":"samples"}`),
		dq("badgroup", "sentiment", `{"groupBy":"language"}`),
		dq("alerts", "alerts", `{"format":"annotations","service":"payments"}`),
		dq("alerthistory", "alerts", `{"format":"annotations","mode":"history"}`),
	)
	frames := ok(t, resp, "series").Frames
	if len(frames) != 2 || frames[0].Name != "payments messages" || frames[1].Name != "payments negative share" ||
		frames[1].Fields[1].Config.Unit != "percentunit" || frames[0].Fields[1].Labels["service"] != "payments" {
		t.Fatalf("sentiment series: %v", frames)
	}
	var msgs float64
	for i := 0; i < frames[0].Fields[1].Len(); i++ {
		msgs += frames[0].Fields[1].At(i).(float64)
	}
	if msgs != 12 {
		t.Fatalf("messages add up to %v, want 12", msgs)
	}
	if n := len(ok(t, resp, "channels").Frames); n != 4 {
		t.Fatalf("by channel: %d frames, want 2 channels × 2", n)
	}
	samples := ok(t, resp, "samples").Frames[0]
	if n, _ := samples.RowLen(); n != 3 || fieldByName(t, samples, "label").At(0) != "negative" ||
		fieldByName(t, samples, "sentiment").At(0).(float64) >= 0 {
		t.Fatalf("samples: %v", samples)
	}
	if n, _ := ok(t, resp, "inject").Frames[0].RowLen(); n != 0 {
		t.Fatalf("injection matched %d messages", n)
	}
	failed(t, resp, "badgroup", `group by "language" is not one of service, channel`)

	anno := ok(t, resp, "alerts").Frames[0]
	if anno.Meta.DataTopic != data.DataTopicAnnotations || fieldByName(t, anno, "title").At(0) == "" ||
		fieldByName(t, anno, "text").At(0) == "" || !strings.Contains(fieldByName(t, anno, "tags").At(0).(string), "payments,anomaly") ||
		fieldByName(t, anno, "timeEnd").Type() != data.FieldTypeTime {
		t.Fatalf("alert annotations: %v", anno)
	}
	failed(t, resp, "alerthistory", "use mode current")
}

func TestGRPCVariableResources(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	readSeeds(t, e)
	var services []string
	if status := resource(t, c, e, "services", &services); status != 200 {
		t.Fatalf("services: HTTP %d", status)
	}
	for _, want := range []string{"cart", "checkout", spikyService, logService} {
		if !contains(services, want) {
			t.Fatalf("services %q lack %s", services, want)
		}
	}
	var incs []plugin.Option
	if status := resource(t, c, e, "incidents", &incs); status != 200 || len(incs) < 1 {
		t.Fatalf("incidents: HTTP %d %v", status, incs)
	}
	found := false
	for _, o := range incs {
		if o.Value == incidentID && strings.HasSuffix(o.Text, " ("+incidentID+")") {
			found = true
		}
	}
	if !found {
		t.Fatalf("incident %s not offered: %v", incidentID, incs)
	}
	if status := resource(t, c, e, "incidents?service=nope", &incs); status != 200 || len(incs) != 0 {
		t.Fatalf("incidents of an unknown service: %v", incs)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestBuiltPluginNewQueryTypes runs one query of each new type through the
// built dist/ executable, as Grafana starts it.
func TestBuiltPluginNewQueryTypes(t *testing.T) {
	e := firebreak(t)
	bin := harness(t, e.root)
	dist := distDir(t, e.root)
	readSeeds(t, e)
	settings := filepath.Join(t.TempDir(), "ds.json")
	b, _ := json.Marshal(map[string]any{"uid": "firebreak", "id": 1, "orgId": 1, "name": "Firebreak", "type": "firebreak-aiops-datasource",
		"jsonData": map[string]any{"url": e.base, "timeoutSeconds": 20}})
	if err := os.WriteFile(settings, b, 0o600); err != nil {
		t.Fatal(err)
	}
	from, to := e.rangeFrom.UTC().Format(time.RFC3339), e.rangeTo.UTC().Format(time.RFC3339)
	cases := []struct {
		queryType, model string
		check            func(r harnessResult) string
	}{
		{"incidents", `{"refId":"A","service":"payments"}`, func(r harnessResult) string {
			if len(r.Frames) != 1 || r.Frames[0].RowCount < 1 || r.Frames[0].Fields[0].Name != "id" {
				return "want a table with the incident"
			}
			return ""
		}},
		{"incident", `{"refId":"A","incidentId":"` + incidentID + `","view":"states"}`, func(r harnessResult) string {
			if len(r.Frames) != 1 || r.Frames[0].Fields[0].Type != "time.Time" || len(r.Frames[0].Fields) < 2 || r.Frames[0].Fields[1].Type != "string" {
				return "want time + one string field per service"
			}
			return ""
		}},
		{"incident", `{"refId":"A","incidentId":"inc-20000101-0000-00000000","view":"summary"}`, func(r harnessResult) string {
			if !strings.Contains(r.Error, "not found") {
				return "want a not-found error"
			}
			return ""
		}},
		{"logPatterns", `{"refId":"A","service":"` + logService + `","mode":"rates"}`, func(r harnessResult) string {
			if len(r.Frames) != 2 || r.Frames[0].Meta == nil || r.Frames[0].Meta.Type != "timeseries-multi" {
				return "want one time series frame per template"
			}
			return ""
		}},
		{"logs", `{"refId":"A","service":"` + logService + `","search":"declined","limit":10}`, func(r harnessResult) string {
			if len(r.Frames) != 1 || r.Frames[0].RowCount != 10 || r.Frames[0].Meta == nil || r.Frames[0].Meta.Type != "log-lines" ||
				r.Frames[0].Fields[1].Name != "body" {
				return "want 10 log lines in a log-lines frame"
			}
			return ""
		}},
		{"sentiment", `{"refId":"A","view":"samples","service":"payments"}`, func(r harnessResult) string {
			if len(r.Frames) != 1 || r.Frames[0].RowCount != 12 {
				return "want the 12 messages"
			}
			return ""
		}},
		{"alerts", `{"refId":"A","format":"annotations","service":"payments"}`, func(r harnessResult) string {
			if len(r.Frames) != 1 || r.Frames[0].Meta == nil || r.Frames[0].Meta.DataTopic != "annotations" {
				return "want an annotations frame"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.queryType, func(t *testing.T) {
			cmd := execHarness(bin, "--dist", dist, "--settings", settings, "--json", "--timeout", "60s",
				"query", "--query-type", c.queryType, "--from", from, "--to", to, "--interval", "1m", "--json", c.model)
			var out harnessOut
			stdout, err := cmd.Output()
			if err != nil || json.Unmarshal(stdout, &out) != nil {
				t.Fatalf("grafana-harness: %v\n%s", err, stdout)
			}
			r := out.Results["A"]
			if msg := c.check(r); msg != "" {
				t.Fatalf("%s %s: %s; got %+v", c.queryType, c.model, msg, r)
			}
		})
	}
}
