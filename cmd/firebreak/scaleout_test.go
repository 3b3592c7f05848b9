package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// startBroker runs `firebreak broker` (the embedded broker alone) and
// returns its address once it listens.
func startBroker(t *testing.T, partitions int) string {
	t.Helper()
	brokerAddr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "broker.log")
	logf, _ := os.Create(logPath)
	b := exec.Command(binPath, "broker", "--data-dir", t.TempDir(), "--listen", brokerAddr, "--partitions", fmt.Sprint(partitions))
	b.Stdout, b.Stderr = logf, logf
	b.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Process.Signal(syscall.SIGTERM)
		b.Wait()
		logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("broker log:\n%s", tail(string(out), 2000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := os.ReadFile(logPath)
		if strings.Contains(string(out), "broker listening") {
			return brokerAddr
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not up:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A standalone broker shared by a firebreak process, as in a scaled-out
// deployment on one machine.
func TestStandaloneBrokerSharedByRun(t *testing.T) {
	brokerAddr := startBroker(t, 3)
	p := start(t, t.TempDir(), "", "", "--kafka-brokers", brokerAddr)
	sender := workload.NewSender(p.base + "/api/v1/write")
	req, _ := seriesRequest(0, 30, 50, time.Now().Add(-time.Hour).UnixMilli())
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if count := p.waitStored(t, "e2e_value", 1500, 30*time.Second); count != 1500 {
		t.Fatalf("through the standalone broker: %d points, want 1500", count)
	}
}

func TestDemoWorkloadFlows(t *testing.T) {
	p := startCommand(t, "demo", t.TempDir(), "", "", "--demo-interval", "200ms", "--demo-instances", "2")
	// 5 services x 2 instances x 6 metrics = 60 series, plus the scenarios'
	// 8 (payment-db and edge-collector 2 each; per instance, inventory's
	// stock sync age and the gateway's 429s), a point each per tick.
	if count, _ := p.waitCount(t, 180, 30*time.Second); count < 180 {
		t.Fatalf("demo stored %d points in 30 s", count)
	}
	code, r := p.sql(t, "SELECT uniqExact(labels['service']), uniqExact(metric_name), uniqExact(series_id) FROM samples")
	if code != 200 {
		t.Fatal(r.Error)
	}
	if got := string(r.Rows[0][0]) + "," + string(r.Rows[0][1]) + "," + string(r.Rows[0][2]); got != "7,11,68" {
		t.Fatalf("services, metrics, series = %s, want 7,11,68", got)
	}
	// Service chatter and customer questions flow too.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, r = p.sql(t, "SELECT (SELECT uniqExact(service) FROM logs), (SELECT count() FROM support_messages)")
		if len(r.Rows) == 1 && string(r.Rows[0][0]) == "5" && string(r.Rows[0][1]) != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo logs services / support messages: %v %s", r.Rows, r.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestIngestTokenRequired(t *testing.T) {
	p := start(t, t.TempDir(), "", "", "--ingest-token", "remote_write=s3cret")
	req, _ := seriesRequest(0, 1, 5, time.Now().UnixMilli())
	anon := workload.NewSender(p.base + "/api/v1/write")
	err := anon.Send(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a token: %v, want 401", err)
	}
	authed := workload.NewSender(p.base + "/api/v1/write")
	authed.Token = "s3cret"
	if err := authed.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if count, _ := p.waitCount(t, 5, 20*time.Second); count != 5 {
		t.Fatalf("%d points stored, want 5", count)
	}
}

// scaleOut is a deployment of several firebreak processes on one broker:
// front takes remote_write and answers queries (it owns the store); the
// detector group and the alerter/correlator leases are each held by two
// processes, victim first. The victims are killed with SIGKILL together.
type scaleOut struct {
	front     *proc
	detectors [2]*proc // the victim, then the survivor
	alerters  [2]*proc // the active alerter and correlator (the victim), then the standby
}

// amNotice is the part of an Alertmanager webhook the scale-out test checks.
type amNotice struct {
	Alerts []struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt string            `json:"startsAt"`
	} `json:"alerts"`
}

// webhookLog collects Alertmanager's notifications.
type webhookLog struct {
	mu      sync.Mutex
	notices []amNotice
}

func (w *webhookLog) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n amNotice
	if json.NewDecoder(r.Body).Decode(&n) == nil {
		w.mu.Lock()
		w.notices = append(w.notices, n)
		w.mu.Unlock()
	}
}

// startsAt is every startsAt seen per alert (its labels) and whether any
// notification said resolved.
func (w *webhookLog) startsAt() (map[string]map[string]bool, map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	starts, resolved := map[string]map[string]bool{}, map[string]bool{}
	for _, n := range w.notices {
		for _, a := range n.Alerts {
			k := labelKey(a.Labels)
			if starts[k] == nil {
				starts[k] = map[string]bool{}
			}
			starts[k][a.StartsAt] = true
			if a.Status == "resolved" {
				resolved[k] = true
			}
		}
	}
	return starts, resolved
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}

// lastLogLine is the last line of p's log that has every one of subs.
func lastLogLine(p *proc, subs ...string) string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(lines[i], s)
		}
		if ok {
			return lines[i]
		}
	}
	return ""
}

