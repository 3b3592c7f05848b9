package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
)

// TestDashboards runs every provisioned dashboard (dashboards/Firebreak/*.json)
// the way Grafana would against `firebreak demo --speed 20`: template
// variables resolved through the plugin (first value; All where it is the
// default), each panel's targets and each annotation interpolated as
// Grafana's template service does before the backend sees them, then sent
// through the plugin's QueryData over gRPC. Every query must answer without
// error and with at least one non-empty frame. It also times the NOC wall's
// panels issued at once, as a browser loading the wall does.
//
// The demo's scripted disk fill and payment outage give incidents, log
// patterns and complaint surges within one or two real minutes at 20x. Its
// timestamps run ahead of the wall clock, so "now" for the dashboards'
// ranges is the store's newest point.
// demoUID is the data source uid the dashboards test configures: the SDK
// caches one instance per uid and update time, and the other tests' uid
// "firebreak" points at another firebreak.
const demoUID = "firebreak-demo"

func TestDashboards(t *testing.T) {
	if testing.Short() {
		t.Skip("starts firebreak demo and waits for its scripted incidents (about 2 minutes)")
	}
	d := startDemo(t)
	c := grpcPlugin(t)
	d.waitForData(t)

	root := d.root
	files, err := filepath.Glob(filepath.Join(root, "dashboards", "Firebreak", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: run `npm run generate` in dashboards/ (%v)", filepath.Join(root, "dashboards", "Firebreak"), err)
	}
	now := d.now(t)
	t.Logf("dashboards' now: %s (wall clock %s)", now.Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))

	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var db gDashboard
		if err := json.Unmarshal(b, &db); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			r := db.timeRange(t, now)
			vars := resolveVariables(t, c, d, db, r)
			t.Logf("variables: %v", vars)
			for _, p := range db.allPanels() {
				t.Run(p.Title, func(t *testing.T) {
					queries := p.dataQueries(t, vars, r)
					if len(queries) == 0 {
						t.Fatalf("%s / %s: no query", name, p.Title)
					}
					resp := d.query(t, c, queries)
					checkAnswers(t, name, p.Title, queries, resp)
				})
			}
			for _, a := range db.Annotations.List {
				if a.BuiltIn != 0 || a.Target == nil {
					continue
				}
				t.Run("annotation "+a.Name, func(t *testing.T) {
					p := gPanel{Title: "annotation " + a.Name, Targets: []map[string]any{a.Target}}
					queries := p.dataQueries(t, vars, r)
					resp := d.query(t, c, queries)
					checkAnswers(t, name, p.Title, queries, resp)
				})
			}
		})
	}

	t.Run("NOC wall answers at once", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "dashboards", "Firebreak", "noc-overview.json"))
		if err != nil {
			t.Fatal(err)
		}
		var db gDashboard
		if err := json.Unmarshal(b, &db); err != nil {
			t.Fatal(err)
		}
		r := db.timeRange(t, now)
		vars := resolveVariables(t, c, d, db, r)
		var requests [][]backend.DataQuery
		var names []string
		for _, p := range db.allPanels() {
			requests = append(requests, p.dataQueries(t, vars, r))
			names = append(names, p.Title)
		}
		for _, a := range db.Annotations.List {
			if a.BuiltIn == 0 && a.Target != nil {
				requests = append(requests, (&gPanel{Title: a.Name, Targets: []map[string]any{a.Target}}).dataQueries(t, vars, r))
				names = append(names, "annotation "+a.Name)
			}
		}
		// Five rounds, as five refreshes of the wall. The best round is the
		// figure: on these shared 2-core machines the demo at 20x and other
		// work compete for the CPU, which a round may catch.
		var rounds []time.Duration
		each := make([][]time.Duration, len(requests)) // per request, per round
		for range 5 {
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, len(requests))
			for i, qs := range requests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					began := time.Now()
					resp, err := c.QueryData(context.Background(), &backend.QueryDataRequest{
						PluginContext: pluginContext(demoUID, d.settingsJSON(), nil), Queries: qs,
					})
					each[i] = append(each[i], time.Since(began))
					if err != nil {
						errs <- err
						return
					}
					for ref, r := range resp.Responses {
						if r.Error != nil {
							errs <- fmt.Errorf("%s: %v", ref, r.Error)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			rounds = append(rounds, time.Since(start))
		}
		for i, ds := range each {
			sorted := slices.Clone(ds)
			slices.Sort(sorted)
			t.Logf("  %-40s best %v, median %v", names[i], sorted[0].Round(time.Millisecond), sorted[len(sorted)/2].Round(time.Millisecond))
		}
		best := slices.Min(rounds)
		sorted := slices.Clone(rounds)
		slices.Sort(sorted)
		t.Logf("NOC wall: %d panel/annotation requests issued concurrently, all answered in %v at best, median %v (rounds %v)",
			len(requests), best.Round(time.Millisecond), sorted[len(sorted)/2].Round(time.Millisecond), rounds)
		// The target (≤ 1 s) is asserted only on a machine with CPU to spare:
		// with the run queue far above the cores, the figure measures the
		// other work, not the wall's queries.
		if load, ok := loadAverage(); ok && load > 2*float64(runtime.NumCPU()) {
			t.Logf("NOC wall timing not asserted: load average %.1f on %d CPUs (best %v; target ≤ 1 s)", load, runtime.NumCPU(), best.Round(time.Millisecond))
		} else if best > time.Second {
			t.Errorf("NOC wall answered in %v at best, target ≤ 1 s", best)
		}
	})
}

