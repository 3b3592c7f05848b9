package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// TestDemoScenarios runs the demo with a point every scenInterval of demo
// time, scenSpeed times faster than the wall clock: about 2 h 50 min of
// demo time in a few minutes. Detectors work in event time, so warm-ups,
// hysteresis and forecasts are unchanged.
const (
	scenSpeed    = 300
	scenInterval = 4 * time.Second
)

// scenWindow is one scenario as the demo announced it.
type scenWindow struct {
	name, root         string
	from, to           time.Time // demo (event) time
	wallFrom, wallTo   time.Time // when the demo announced them
	incidentFirstSeen  time.Time // wall time the incident was first listed
	incidentOpenedDemo time.Time
}

type scenIncident struct {
	ID          string    `json:"id"`
	OpenedAt    time.Time `json:"opened_at"`
	Severity    string    `json:"severity"`
	Services    []string  `json:"services"`
	MissingData []string  `json:"missing_data"`
	RootCauses  []struct {
		Service     string  `json:"service"`
		Score       float64 `json:"score"`
		Explanation string  `json:"explanation"`
	} `json:"root_causes"`
}

type scenEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service"`
	Title   string    `json:"title"`
	Detail  string    `json:"detail"`
	Ref     string    `json:"ref"`
}

var scenLogLine = regexp.MustCompile(`msg="demo scenario" scenario=(\S+) event=(\S+) root=(\S+) demo_time=(\S+) wall_time=(\S+)`)