// leads reports whether p's last word on the lease group is that it runs the stage.
func leads(p *proc, group string) bool {
	// Every RunAsLeader decision line names a member: active, lease moved, standing by.
	return strings.Contains(lastLogLine(p, "group="+group, "member"), "active member")
}

const alerterLease, correlatorLease = "firebreak-alerter-lease", "firebreak-correlator-lease"

// startLeaseHolders starts the process that must hold both leases, waits
// until it does, then the standby.
func startLeaseHolders(t *testing.T, first, second func() *proc) (*proc, *proc) {
	t.Helper()
	a := first()
	waitUntil(t, 30*time.Second, "the first process to hold the alerter and correlator leases", func() bool {
		return leads(a, alerterLease) && leads(a, correlatorLease)
	})
	b := second()
	waitUntil(t, 30*time.Second, "the second process to stand by", func() bool {
		return strings.Contains(lastLogLine(b, "group="+alerterLease), "standing by") &&
			strings.Contains(lastLogLine(b, "group="+correlatorLease), "standing by")
	})
	return a, b
}

// Several processes on one standalone broker (issue 8): the store and
// writer in one, two detector processes splitting the metrics partitions,
// an active and a standby alerter/correlator. kill -9 of one detector and
// of the active alerter/correlator at once: the surviving detector takes
// the partitions over from their checkpoints (every series goes on
// producing bands, none learns again), the standby pages the next problem,
// Alertmanager (Debian's) sees every alert once with its first startsAt,
// and incidents keep their ids and keep coming.
func TestScaleOutSurvivesKillDashNine(t *testing.T) {
	hooks := &webhookLog{}
	hook := httptest.NewServer(hooks)
	defer hook.Close()
	am := testkit.StartAlertmanager(t, hook.URL)
	broker := startBroker(t, 4)
	common := []string{"--kafka-brokers", broker, "--detect-checkpoint-every", "1s", "--alertmanager-url", am, "--alert-resolve-hold", "1s"}
	role := func(stages string) func() *proc {
		return func() *proc { return start(t, t.TempDir(), "", "", append([]string{"--stages", stages}, common...)...) }
	}
	var d scaleOut
	d.front = role("collectors,writer")()
	d.alerters[0], d.alerters[1] = startLeaseHolders(t, role("alerter,correlator"), role("alerter,correlator"))
	d.detectors[0] = role("detect")()
	d.detectors[1] = role("detect")()
	scaleOutSurvivesKillDashNine(t, d, am, hooks)
}