// loadAverage is the 1-minute load average (Linux), if readable.
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// demo is `firebreak demo` on free ports.
type demo struct {
	root, base string
	logPath    string
}

func (d *demo) settingsJSON() []byte {
	b, _ := json.Marshal(map[string]any{"url": d.base, "timeoutSeconds": 30})
	return b
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// FIREBREAK_BIN runs a firebreak built beforehand (e.g. while the tree
	// is mid-edit elsewhere); by default the test builds this tree's.
	bin := os.Getenv("FIREBREAK_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "firebreak")
		build := exec.Command("go", "build", "-o", bin, "./cmd/firebreak")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building firebreak in %s: %v\n%s", root, err, out)
		}
	}
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{root: root, base: "http://" + addr, logPath: filepath.Join(tmp, "firebreak.log")}
	logf, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "demo", "--speed", "20", "--demo-instances", "2", "--data-dir", filepath.Join(tmp, "data"),
		"--http-addr", addr, "--broker-listen", "127.0.0.1:0", "--partitions", "2", "--batch-wait", "200ms", "--log-level", "warn",
		"--otlp-grpc-addr", "", "--syslog-udp-addr", "", "--syslog-tcp-addr", "")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("firebreak demo log (end):\n%s", d.logTail())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(d.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case <-done:
			if strings.Contains(d.logTail(), "chDB library not installed") {
				missing(t, "embedded ClickHouse engine not installed: run `go run ./cmd/firebreak setup` at the repository root, or set CHDB_LIB_PATH")
			}
			t.Fatalf("firebreak demo exited before it was ready:\n%s", d.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("firebreak demo not healthy after 90 s:\n%s", d.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *demo) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// scalar runs one single-value SQL query on the demo's API.
func (d *demo) scalar(sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/api/v1/sql?query="+url.QueryEscape(sql), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Rows  [][]any `json:"rows"`
		Error string  `json:"error"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // 64-bit integers exactly, not as floats
	if err := dec.Decode(&r); err != nil || len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		return "", fmt.Errorf("%s: HTTP %d %s %v", sql, resp.StatusCode, r.Error, err)
	}
	return fmt.Sprint(r.Rows[0][0]), nil
}

// waitForData waits until the demo has stored what the dashboards show:
// an incident with its timeline, support messages and a complaint surge,
// logs and their patterns, bands, and firebreak's own metrics.
func (d *demo) waitForData(t *testing.T) {
	t.Helper()
	checks := []struct{ what, sql string }{
		// The payment outage's incident: anomalous series (the key series
		// view), a new error log template and complaints, all for its services.
		{"the payment outage's incident", "SELECT count() FROM incidents FINAL WHERE has(services, 'payment')"},
		{"an incident's timeline", "SELECT count() FROM incident_events"},
		{"support messages", "SELECT count() FROM support_messages"},
		{"a complaint surge", "SELECT count() FROM anomalies WHERE kind = 'complaint_surge'"},
		{"logs", "SELECT count() FROM logs"},
		{"log patterns", "SELECT count() FROM patterns"},
		{"a predictive alert", "SELECT count() FROM anomalies WHERE kind = 'predictive'"},
		{"firebreak's own metrics (self-scrape, job=\"firebreak\")", "SELECT count() FROM series FINAL WHERE labels['job'] = 'firebreak'"},
	}
	start := time.Now()
	deadline := start.Add(240 * time.Second)
	for _, c := range checks {
		for {
			v, err := d.scalar(c.sql)
			if err != nil {
				t.Fatalf("waiting for %s: %v", c.what, err)
			}
			if n, _ := strconv.Atoi(v); n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s after %v (%s): the demo's scripted incidents did not play out", c.what, time.Since(start).Round(time.Second), c.sql)
			}
			time.Sleep(time.Second)
		}
	}
	// The incident analyst opens on the newest open incident (the plugin's
	// incidents() variable: open first, newest first); its key series are
	// the open anomalies of its services around it (GET
	// /api/v1/incidents/{id}/series), which a just-opened incident may not
	// have yet: wait until the newest one has them, as an analyst would
	// look a little after the page.
	newestHasSeries := `WITH (
		  SELECT (services, opened_at) FROM incidents FINAL
		  ORDER BY indexOf(['open', 'mitigated', 'resolved'], state), opened_at DESC LIMIT 1
		) AS pick
		SELECT count() FROM anomalies FINAL
		WHERE kind = 'anomaly' AND state = 'open' AND has(pick.1, service) AND time >= pick.2 - INTERVAL 30 MINUTE`
	for {
		v, err := d.scalar(newestHasSeries)
		if err != nil {
			t.Fatalf("waiting for the newest incident's anomalous series: %v", err)
		}
		if n, _ := strconv.Atoi(v); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the newest incident has no open anomaly of its services after %v (%s)", time.Since(start).Round(time.Second), newestHasSeries)
		}
		time.Sleep(time.Second)
	}
	t.Logf("demo data ready after %v", time.Since(start).Round(time.Second))
}

// now is the end of the dashboards' ranges: the newest of the wall clock
// and the store's newest sample (the demo's event time runs ahead at 20x).
func (d *demo) now(t *testing.T) time.Time {
	t.Helper()
	v, err := d.scalar("SELECT toUnixTimestamp64Milli(max(time)) FROM samples_data")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("newest sample %q: %v", v, err)
	}
	newest := time.UnixMilli(ms)
	return maxTime(newest, time.Now()).Add(time.Minute).Truncate(time.Second)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (d *demo) query(t *testing.T, c *datasourcetest.TestPluginClient, queries []backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := c.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: pluginContext(demoUID, d.settingsJSON(), nil),
		Queries:       queries,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// checkAnswers fails unless every query answered without error and with a
// frame holding rows.
func checkAnswers(t *testing.T, dashboard, panel string, queries []backend.DataQuery, resp *backend.QueryDataResponse) {
	t.Helper()
	for _, q := range queries {
		r, found := resp.Responses[q.RefID]
		where := fmt.Sprintf("%s / %s / %s (%s)", dashboard, panel, q.RefID, q.QueryType)
		if !found {
			t.Errorf("%s: no response", where)
			continue
		}
		if r.Error != nil {
			t.Errorf("%s: %v\nquery: %s", where, r.Error, q.JSON)
			continue
		}
		rows := 0
		for _, f := range r.Frames {
			if n, err := f.RowLen(); err == nil {
				rows = max(rows, n)
			}
		}
		if rows == 0 {
			t.Errorf("%s: no frame with rows (%d frames%s)\nquery: %s", where, len(r.Frames), notices(r.Frames), q.JSON)
		}
	}
}

func notices(frames data.Frames) string {
	var out []string
	for _, f := range frames {
		if f.Meta != nil {
			for _, n := range f.Meta.Notices {
				out = append(out, n.Text)
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; notices: " + strings.Join(out, "; ")
}

// The parts of Grafana's dashboard JSON the test reads.
type gDashboard struct {
	UID  string `json:"uid"`
	Time struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Panels     []gPanel `json:"panels"`
	Templating struct {
		List []gVariable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name    string         `json:"name"`
			BuiltIn int            `json:"builtIn"`
			Target  map[string]any `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
}

type gPanel struct {
	Title    string           `json:"title"`
	Type     string           `json:"type"`
	Interval string           `json:"interval"`
	Targets  []map[string]any `json:"targets"`
	Panels   []gPanel         `json:"panels"`
}

type gVariable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	IncludeAll bool   `json:"includeAll"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

// allPanels lists panels, those inside rows included.
func (db gDashboard) allPanels() []gPanel {
	var out []gPanel
	for _, p := range db.Panels {
		if p.Type == "row" {
			out = append(out, p.Panels...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// gRange is a dashboard's time range resolved to times.
type gRange struct{ from, to time.Time }

// timeRange reads "now-6h" .. "now" relative to now.
func (db gDashboard) timeRange(t *testing.T, now time.Time) gRange {
	t.Helper()
	rel := func(s string) time.Time {
		if s == "now" || s == "" {
			return now
		}
		m := regexp.MustCompile(`^now-(\d+)([smhdw])$`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("%s: cannot read the time %q", db.UID, s)
		}
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return now.Add(-time.Duration(n) * unit)
	}
	return gRange{from: rel(db.Time.From), to: rel(db.Time.To)}
}

// varValue is a variable's value: one, several, or All with a custom value
// Grafana inserts unformatted.
type varValue struct {
	values []string
	multi  bool
	all    string // custom allValue, when All is picked and the variable has one
}

func (v varValue) String() string {
	if v.all != "" {
		return "All(" + v.all + ")"
	}
	return strings.Join(v.values, ",")
}

var sqlVariableQuery = regexp.MustCompile(`(?is)^\s*\(?\s*(select|with)\b`)

// resolveVariables gives each variable the value Grafana would on load:
// All where the default is All, else the first value its query lists (the
// variable queries run through the plugin, SQL ones as sql queries with the
// variables before them replaced).
func resolveVariables(t *testing.T, c *datasourcetest.TestPluginClient, d *demo, db gDashboard, r gRange) map[string]varValue {
	t.Helper()
	vars := map[string]varValue{}
	for _, v := range db.Templating.List {
		query, _ := v.Query.(string)
		var options []string
		switch v.Type {
		case "custom":
			for _, o := range strings.Split(query, ",") {
				options = append(options, strings.TrimSpace(o))
			}
		case "textbox", "constant":
			vars[v.Name] = varValue{values: []string{query}}
			continue
		case "query":
			if sqlVariableQuery.MatchString(query) {
				q := backend.DataQuery{RefID: "variable", QueryType: "sql", TimeRange: backend.TimeRange{From: r.from, To: r.to},
					Interval: time.Minute, MaxDataPoints: 1000}
				q.JSON, _ = json.Marshal(map[string]any{"refId": "variable", "queryType": "sql", "format": "table",
					"rawSql": interpolate(strings.TrimSpace(query), vars, r, time.Minute, sqlFormat)})
				resp := d.query(t, c, []backend.DataQuery{q})
				res := resp.Responses["variable"]
				if res.Error != nil {
					t.Fatalf("variable %s: %v\nquery: %s", v.Name, res.Error, q.JSON)
				}
				if len(res.Frames) > 0 && len(res.Frames[0].Fields) > 0 {
					f := res.Frames[0].Fields[0]
					for i := range f.Len() {
						if val, ok := f.ConcreteAt(i); ok && !slices.Contains(options, fmt.Sprint(val)) {
							options = append(options, fmt.Sprint(val))
						}
					}
				}
			} else {
				options = variableResource(t, c, d, interpolate(query, vars, r, time.Minute, plainFormat))
			}
		default:
			t.Fatalf("variable %s: type %s not handled by this test", v.Name, v.Type)
		}
		if len(options) == 0 {
			t.Fatalf("variable %s (%s) lists no values", v.Name, query)
		}
		if v.IncludeAll && isAll(v.Current.Value) {
			if v.AllValue != "" {
				vars[v.Name] = varValue{all: v.AllValue, multi: true}
			} else {
				vars[v.Name] = varValue{values: options, multi: true}
			}
			continue
		}
		vars[v.Name] = varValue{values: options[:1]}
	}
	return vars
}

func isAll(current any) bool {
	switch v := current.(type) {
	case string:
		return v == "$__all"
	case []any:
		return len(v) == 1 && v[0] == "$__all"
	}
	return false
}

// variableResource runs metrics(), label_names(...), label_values(...),
// services() or incidents([state]) as the frontend does
// (src/templating.ts: parseVariableQuery).
func variableResource(t *testing.T, c *datasourcetest.TestPluginClient, d *demo, query string) []string {
	t.Helper()
	m := regexp.MustCompile(`^(\w+)\s*\(\s*([^,)]*?)\s*(?:,\s*([^)]*?)\s*)?\)$`).FindStringSubmatch(strings.TrimSpace(query))
	if m == nil {
		t.Fatalf("variable query %q: not metrics(), label_names() or label_values()", query)
	}
	var path string
	params := url.Values{}
	switch fn, a, b := m[1], m[2], m[3]; fn {
	case "metrics":
		path = "metrics"
	case "label_names":
		path = "labels"
		if a != "" {
			params.Set("metric", a)
		}
	case "services":
		path = "services"
	case "incidents":
		path = "incidents"
		if a != "" {
			params.Set("state", a)
		}
	case "label_values":
		path = "label-values"
		if b != "" {
			params.Set("metric", a)
			params.Set("label", b)
		} else {
			params.Set("label", a)
		}
	default:
		t.Fatalf("variable query %q: unknown function %s", query, fn)
	}
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	// Options are strings, or {text, value} pairs (incidents): the value
	// goes into queries.
	var list []json.RawMessage
	e := &env{base: d.base, uid: demoUID}
	if status := resource(t, c, e, path, &list); status != http.StatusOK {
		t.Fatalf("variable query %q: resource %s answered HTTP %d", query, path, status)
	}
	var out []string
	for _, raw := range list {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var o struct{ Text, Value string }
		if err := json.Unmarshal(raw, &o); err != nil || o.Value == "" {
			t.Fatalf("variable query %q: option %s is neither text nor {text, value}", query, raw)
		}
		out = append(out, o.Value)
	}
	return out
}

// interval is Grafana's panel interval: the range over the data points,
// never below the panel's minimum interval.
func (p gPanel) interval(r gRange) time.Duration {
	auto := time.Duration(math.Ceil(float64(r.to.Sub(r.from))/1000/float64(time.Second))) * time.Second
	auto = max(auto, time.Second)
	if p.Interval != "" {
		if d, err := parseGrafanaInterval(p.Interval); err == nil && d > auto {
			return d
		}
	}
	return auto
}

func parseGrafanaInterval(s string) (time.Duration, error) {
	s = strings.TrimPrefix(s, ">")
	m := regexp.MustCompile(`^(\d+)(ms|s|m|h|d)$`).FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("interval %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// fieldFormats are the formatters the plugin's applyTemplateVariables
// passes to Grafana's replace per field (src/datasource.ts); fields not
// listed use the default (one value as it is, several comma-separated).
var fieldFormats = map[string]formatter{
	"rawSql":   sqlFormat,
	"selector": selectorFormat,
	"service":  csvFormat,
	"severity": csvFormat,
	"channel":  csvFormat,
}

// dataQueries are the panel's targets as the backend receives them.
func (p gPanel) dataQueries(t *testing.T, vars map[string]varValue, r gRange) []backend.DataQuery {
	t.Helper()
	interval := p.interval(r)
	var out []backend.DataQuery
	for _, target := range p.Targets {
		if hide, _ := target["hide"].(bool); hide {
			continue
		}
		model := map[string]any{}
		for k, v := range target {
			if s, ok := v.(string); ok && k != "refId" && k != "queryType" && k != "format" {
				f := fieldFormats[k]
				if f == nil {
					f = csvFormat
				}
				v = interpolate(s, vars, r, interval, f)
			}
			model[k] = v
		}
		refID, _ := model["refId"].(string)
		queryType, _ := model["queryType"].(string)
		b, err := json.Marshal(model)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, backend.DataQuery{
			RefID: refID, QueryType: queryType, JSON: b,
			TimeRange: backend.TimeRange{From: r.from, To: r.to}, Interval: interval, MaxDataPoints: 1000,
		})
	}
	return out
}

// A formatter renders a variable's values the way one of the plugin's
// formatters does (src/templating.ts).
type formatter func(values []string, multi bool) string

func escapeSQL(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// sqlFormat: one value escaped for the quotes around it, several a quoted list.
func sqlFormat(values []string, multi bool) string {
	if !multi {
		return escapeSQL(values[0])
	}
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + escapeSQL(v) + "'"
	}
	return strings.Join(q, ", ")
}

// csvFormat: several values comma-separated (the backend splits them).
func csvFormat(values []string, _ bool) string { return strings.Join(values, ",") }

func plainFormat(values []string, _ bool) string { return strings.Join(values, ",") }

// selectorFormat: one value escaped for double quotes, several a regex alternation.
func selectorFormat(values []string, multi bool) string {
	esc := func(s string) string {
		return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	}
	if !multi {
		return esc(values[0])
	}
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = esc(regexp.QuoteMeta(v))
	}
	if len(q) == 1 {
		return q[0]
	}
	return "(" + strings.Join(q, "|") + ")"
}

// grafanaVariable is Grafana's variable syntax: $name, [[name:format]],
// ${name}, ${name.path:format}.
var grafanaVariable = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}`)

