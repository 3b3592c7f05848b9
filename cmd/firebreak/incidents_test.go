package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// A cascade through the real pipeline: payment-db latency, then payment
// errors, then checkout failures, after a deploy of payment-db. One
// incident, payment-db first among root causes, the deploy and the alerts
// on its timeline, an acknowledgement, and a report in Markdown and HTML.
func TestIncidentFromCascade(t *testing.T) {
	topo := filepath.Join(t.TempDir(), "topology.yml")
	os.WriteFile(topo, []byte(`services:
  - name: checkout
    user_facing: true
    depends_on: [payment]
  - name: payment
    depends_on: [payment-db]
`), 0o644)
	p := start(t, t.TempDir(), "", "", "--topology", topo)
	sender := workload.NewSender(p.base + "/api/v1/write")
	now := time.Now().Truncate(time.Second)
	services := []string{"payment-db", "payment", "checkout"}
	series := func(svc string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "e2e_latency_seconds"},
			{Name: "instance", Value: svc + "-1"}, {Name: "service", Value: svc}}}
	}
	// History: two hours every 15 s ending 5 minutes ago.
	req := &prompb.WriteRequest{}
	for _, svc := range services {
		ts := series(svc)
		for i := 480; i > 0; i-- {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: now.Add(-5*time.Minute - time.Duration(i)*15*time.Second).UnixMilli(),
				Value: 0.1 + 0.002*float64(i%7)})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	postJSON(t, p.base+"/api/v1/events", `{"service":"payment-db","type":"deploy","title":"payment-db schema migration","author":"ci","time":"`+
		now.Add(-8*time.Minute).Format(time.RFC3339)+`"}`, 202)

	// The cascade: each service a minute after the one it calls.
	first := time.Now()
	for k, svc := range services {
		ts := series(svc)
		ts.Samples = []prompb.Sample{{Timestamp: now.Add(time.Duration(k-3) * time.Minute).UnixMilli(), Value: 4}}
		if err := sender.Send(context.Background(), &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}}); err != nil {
			t.Fatal(err)
		}
	}
	var list struct {
		Incidents []struct {
			ID         string   `json:"id"`
			Severity   string   `json:"severity"`
			Services   []string `json:"services"`
			RootCauses []struct {
				Service     string `json:"service"`
				Explanation string `json:"explanation"`
			} `json:"root_causes"`
			MTTASeconds *float64 `json:"mtta_seconds"`
		} `json:"incidents"`
	}
	waitUntil(t, 30*time.Second, "one incident over the three services", func() bool {
		getJSON(t, p.base+"/api/v1/incidents", &list)
		return len(list.Incidents) == 1 && len(list.Incidents[0].Services) == 3
	})
	t.Logf("incident with all three services stored %v after the first anomalous point was sent", time.Since(first).Round(time.Millisecond))
	in := list.Incidents[0]
	if in.Severity != "P1" || in.RootCauses[0].Service != "payment-db" || !strings.Contains(in.RootCauses[0].Explanation, "first") {
		t.Fatalf("incident %+v", in)
	}

	var detail struct {
		Timeline []struct {
			Kind    string `json:"kind"`
			Service string `json:"service"`
			Title   string `json:"title"`
		} `json:"timeline"`
	}
	waitUntil(t, 30*time.Second, "the deploy, the anomalies and an alert on the timeline", func() bool {
		getJSON(t, p.base+"/api/v1/incidents/"+in.ID, &detail)
		kinds := map[string]bool{}
		for _, e := range detail.Timeline {
			kinds[e.Kind] = true
		}
		return kinds["change"] && kinds["anomaly"] && kinds["alert"]
	})
	postJSON(t, p.base+"/api/v1/incidents/"+in.ID+"/ack", `{"author":"ana"}`, 202)
	waitUntil(t, 30*time.Second, "the acknowledgement", func() bool {
		getJSON(t, p.base+"/api/v1/incidents", &list)
		return len(list.Incidents) == 1 && list.Incidents[0].MTTASeconds != nil
	})

	md := get(t, p.base+"/api/v1/incidents/"+in.ID+"/report?format=markdown", 200)
	for _, want := range []string{"# " + in.ID, "## Root-cause candidates", "**payment-db**", "payment-db schema migration", "| MTTD | MTTA | MTTR |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown report lacks %q:\n%s", want, md)
		}
	}
	html := get(t, p.base+"/api/v1/incidents/"+in.ID+"/report", 200)
	if !strings.Contains(html, "<svg") || !strings.Contains(html, "<polygon") || strings.Contains(html, "http-equiv") || strings.Contains(html, "<script") {
		t.Errorf("html report: no inline chart, or not self-contained:\n%.2000s", html)
	}
	renderInChromium(t, html)
	get(t, p.base+"/api/v1/incidents/inc-19700101-0000-00000000", 404)
	get(t, p.base+"/api/v1/incidents/x'%20OR%201=1", 400)
}

// renderInChromium opens the HTML report in Debian's headless Chromium,
// requires it to render without console errors, and keeps a screenshot
// (in $FIREBREAK_ARTIFACTS_DIR when set).
func renderInChromium(t *testing.T, html string) {
	t.Helper()
	bin := testkit.Tool(t, "chromium", "chromium")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("FIREBREAK_ARTIFACTS_DIR")
	if shots == "" {
		shots = dir
	}
	os.MkdirAll(shots, 0o755)
	shot := filepath.Join(shots, "incident-report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1100,1800", "--enable-logging=stderr", "--v=0",
		"--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "CONSOLE") && (strings.Contains(line, "Uncaught") || strings.Contains(line, "rror")) {
			t.Errorf("console error while rendering the report: %s", line)
		}
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("no screenshot of the report (%v, %d bytes):\n%s", err, st.Size(), out)
	}
	t.Logf("report rendered by Chromium; screenshot %s (%d bytes)", shot, st.Size())
}

func postJSON(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, url, 200)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