// The same with two full processes (every stage) sharing a ClickHouse
// server, where CLICKHOUSE_ADDR names a modern one (docker compose up
// clickhouse); the embedded engine cannot be shared by two processes.
func TestScaleOutTwoFullProcessesOnServer(t *testing.T) {
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR not set: two full processes need a shared ClickHouse server >= 24 (docker compose up clickhouse); the embedded engine belongs to one process")
	}
	user, pass := os.Getenv("CLICKHOUSE_USER"), os.Getenv("CLICKHOUSE_PASSWORD")
	if user == "" {
		user = "default"
	}
	db := fmt.Sprintf("firebreak_scaleout_%d", time.Now().UnixNano())
	setup := fmt.Sprintf("clickhouse://%s:%s@%s/default", url.QueryEscape(user), url.QueryEscape(pass), addr)
	if out, err := exec.Command("go", "run", "../../internal/testkit/chexec", setup, "CREATE DATABASE "+db).CombinedOutput(); err != nil {
		t.Fatalf("create database: %v\n%s", err, out)
	}
	dsn := fmt.Sprintf("clickhouse://%s:%s@%s/%s", url.QueryEscape(user), url.QueryEscape(pass), addr, db)

	hooks := &webhookLog{}
	hook := httptest.NewServer(hooks)
	defer hook.Close()
	am := testkit.StartAlertmanager(t, hook.URL)
	broker := startBroker(t, 4)
	full := func() *proc {
		return start(t, t.TempDir(), "", "", "--kafka-brokers", broker, "--clickhouse-dsn", dsn,
			"--detect-checkpoint-every", "1s", "--alertmanager-url", am, "--alert-resolve-hold", "1s")
	}
	// The first holds the leases and dies; the second takes remote_write and
	// queries throughout (both run every stage, writer included).
	victim, survivor := startLeaseHolders(t, full, full)
	scaleOutSurvivesKillDashNine(t, scaleOut{front: survivor, detectors: [2]*proc{victim, survivor},
		alerters: [2]*proc{victim, survivor}}, am, hooks)
}