// interpolate is Grafana's templateSrv.replace with a formatter: the
// built-ins $__interval, $__interval_ms, $__from and $__to, then dashboard
// variables; ${x:sqlstring} quotes each value (doubling its quotes) whatever the
// formatter; a custom all value is inserted as it is; unknown names (the
// backend's macros such as $__timeFilter) stay.
func interpolate(s string, vars map[string]varValue, r gRange, interval time.Duration, f formatter) string {
	builtIn := map[string]string{
		"__interval":    formatGrafanaInterval(interval),
		"__interval_ms": strconv.FormatInt(interval.Milliseconds(), 10),
		"__from":        strconv.FormatInt(r.from.UnixMilli(), 10),
		"__to":          strconv.FormatInt(r.to.UnixMilli(), 10),
	}
	return grafanaVariable.ReplaceAllStringFunc(s, func(match string) string {
		m := grafanaVariable.FindStringSubmatch(match)
		name := m[1] + m[2] + m[4]
		format := m[3] + m[6]
		if v, ok := builtIn[name]; ok {
			return v
		}
		v, ok := vars[name]
		if !ok {
			return match
		}
		if v.all != "" {
			return v.all
		}
		switch format {
		case "":
			return f(v.values, v.multi)
		case "sqlstring":
			q := make([]string, len(v.values))
			for i, x := range v.values {
				q[i] = "'" + strings.ReplaceAll(x, "'", "''") + "'"
			}
			return strings.Join(q, ",")
		case "csv":
			return strings.Join(v.values, ",")
		case "raw", "text":
			return strings.Join(v.values, ",")
		case "regex":
			q := make([]string, len(v.values))
			for i, x := range v.values {
				q[i] = regexp.QuoteMeta(x)
			}
			if len(q) == 1 {
				return q[0]
			}
			return "(" + strings.Join(q, "|") + ")"
		}
		panic(fmt.Sprintf("variable format %q is not handled by this test: add it", format))
	})
}

// formatGrafanaInterval writes an interval as Grafana does: the largest
// whole unit, else milliseconds.
func formatGrafanaInterval(d time.Duration) string {
	ms := d.Milliseconds()
	for _, u := range []struct {
		suffix string
		ms     int64
	}{{"d", 86_400_000}, {"h", 3_600_000}, {"m", 60_000}, {"s", 1000}} {
		if ms >= u.ms && ms%u.ms == 0 {
			return strconv.FormatInt(ms/u.ms, 10) + u.suffix
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}
