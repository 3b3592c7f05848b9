package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The harness starts dist/'s executable the way Grafana's plugin manager
// does (go-plugin handshake, gRPC over a unix socket) and calls it with the
// plugin context Grafana builds: this proves the shipped binary, not just
// the package.

var (
	harnessOnce sync.Once
	harnessBin  string
	harnessSkip string
	harnessErr  error
)

// harness builds ../shared/tools/grafana-harness (relative to the
// repository root) once.
func harness(t *testing.T, root string) string {
	t.Helper()
	harnessOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(root), "shared", "tools", "grafana-harness")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			harnessSkip = "grafana-harness not found at " + dir + " (CI has it at ../shared/tools/grafana-harness beside the repository)"
			return
		}
		tmp, err := os.MkdirTemp("", "grafana-harness")
		if err != nil {
			harnessErr = err
			return
		}
		atExit(func() { os.RemoveAll(tmp) })
		harnessBin = filepath.Join(tmp, "grafana-harness")
		cmd := exec.Command("go", "build", "-o", harnessBin, ".")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			harnessErr = fmt.Errorf("building the harness in %s: %v\n%s", dir, err, out)
		}
	})
	if harnessSkip != "" {
		missing(t, harnessSkip)
	}
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return harnessBin
}

// distDir is the plugin's dist/ with the built backend for this platform.
func distDir(t *testing.T, root string) string {
	t.Helper()
	dist := filepath.Join(root, "grafana-plugin", "dist")
	exe := filepath.Join(dist, fmt.Sprintf("gpx_firebreak_aiops_%s_%s", runtime.GOOS, runtime.GOARCH))
	for _, f := range []string{exe, filepath.Join(dist, "plugin.json"), filepath.Join(dist, "module.js")} {
		if _, err := os.Stat(f); err != nil {
			missing(t, f+" not built: run `npm run build` and `go run github.com/magefile/mage -v build:linux` in grafana-plugin (test.sh does)")
		}
	}
	return dist
}