func scaleOutSurvivesKillDashNine(t *testing.T, d scaleOut, am string, hooks *webhookLog) {
	victimD, survivorD := d.detectors[0], d.detectors[1]
	waitUntil(t, 60*time.Second, "both detector processes to own partitions", func() bool {
		return logContains(survivorD.logPath, "detector partition assigned") && logContains(victimD.logPath, "detector partition assigned") &&
			metricSum(t, victimD.base, "firebreak_detector_series") == 0 // nothing sent yet
	})
	// Let the group settle: the victim gives up the survivor's partitions.
	time.Sleep(3 * time.Second)

	// 40 series, 400 points each a second apart, ending 6 minutes ago: old
	// enough that the detectors' silence clock moves only with the points
	// (the processes' pauses below page nothing), recent enough to page
	// (the alerter ignores events older than 15 minutes). Service pay's
	// three series end on a spike.
	const nSeries, history, more = 40, 400, 30
	end := time.Now().Add(-6 * time.Minute).Truncate(time.Second)
	t0 := end.Add(-(history - 1) * time.Second).UnixMilli()
	service := func(s int) string {
		switch {
		case s < 3:
			return "pay"
		case s < 6:
			return "cart"
		}
		return fmt.Sprintf("svc%d", s%6)
	}
	points := func(s, from, to int, spikeAt int) prompb.TimeSeries {
		ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "scaleout_latency_seconds"},
			{Name: "instance", Value: fmt.Sprintf("host-%02d", s)}, {Name: "service", Value: service(s)}}}
		level := 0.1 + 0.01*float64(s)
		for p := from; p < to; p++ {
			v := level + 0.002*float64((s*31+p*17)%7)
			if p == spikeAt {
				v = 40 * level
			}
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t0 + int64(p)*1000, Value: v})
		}
		return ts
	}
	sender := workload.NewSender(d.front.base + "/api/v1/write")
	req := &prompb.WriteRequest{}
	for s := 0; s < nSeries; s++ {
		spike := -1
		if service(s) == "pay" {
			spike = history - 1
		}
		req.Timeseries = append(req.Timeseries, points(s, 0, history, spike))
	}
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	// Before the kill: both detectors hold series, every point has its
	// band, pay pages and has an incident.
	bands := func() []int64 {
		return d.front.sqlInts(t, "SELECT count(), countIf(learning = 1) FROM bands FINAL WHERE metric_name = 'scaleout_latency_seconds'")
	}
	waitUntil(t, 60*time.Second, "a band for every point", func() bool { return bands()[0] == nSeries*history })
	victimSeries, survivorSeries := metricSum(t, victimD.base, "firebreak_detector_series"), metricSum(t, survivorD.base, "firebreak_detector_series")
	if victimSeries == 0 || survivorSeries == 0 || victimSeries+survivorSeries != nSeries {
		t.Fatalf("detector processes hold %v and %v series, want both some and %d in all", victimSeries, survivorSeries, nSeries)
	}
	t.Logf("before the kill: the detector processes hold %v and %v series", victimSeries, survivorSeries)
	active := func(svc string) map[string]testkit.AMAlert {
		out := map[string]testkit.AMAlert{}
		for _, a := range testkit.ActiveAlerts(t, am) {
			if a.Labels["service"] == svc && a.Status.State == "active" {
				out[labelKey(a.Labels)] = a
			}
		}
		return out
	}
	// Whether the alerter pages per series or per service is its own
	// business: the test takes whatever alerts pay has, once they settle.
	settled := func(svc string) map[string]testkit.AMAlert {
		waitUntil(t, 90*time.Second, svc+"'s alerts in Alertmanager", func() bool { return len(active(svc)) > 0 })
		time.Sleep(2 * time.Second)
		return active(svc)
	}
	payAlerts := settled("pay")
	var before incidentList
	waitUntil(t, 60*time.Second, "pay's incident", func() bool {
		getJSON(t, d.front.base+"/api/v1/incidents?service=pay", &before)
		return len(before.Incidents) == 1
	})
	incidentID := before.Incidents[0].ID
	restoredBefore := metricSum(t, survivorD.base, "firebreak_detector_restored_series_total")
	for name, p := range map[string]*proc{"front": d.front, "detector": victimD, "alerter/correlator": d.alerters[0], "standby": d.alerters[1]} {
		t.Logf("resident memory of the %s process: %.0f MiB", name, metricSum(t, p.base, "process_resident_memory_bytes")/(1<<20))
	}
	time.Sleep(2500 * time.Millisecond) // checkpoints after the last point

	// kill -9 the victims together, then the next minute of data arrives
	// while their partitions and leases are orphaned: 30 more points for
	// every series but pay's, cart's three ending on a spike.
	killed := time.Now()
	victims := map[*proc]bool{victimD: true, d.alerters[0]: true}
	for p := range victims {
		p.kill9(t)
	}
	req = &prompb.WriteRequest{}
	for s := 3; s < nSeries; s++ {
		spike := -1
		if service(s) == "cart" {
			spike = history + more - 1
		}
		req.Timeseries = append(req.Timeseries, points(s, history, history+more, spike))
	}
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	// The survivor detects on every partition, from the victim's
	// checkpoints: every point has its band and no series learned again.
	waitUntil(t, 90*time.Second, "the surviving detector to take every partition over", func() bool {
		return metricSum(t, survivorD.base, "firebreak_detector_series") == nSeries
	})
	t.Logf("detector partitions taken over %v after the kill", time.Since(killed).Round(time.Millisecond))
	// The rebalance revokes and reassigns every partition (kafka-go's
	// groups are eager), so the survivor restores its own series too: all
	// of them come from checkpoints, none is new.
	if got := metricSum(t, survivorD.base, "firebreak_detector_restored_series_total") - restoredBefore; got != nSeries {
		t.Fatalf("the survivor restored %v series from checkpoints after the kill, want all %d (the victim held %v)", got, nSeries, victimSeries)
	}
	want := int64(nSeries*history + (nSeries-3)*more)
	waitUntil(t, 60*time.Second, "a band for every point after the hand-over", func() bool { return bands()[0] == want })
	if b := bands(); b[1] != nSeries*30 {
		t.Fatalf("%d bands in the learning state, want %d (each series' first 30 points): a series relearned after the hand-over", b[1], nSeries*30)
	}

	// The standby alerter pages cart; pay's alerts are the same alerts.
	cartAlerts := settled("cart")
	t.Logf("cart paged %v after the kill; pay has %d alerts, cart %d", time.Since(killed).Round(time.Millisecond), len(payAlerts), len(cartAlerts))
	if !leads(d.alerters[1], alerterLease) || !leads(d.alerters[1], correlatorLease) {
		t.Fatalf("the standby does not say it took the leases over:\n%s\n%s", lastLogLine(d.alerters[1], "group="+alerterLease), lastLogLine(d.alerters[1], "group="+correlatorLease))
	}
	if now := active("pay"); len(now) != len(payAlerts) {
		t.Errorf("pay has %d alerts after the hand-over, %d before", len(now), len(payAlerts))
	}
	for k, a := range active("pay") {
		if was, ok := payAlerts[k]; !ok || !was.StartsAt.Equal(a.StartsAt) {
			t.Errorf("pay alert %s after the hand-over: startsAt %v, before %v (present before: %v)", k, a.StartsAt, was.StartsAt, ok)
		}
	}
	all := testkit.ActiveAlerts(t, am)
	seen := map[string]bool{}
	for _, a := range all {
		k := labelKey(a.Labels)
		if seen[k] || a.Labels["kind"] != "anomaly" {
			t.Errorf("Alertmanager holds an unexpected or repeated alert: %v", a.Labels)
		}
		seen[k] = true
	}
	if len(all) != len(payAlerts)+len(cartAlerts) {
		t.Errorf("Alertmanager holds %d alerts, want %d (pay's and cart's)", len(all), len(payAlerts)+len(cartAlerts))
	}
	waitUntil(t, 30*time.Second, "webhook notifications of cart's alerts", func() bool {
		starts, _ := hooks.startsAt()
		n := 0
		for k := range starts {
			if strings.Contains(k, `service="cart"`) {
				n++
			}
		}
		return n == len(cartAlerts)
	})
	starts, resolved := hooks.startsAt()
	for k, s := range starts {
		if len(s) != 1 || resolved[k] {
			t.Errorf("alert %s notified with startsAt %v, resolved %v: want one startsAt and never resolved", k, s, resolved[k])
		}
	}
	// On record: one firing transition per alert (and severity), one start.
	code, r := d.front.sql(t, "SELECT fingerprint, uniqExact(starts_at) AS starts, countIf(state = 'firing') AS firing, uniqExactIf(severity, state = 'firing') AS severities, countIf(state = 'resolved') AS resolved FROM alerts FINAL GROUP BY fingerprint")
	if code != 200 || len(r.Rows) != len(all) {
		t.Fatalf("alerts table: %d %s %s", code, r.Error, r.Rows)
	}
	for _, row := range r.Rows {
		if string(row[1]) != "1" || string(row[2]) != string(row[3]) || string(row[4]) != "0" {
			t.Errorf("alert %s: starts_at values, firing rows, severities, resolved rows = %s %s %s %s", row[0], row[1], row[2], row[3], row[4])
		}
	}

	// Incidents: pay's once under its id; cart's opened by the standby.
	var after incidentList
	waitUntil(t, 60*time.Second, "cart's incident, from the standby correlator", func() bool {
		getJSON(t, d.front.base+"/api/v1/incidents?service=cart", &after)
		return len(after.Incidents) == 1
	})
	getJSON(t, d.front.base+"/api/v1/incidents", &after)
	ids := map[string]int{}
	for _, in := range after.Incidents {
		ids[in.ID]++
	}
	if ids[incidentID] != 1 || len(after.Incidents) != 2 {
		t.Fatalf("after the hand-over: incidents %+v; want pay's %s once and cart's", after.Incidents, incidentID)
	}
}