// The four demo scenarios end to end, one `firebreak demo` process at
// --speed 300 with a real Alertmanager (Debian's prometheus-alertmanager)
// receiving the alerts. For each scenario: exactly one incident opened
// while it played, the right service first among root causes, its
// timeline in time order with cause before effect, the expected alert
// listed by Alertmanager's GET /api/v2/alerts, at most 3 alerts (edge
// silence: 1), and for disk-fill the prediction an hour or more (demo
// time) before the disk actually crossed 90 %.
func TestDemoScenarios(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	am := testkit.StartAlertmanager(t, hook.URL)
	p := startCommand(t, "demo", t.TempDir(), "", "", "--speed", fmt.Sprint(scenSpeed), "--demo-interval", scenInterval.String(), "--demo-instances", "2",
		"--alertmanager-url", am)
	testStart := time.Now()

	// Alertmanager lists an alert while it is active: watch it throughout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	amSeen := map[string]testkit.AMAlert{}
	firstSeen := map[string]time.Time{} // incident id → wall time first listed
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if alerts, err := scenActiveAlerts(am); err == nil {
				mu.Lock()
				for _, a := range alerts {
					k := a.Labels["alertname"] + "/" + a.Labels["kind"] + "/" + a.Labels["service"]
					if _, ok := amSeen[k]; !ok {
						amSeen[k] = a
					}
				}
				mu.Unlock()
			}
			var list struct{ Incidents []scenIncident }
			if scenGetJSON(p.base+"/api/v1/incidents?limit=1000", &list) == nil {
				now := time.Now()
				mu.Lock()
				for _, in := range list.Incidents {
					if _, ok := firstSeen[in.ID]; !ok {
						firstSeen[in.ID] = now
					}
				}
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	defer wg.Wait()
	defer cancel()

	// The demo announces each scenario's window; wait for all four and the
	// quiet gap after the last.
	var wins []*scenWindow
	waitUntil(t, 6*time.Minute, "the demo to play all four scenarios", func() bool {
		b, _ := os.ReadFile(p.logPath)
		wins = scenWindows(t, string(b))
		return strings.Contains(string(b), `msg="demo scenarios done"`)
	})
	t.Logf("all four scenarios played in %v wall time", time.Since(testStart).Round(time.Second))
	if len(wins) != 4 {
		t.Fatalf("%d scenario windows announced, want 4", len(wins))
	}
	time.Sleep(3 * time.Second) // the last records through the writer

	var list struct{ Incidents []scenIncident }
	getJSON(t, p.base+"/api/v1/incidents?limit=1000", &list)
	defer func() {
		if t.Failed() {
			for _, in := range list.Incidents {
				t.Logf("incident %s opened %s services %v root causes %+v", in.ID, in.OpenedAt.Format(time.TimeOnly), in.Services, in.RootCauses)
			}
			_, r := p.sql(t, "SELECT time, alertname, kind, service, state FROM alerts FINAL ORDER BY time")
			t.Logf("alert transitions: %s", r.Rows)
		}
	}()
	for _, w := range wins {
		t.Run(w.name, func(t *testing.T) {
			var ins []scenIncident
			for _, in := range list.Incidents {
				if !in.OpenedAt.Before(w.from.Add(-time.Minute)) && in.OpenedAt.Before(w.to) {
					ins = append(ins, in)
				}
			}
			if len(ins) != 1 {
				t.Fatalf("%d incidents opened while %s played (%s to %s), want 1: %+v", len(ins), w.name,
					w.from.Format(time.TimeOnly), w.to.Format(time.TimeOnly), ins)
			}
			in := ins[0]
			if len(in.RootCauses) == 0 || in.RootCauses[0].Service != w.root {
				t.Fatalf("root causes %+v, want %s first", in.RootCauses, w.root)
			}
			var detail struct {
				Timeline []scenEvent `json:"timeline"`
			}
			getJSON(t, p.base+"/api/v1/incidents/"+in.ID, &detail)
			tl := detail.Timeline
			if !slices.IsSortedFunc(tl, func(a, b scenEvent) int { return a.Time.Compare(b.Time) }) {
				t.Errorf("timeline not in time order: %+v", tl)
			}
			first := scenFirstSignals(tl)
			if s := scenFirstSignal(tl); s.Service != w.root {
				t.Errorf("first signal on the timeline is %+v, want one of %s", s, w.root)
			}

			// Alerts of the incident: those on its timeline (every alert
			// transition reaches the correlator; one near the incident's
			// services joins it). For the record, also every alert that
			// fired while the scenario played (transitions are stamped in
			// demo time), related or not.
			fps := map[string]string{}
			for _, e := range tl {
				if e.Kind == "alert" && strings.HasPrefix(e.Title, "Alert firing") {
					fp := strings.TrimPrefix(e.Ref, "alerts:")
					if _, ok := fps[fp]; !ok {
						t.Logf("%s: alert at demo %s (+%v): %s %s: %s", w.name, e.Time.Format(time.TimeOnly), e.Time.Sub(w.from).Round(time.Second),
							e.Service, e.Title, e.Detail)
					}
					fps[fp] = strings.TrimPrefix(e.Title, "Alert firing: ") + "/" + e.Service
				}
			}
			alerts := len(fps)
			_, r := p.sql(t, fmt.Sprintf(`SELECT count(DISTINCT fingerprint) AS n, groupUniqArray(concat(alertname, '/', service)) AS names
				FROM alerts FINAL WHERE state = 'firing' AND time >= toDateTime64(%d, 3) AND time < toDateTime64(%d, 3)`,
				w.from.Add(-time.Minute).UnixMilli()/1000, w.to.UnixMilli()/1000))
			t.Logf("%s: incident %s (%s, %v), %d alert(s) %v; root causes %s (%.2f: %s); all alerts fired while it played: %s %s",
				w.name, in.ID, in.Severity, in.Services, alerts, slices.Sorted(maps.Values(fps)),
				in.RootCauses[0].Service, in.RootCauses[0].Score, in.RootCauses[0].Explanation, r.Rows[0][0], r.Rows[0][1])
			if alerts > 3 || alerts < 1 {
				t.Errorf("%d alerts for one incident, want 1 to 3", alerts)
			}
			mu.Lock()
			seen := maps2list(amSeen)
			w.incidentFirstSeen, w.incidentOpenedDemo = firstSeen[in.ID], in.OpenedAt
			mu.Unlock()
			wantAM := func(alertname, kind, service string) testkit.AMAlert {
				t.Helper()
				for _, a := range seen {
					if (alertname == "" || a.Labels["alertname"] == alertname) && a.Labels["kind"] == kind && a.Labels["service"] == service {
						return a
					}
				}
				t.Errorf("Alertmanager never listed a %s alert (%s) of %s; it listed %d: %v", kind, alertname, service, len(seen), scenAMNames(seen))
				return testkit.AMAlert{}
			}

			switch w.name {
			case "payment-db-latency":
				wantAM("FirebreakAnomaly", "anomaly", "payment-db")
				wantAM("FirebreakComplaintSurge", "complaint_surge", "payment")
				for _, pair := range [][2]string{{"payment-db", "payment"}, {"payment", "checkout"}} {
					a, b := first[pair[0]], first[pair[1]]
					if a.IsZero() || b.IsZero() || !a.Before(b) {
						t.Errorf("first %s signal %v not before first %s signal %v", pair[0], a, pair[1], b)
					}
				}
				surge := scenFirstOf(tl, "complaint_surge", "")
				if surge.IsZero() || !first["payment-db"].Before(surge) {
					t.Errorf("complaint surge %v not after payment-db's first signal %v", surge, first["payment-db"])
				}
			case "edge-silence":
				wantAM("FirebreakSilence", "silence", "edge-collector")
				if alerts > 1 {
					t.Errorf("%d alerts for the edge silence, want 1 (the dependents' anomalies are annotated, not paged)", alerts)
				}
				if s := scenFirstSignal(tl); s.Kind != "silence" {
					t.Errorf("first signal %+v, want the silence", s)
				}
				annotated := false
				for _, e := range tl {
					if e.Kind == "anomaly" && e.Service == "inventory" && strings.Contains(e.Detail, "upstream source is missing") {
						annotated = true
						if e.Time.Before(scenFirstOf(tl, "silence", "edge-collector")) {
							t.Errorf("inventory anomaly %v before the silence", e.Time)
						}
					}
				}
				if !annotated || !slices.Contains(in.MissingData, "edge-collector") {
					t.Errorf("inventory's anomalies not annotated as a consequence (missing data %v)", in.MissingData)
				}
			case "order-storm":
				wantAM("FirebreakAnomaly", "anomaly", "gateway")
				if !slices.ContainsFunc(tl, func(e scenEvent) bool { return strings.Contains(e.Title, "http_rate_limited_rate") }) {
					t.Errorf("the gateway's 429s (http_rate_limited_rate) are not on the timeline")
				}
				// The gateway's own limiter: 429s many times their usual rate.
				_, r := p.sql(t, fmt.Sprintf(`SELECT maxIf(value, time >= toDateTime64(%d, 3)) / avgIf(value, time < toDateTime64(%d, 3)) AS x
					FROM samples WHERE metric_name = 'http_rate_limited_rate' AND time < toDateTime64(%d, 3)`,
					w.from.Unix(), w.from.Unix(), w.to.Unix()))
				var x float64
				json.Unmarshal(r.Rows[0][0], &x)
				t.Logf("order-storm: the gateway's 429s peaked at %.0fx their usual rate", x)
				if x < 10 {
					t.Errorf("rate limiting peaked at %.1fx the usual rate, want a storm", x)
				}
			case "disk-fill":
				pred := wantAM("DiskWillFill", "predictive", "inventory")
				if _, err := time.Parse(time.RFC3339, pred.Annotations["predicted_breach_at"]); pred.Labels != nil && err != nil {
					t.Errorf("predictive alert without predicted_breach_at: %+v", pred)
				}
				predicted := scenFirstOf(tl, "predictive", "inventory")
				_, r := p.sql(t, `SELECT min(time) FROM samples WHERE metric_name = 'disk_used_ratio' AND labels['instance'] = 'inventory-a' AND value >= 0.9`)
				var s string
				json.Unmarshal(r.Rows[0][0], &s)
				breach, err := time.Parse(time.RFC3339Nano, s)
				if err != nil || predicted.IsZero() {
					t.Fatalf("no breach (%q) or no prediction on the timeline (%v)", s, predicted)
				}
				t.Logf("disk-fill: DiskWillFill came %v (demo time) before inventory-a's disk crossed 90%%", breach.Sub(predicted).Round(time.Second))
				if breach.Sub(predicted) < time.Hour {
					t.Errorf("prediction %v only %v before the breach %v, want an hour or more", predicted, breach.Sub(predicted), breach)
				}
			}
		})
	}
	// Time to incident: the wall time from when the demo sent the
	// incident's first anomalous point (demo time mapped onto the wall
	// clock through the scenario's announcement) to the incident listed.
	for _, w := range wins {
		if w.incidentFirstSeen.IsZero() {
			continue
		}
		sent := w.wallFrom.Add(w.incidentOpenedDemo.Sub(w.from) / scenSpeed)
		t.Logf("%s: incident listed %v (wall) after its first anomalous point was sent (first point %v of demo time into the scenario)",
			w.name, w.incidentFirstSeen.Sub(sent).Round(10*time.Millisecond), w.incidentOpenedDemo.Sub(w.from).Round(time.Second))
	}
}

// scenWindows reads the demo's scenario announcements from its log.
func scenWindows(t *testing.T, log string) []*scenWindow {
	byName := map[string]*scenWindow{}
	var out []*scenWindow
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := scenLogLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		demo, err1 := time.Parse(time.RFC3339Nano, m[4])
		wall, err2 := time.Parse(time.RFC3339Nano, m[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("unparsable announcement %q", sc.Text())
		}
		w := byName[m[1]]
		if w == nil {
			w = &scenWindow{name: m[1], root: m[3]}
			byName[m[1]] = w
			out = append(out, w)
		}
		if m[2] == "started" {
			w.from, w.wallFrom = demo, wall
		} else {
			w.to, w.wallTo = demo, wall
		}
	}
	return out
}

// signalKinds are timeline events that are evidence (not lifecycle).
var signalKinds = map[string]bool{"anomaly": true, "silence": true, "predictive": true, "log_pattern": true,
	"complaint_surge": true, "alert": true}

func scenFirstSignal(tl []scenEvent) scenEvent {
	for _, e := range tl {
		if signalKinds[e.Kind] && e.Kind != "alert" {
			return e
		}
	}
	return scenEvent{}
}

// scenFirstSignals: each service's first detector finding.
func scenFirstSignals(tl []scenEvent) map[string]time.Time {
	out := map[string]time.Time{}
	for _, e := range tl {
		if signalKinds[e.Kind] && e.Kind != "alert" && e.Service != "" {
			if _, ok := out[e.Service]; !ok {
				out[e.Service] = e.Time
			}
		}
	}
	return out
}

func scenFirstOf(tl []scenEvent, kind, service string) time.Time {
	for _, e := range tl {
		if e.Kind == kind && (service == "" || e.Service == service) {
			return e.Time
		}
	}
	return time.Time{}
}

func maps2list(m map[string]testkit.AMAlert) []testkit.AMAlert {
	out := make([]testkit.AMAlert, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	return out
}

func scenAMNames(as []testkit.AMAlert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Labels["alertname"]+"/"+a.Labels["service"])
	}
	slices.Sort(out)
	return out
}