type harnessOut struct {
	Health *struct {
		Status  string          `json:"status"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	} `json:"health"`
	Results  map[string]harnessResult `json:"results"`
	Resource *struct {
		Status   int             `json:"status"`
		BodyJSON json.RawMessage `json:"bodyJSON"`
	} `json:"resource"`
}

// harnessResult is one query's answer as the harness prints it.
type harnessResult struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
	Frames []struct {
		Name string `json:"name"`
		Meta *struct {
			Type      string `json:"type"`
			DataTopic string `json:"dataTopic"`
			Notices   []struct {
				Text string `json:"text"`
			} `json:"notices"`
		} `json:"meta"`
		RowCount int `json:"rowCount"`
		Fields   []struct {
			Name   string            `json:"name"`
			Type   string            `json:"type"`
			Labels map[string]string `json:"labels"`
			Values []any             `json:"values"`
		} `json:"fields"`
	} `json:"frames"`
}

// execHarness is the harness command with these arguments.
func execHarness(bin string, args ...string) *exec.Cmd { return exec.Command(bin, args...) }

func TestBuiltPluginThroughHarness(t *testing.T) {
	e := firebreak(t)
	bin := harness(t, e.root)
	dist := distDir(t, e.root)

	settings := filepath.Join(t.TempDir(), "ds.json")
	b, _ := json.Marshal(map[string]any{
		"uid": "firebreak", "id": 1, "orgId": 1, "name": "Firebreak", "type": "firebreak-aiops-datasource",
		"jsonData":       map[string]any{"url": e.base, "timeoutSeconds": 20},
		"secureJsonData": map[string]string{"apiToken": "not-checked-yet"},
		"signedInUser":   map[string]string{"login": "viewer", "role": "Viewer"},
	})
	if err := os.WriteFile(settings, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, args ...string) harnessOut {
		t.Helper()
		full := append([]string{"--dist", dist, "--settings", settings, "--json", "--strict", "--timeout", "60s"}, args...)
		cmd := exec.Command(bin, full...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("grafana-harness %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		var out harnessOut
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("grafana-harness %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout.String())
		}
		return out
	}
	from := e.rangeFrom.UTC().Format(time.RFC3339)
	to := e.rangeTo.UTC().Format(time.RFC3339)

	t.Run("health", func(t *testing.T) {
		out := run(t, "health")
		if out.Health == nil || out.Health.Status != "OK" || !regexp.MustCompile(`^Firebreak \S+, store chdb, broker ok$`).MatchString(out.Health.Message) {
			t.Fatalf("health: %+v", out.Health)
		}
	})

	t.Run("sql", func(t *testing.T) {
		out := run(t, "query", "--query-type", "sql", "--from", from, "--to", to, "--interval", "1m",
			"--json", `{"refId":"A","rawSql":"SELECT $__timeGroup(time, $__interval) AS t, avg(value) AS v FROM samples WHERE $__timeFilter(time) AND metric_name = 'fbtest_latency_seconds' GROUP BY t ORDER BY t","format":"time_series"}`)
		r := out.Results["A"]
		if r.Error != "" || len(r.Frames) != 1 || r.Frames[0].RowCount != 30 {
			t.Fatalf("sql: %+v", r)
		}
		f := r.Frames[0]
		if f.Meta == nil || f.Meta.Type != "timeseries-wide" || f.Fields[0].Type != "time.Time" || f.Fields[1].Type != "*float64" {
			t.Fatalf("sql frame: meta %+v fields %+v", f.Meta, f.Fields)
		}
		for _, v := range f.Fields[1].Values {
			if v != 0.25 {
				t.Fatalf("sql value %v, want 0.25", v)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		out := run(t, "query", "--query-type", "metrics", "--from", from, "--to", to, "--interval", "1m",
			"--json", `{"refId":"A","selector":"{__name__=\"fbtest_requests\", service=\"checkout\"}","aggregation":"max","step":"1m"}`)
		// A panel gets one wide frame: time, then each series' values.
		r := out.Results["A"]
		if r.Error != "" || len(r.Frames) != 1 {
			t.Fatalf("metrics: %+v", r)
		}
		f := r.Frames[0]
		if f.Meta == nil || f.Meta.Type != "timeseries-wide" || f.RowCount != 30 || len(f.Fields) != 3 || f.Fields[0].Type != "time.Time" {
			t.Fatalf("metrics frame: %+v %+v", f.Meta, f.Fields)
		}
		var instances []string
		for _, field := range f.Fields[1:] {
			instances = append(instances, field.Labels["instance"])
			if field.Name != "value" || !metricsNumber(field.Type) || field.Labels["service"] != "checkout" || field.Labels["__name__"] != "fbtest_requests" {
				t.Fatalf("metrics field: %+v", field)
			}
		}
		slices.Sort(instances)
		if !slices.Equal(instances, []string{"a", "b"}) {
			t.Fatalf("metrics fields of instances %q, want a and b", instances)
		}
	})

	t.Run("bands", func(t *testing.T) {
		detections(t, e)
		out := run(t, "query", "--query-type", "metrics", "--from", from, "--to", to, "--interval", "1m",
			"--json", `{"refId":"A","selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"avg","step":"1m","withBand":true,"withScore":true}`)
		// A panel gets one wide frame: time, the series' values, then its
		// band's four fields (metrics.go, layoutWide).
		r := out.Results["A"]
		if r.Error != "" || len(r.Frames) != 1 {
			t.Fatalf("bands: %+v", r)
		}
		f := r.Frames[0]
		if f.Meta == nil || f.Meta.Type != "timeseries-wide" || f.RowCount < 10 || f.Fields[0].Type != "time.Time" {
			t.Fatalf("bands frame: %+v %+v", f.Meta, f.Fields)
		}
		want := []string{"value", "expected", "lower", "upper", "score"}
		if len(f.Fields) != 1+len(want) {
			t.Fatalf("bands frame has %d fields, want time and %q", len(f.Fields), want)
		}
		for k, name := range want {
			if got := f.Fields[k+1]; got.Name != name || !metricsNumber(got.Type) || got.Labels["service"] != "payments" || got.Labels["instance"] != "p1" {
				t.Fatalf("bands field %d: %+v, want %s", k+1, got, name)
			}
		}
	})

	t.Run("anomalies", func(t *testing.T) {
		detections(t, e)
		out := run(t, "query", "--query-type", "anomalies", "--from", from, "--to", to,
			"--json", `[{"refId":"T","kinds":["anomaly"],"service":"payments"},{"refId":"N","kinds":["anomaly"],"service":"payments","format":"annotations"}]`)
		tbl, anno := out.Results["T"], out.Results["N"]
		if tbl.Error != "" || len(tbl.Frames) != 1 || tbl.Frames[0].RowCount < 1 || len(tbl.Frames[0].Fields) != 13 {
			t.Fatalf("anomalies table: %+v", tbl)
		}
		if f := tbl.Frames[0].Fields; f[0].Name != "time" || f[0].Type != "time.Time" || f[5].Name != "labels" || f[5].Type != "string" || f[12].Type != "*time.Time" {
			t.Fatalf("anomalies fields: %+v", f)
		}
		if anno.Error != "" || len(anno.Frames) != 1 || anno.Frames[0].Meta == nil || anno.Frames[0].Meta.DataTopic != "annotations" ||
			anno.Frames[0].Fields[1].Name != "title" || anno.Frames[0].Fields[1].Values[0] != "anomaly in payments" {
			t.Fatalf("anomalies annotations: %+v", anno)
		}
	})

	t.Run("resources", func(t *testing.T) {
		for path, want := range map[string][]string{
			"/metrics":                         {metricLatency, metricMany, metricRequests, metricSpiky},
			"/labels?metric=" + metricRequests: {"instance", "service"},
			"/label-values?label=service&metric=fbtest_requests": {"cart", "checkout"},
		} {
			out := run(t, "resource", "--method", "GET", "--path", path)
			var got []string
			if out.Resource == nil || out.Resource.Status != 200 || json.Unmarshal(out.Resource.BodyJSON, &got) != nil || !slices.Equal(got, want) {
				t.Fatalf("resource %s: %+v, want %q", path, out.Resource, want)
			}
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		dead, _ := freePort()
		bad := filepath.Join(t.TempDir(), "dead.json")
		os.WriteFile(bad, []byte(`{"uid":"dead","jsonData":{"url":"http://`+dead+`","timeoutSeconds":2}}`), 0o600)
		cmd := exec.Command(bin, "--dist", dist, "--settings", bad, "--json", "health")
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		var out harnessOut
		if err := json.Unmarshal(stdout, &out); err != nil || out.Health == nil || out.Health.Status != "ERROR" ||
			!strings.Contains(out.Health.Message, "cannot reach Firebreak at http://"+dead) {
			t.Fatalf("unreachable health: %s", stdout)
		}
	})
}

// metricsNumber: a metrics field is float64 when it has no null (a step
// the series or its band lacks), *float64 when it has.
func metricsNumber(typ string) bool { return typ == "float64" || typ == "*float64" }