// scenActiveAlerts is testkit.ActiveAlerts for a goroutine (no t.Fatal).
func scenActiveAlerts(base string) ([]testkit.AMAlert, error) {
	var out []testkit.AMAlert
	return out, scenGetJSON(base+"/api/v2/alerts", &out)
}

func scenGetJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// BenchmarkIncidentTimelineStored: GET /api/v1/incidents/{id} over 1,000
// incidents with 20-event timelines that went the production way: records
// on Kafka (firebreak.incidents, firebreak.incident-events), the writer,
// ClickHouse (embedded), the query API. Reports p95.
//
//	go test -run '^$' -bench IncidentTimelineStored -benchtime 1000x ./cmd/firebreak
func BenchmarkIncidentTimelineStored(b *testing.B) {
	p := scenStartRun(b)
	const n, per = 1000, 20
	w := &kafka.Writer{Addr: kafka.TCP(p.broker), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond, BatchSize: 1000, AllowAutoTopicCreation: false}
	defer w.Close()
	t0 := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
	services := []string{"gateway", "checkout", "payment", "payment-db", "inventory", "delivery"}
	ids := make([]string, n)
	var msgs []kafka.Message
	for i := range n {
		id := fmt.Sprintf("inc-20261101-0000-%08x", i)
		ids[i] = id
		o := t0 + int64(i)*40*60_000
		svcs := []string{services[i%6], services[(i+1)%6]}
		rec := &records.IncidentRecord{ID: id, Title: "Trouble in " + svcs[0], State: "resolved", Severity: fmt.Sprintf("P%d", 1+i%4),
			Services: svcs, OpenedMs: o, AckedMs: o + 120_000, MitigatedMs: o + 600_000, ResolvedMs: o + 1_800_000, UpdatedMs: o + 1_800_000,
			Signals: per, RootCauses: []records.RootCause{{Service: svcs[0], Score: 1.5, Explanation: "first to show trouble"}}}
		v, err := records.EncodeIncident(rec)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicIncidents, Key: []byte(id), Value: v})
		for k := range per {
			v, err := records.EncodeTimelineEvent(&records.TimelineEvent{IncidentID: id, TimeMs: o + int64(k)*10_000, Kind: "anomaly",
				Service: svcs[k%2], Title: fmt.Sprintf("signal %d", k), Ref: fmt.Sprintf("anomalies:%d@%d", k, o+int64(k)*10_000)})
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Topic: records.TopicIncidentEvents, Key: []byte(id), Value: v})
		}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		b.Fatalf("publish: %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, r := scenSQL(p.base, "SELECT (SELECT count() FROM incidents FINAL) AS i, (SELECT count() FROM incident_events) AS e")
		var gotI, gotE int
		if code == 200 && len(r.Rows) == 1 {
			json.Unmarshal(r.Rows[0][0], &gotI)
			json.Unmarshal(r.Rows[0][1], &gotE)
		}
		if gotI == n && gotE >= n*per {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("writer stored %d incidents and %d timeline events after 2 min, want %d and %d", gotI, gotE, n, n*per)
		}
		time.Sleep(200 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := http.Get(p.base + "/api/v1/incidents/" + ids[(i*7919)%n])
		if err != nil {
			b.Fatal(err)
		}
		var d struct {
			Timeline []scenEvent `json:"timeline"`
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(d.Timeline) < per {
			b.Fatalf("GET incident: %d, %d events, %v", resp.StatusCode, len(d.Timeline), err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// scenStartRun is startCommand for benchmarks: `firebreak run` with no
// detectors (nothing but the seeded records reaches the store), killed at
// the end.
func scenStartRun(b *testing.B) *proc {
	testkit.ChdbLib(b)
	var addrs [2]string
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
	}
	httpAddr, brokerAddr := addrs[0], addrs[1]
	logPath := filepath.Join(b.TempDir(), "firebreak.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(binPath, "run", "--data-dir", b.TempDir(), "--http-addr", httpAddr, "--broker-listen", brokerAddr,
		"--partitions", "4", "--batch-wait", "200ms", "--otlp-grpc-addr", "", "--syslog-udp-addr", "", "--syslog-tcp-addr", "",
		"--detect=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &proc{cmd: cmd, base: "http://" + httpAddr, broker: brokerAddr, logPath: logPath, done: make(chan struct{})}
	go func() { p.exitErr = cmd.Wait(); logf.Close(); close(p.done) }()
	b.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-p.done })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(p.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			b.Fatalf("firebreak not healthy after 60s:\n%s", tail(string(out), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scenSQL(base, q string) (int, sqlResult) {
	var r sqlResult
	resp, err := http.Get(base + "/api/v1/sql?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, r
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}
