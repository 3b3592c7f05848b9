package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// tenMillion is the ingest of issue 8: 10,000 series × 1,000 points, sent
// by several remote_write senders in 50,000-sample requests.
type tenMillion struct {
	series, points, chunk, senders int
	t0                             int64 // first point, unix ms; points are 1 s apart
	labels                         [][]prompb.Label
	spikeSeries                    int // series 0..spikeSeries-1 (service "pay") spike once
	spikeAt                        int // at this point index
}

func newTenMillion(end time.Time) *tenMillion {
	g := &tenMillion{series: 10_000, points: 1_000, chunk: 20, senders: 4, spikeSeries: 3, spikeAt: 300}
	g.t0 = end.Add(-time.Duration(g.points) * time.Second).UnixMilli()
	for s := 0; s < g.series; s++ {
		svc := fmt.Sprintf("svc%02d", s%40)
		if s < g.spikeSeries {
			svc = "pay"
		}
		g.labels = append(g.labels, []prompb.Label{{Name: "__name__", Value: killnineMetric},
			{Name: "instance", Value: fmt.Sprintf("host-%05d", s)}, {Name: "service", Value: svc}})
	}
	return g
}

func (g *tenMillion) total() int64 { return int64(g.series * g.points) }

const killnineMetric = "killnine_latency_seconds"

// waitStored polls until the store holds want samples of metric
// (firebreak's own metrics share the table) or the timeout passes.
func (p *proc) waitStored(t *testing.T, metric string, want int64, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := p.sqlInts(t, "SELECT count() FROM samples WHERE metric_name = '"+metric+"'")[0]
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Second) // each count reads up to 10M rows FINAL: do not add load
	}
}

// ts is the time of point p.
func (g *tenMillion) ts(p int) int64 { return g.t0 + int64(p)*1000 }

// request is sender k's share of chunk c: its quarter of the series, chunk
// points each. Values are a per-series level with a little noise; the
// spike series jump 40× once.
func (g *tenMillion) request(k, c int) *prompb.WriteRequest {
	per := g.series / g.senders
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, per)}
	for s := k * per; s < (k+1)*per; s++ {
		ts := prompb.TimeSeries{Labels: g.labels[s], Samples: make([]prompb.Sample, 0, g.chunk)}
		level := 0.1 + 0.01*float64(s%50)
		for p := c * g.chunk; p < (c+1)*g.chunk; p++ {
			v := level + 0.002*float64((s*31+p*17)%7)
			if s < g.spikeSeries && p == g.spikeAt {
				v = 40 * level
			}
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: g.ts(p), Value: v})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	return req
}

// send runs the senders chunk by chunk: every sender sends its share of a
// chunk before any starts the next, so no series falls more than two
// chunks (40 s of event time) behind its partition and nothing looks
// silent to the detectors. Before chunk pauseAt it waits for resume to
// close. Senders retry across a dead process (the collector's 503s and
// refused connections).
func (g *tenMillion) send(ctx context.Context, url string, pauseAt int, paused chan<- struct{}, resume <-chan struct{}, acked *atomic.Int64) error {
	senders := make([]*workload.Sender, g.senders)
	for k := range senders {
		senders[k] = workload.NewSender(url)
		senders[k].MaxAttempts = 2000 // keep retrying while the process is down
		senders[k].Client.Timeout = 10 * time.Second
	}
	for c := 0; c < g.points/g.chunk; c++ {
		if c == pauseAt {
			close(paused)
			select {
			case <-resume:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, g.senders)
		for k := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = senders[k].Send(ctx, g.request(k, c))
				if errs[k] == nil {
					acked.Add(int64(g.series / g.senders * g.chunk))
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("chunk %d: %w", c, err)
			}
		}
	}
	return nil
}

// sqlInts runs a query whose single row is integers.
func (p *proc) sqlInts(t *testing.T, q string) []int64 {
	t.Helper()
	code, r := p.sql(t, q)
	if code != 200 || len(r.Rows) != 1 {
		t.Fatalf("%s: %d %s %v", q, code, r.Error, r.Rows)
	}
	out := make([]int64, len(r.Rows[0]))
	for i, v := range r.Rows[0] {
		if err := json.Unmarshal(v, &out[i]); err != nil {
			t.Fatalf("%s: column %d is %s", q, i, v)
		}
	}
	return out
}

// metricSum is the sum of every sample of a metric family on /metrics.
func metricSum(t *testing.T, base, name string) float64 {
	t.Helper()
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(scrape(t, base)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

type incidentList struct {
	Incidents []struct {
		ID       string   `json:"id"`
		Services []string `json:"services"`
		OpenedMs int64    `json:"opened_ms"`
	} `json:"incidents"`
}

// kill -9 of the whole process in the middle of a 10M-sample ingest, then
// a restart: exactly the samples sent are stored, every detector baseline
// resumes from its checkpoint (no series learns again, bands continue on
// the same one-a-minute grid) and the incident opened before the kill is
// there once, under the same id.
func TestKillDashNineTenMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("10M samples: not in -short")
	}
	dataDir := t.TempDir()
	httpAddr, brokerAddr := freeAddr(t), freeAddr(t)
	// Bands one a minute per series (170,000 in all, not 10M); checkpoints
	// every second so the kill finds recent ones; data ends 6 minutes ago
	// so it is history to the detectors' silence clock, which then moves
	// only with the points.
	// The checks read 10M rows FINAL: on a busy 2-core machine that can
	// pass the default 30 s query timeout.
	flags := []string{"--band-every", "1m", "--detect-checkpoint-every", "1s", "--sql-timeout", "3m"}
	p := start(t, dataDir, httpAddr, brokerAddr, flags...)
	g := newTenMillion(time.Now().Add(-6 * time.Minute).Truncate(time.Second))

	began := time.Now()
	const pauseAt, killAfter = 25, 1_000_000 // the kill comes ~1M samples after the pause
	paused, resume := make(chan struct{}), make(chan struct{})
	var acked atomic.Int64
	sent := make(chan error, 1)
	go func() { sent <- g.send(context.Background(), p.base+"/api/v1/write", pauseAt, paused, resume, &acked) }()

	// Half way (500 points of every series): everything learned so far is
	// checkpointed, and the spike at point 300 has opened an incident.
	select {
	case <-paused:
	case err := <-sent:
		t.Fatalf("sender stopped before the pause: %v", err)
	}
	half := int64(g.series * pauseAt * g.chunk)
	if n := p.waitStored(t, killnineMetric, half, 120*time.Second); n != half {
		t.Fatalf("before the kill the store holds %d samples, want %d", n, half)
	}
	t.Logf("first %d samples stored %v after the first send", half, time.Since(began).Round(time.Millisecond))
	lastBand := g.ts(pauseAt*g.chunk - 1)
	lastBand -= (lastBand - g.t0) % 60_000 // bands fall on the series' one-minute grid from t0
	waitUntil(t, 120*time.Second, "bands of every series up to the pause", func() bool {
		return p.sqlInts(t, fmt.Sprintf("SELECT uniqExact(series_id) FROM bands WHERE metric_name = '%s' AND time >= fromUnixTimestamp64Milli(%d)", killnineMetric, lastBand))[0] == int64(g.series)
	})
	var before incidentList
	waitUntil(t, 60*time.Second, "the spike's incident", func() bool {
		getJSON(t, p.base+"/api/v1/incidents?service=pay", &before)
		return len(before.Incidents) == 1
	})
	incidentID := before.Incidents[0].ID
	time.Sleep(2500 * time.Millisecond) // a checkpoint after the last point
	checkpointed := metricSum(t, p.base, "firebreak_detector_checkpoint_series_total")

	// Resume the ingest and kill -9 while requests are in flight: as soon as
	// killAfter more samples are acknowledged (in Kafka, most not stored
	// yet). Waiting for them to be stored instead let a fast machine
	// acknowledge the whole ingest before the kill.
	close(resume)
	deadline := time.Now().Add(120 * time.Second)
	for acked.Load() < half+killAfter {
		if time.Now().After(deadline) {
			t.Fatalf("%d samples acknowledged 120 s after the resume, want %d", acked.Load(), half+killAfter)
		}
		time.Sleep(time.Millisecond)
	}
	p.kill9(t)
	atKill := acked.Load()
	t.Logf("kill -9 with %d of %d samples acknowledged, %v after the first send",
		atKill, g.total(), time.Since(began).Round(time.Millisecond))
	if atKill >= g.total() {
		t.Fatal("the senders finished before the kill: the test proves nothing")
	}

	restarted := time.Now()
	p2 := start(t, dataDir, httpAddr, brokerAddr, flags...)
	t.Logf("restart to healthy: %v", time.Since(restarted).Round(time.Millisecond))
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	t.Logf("all %d samples acknowledged %v after the first send", g.total(), time.Since(began).Round(time.Millisecond))
	if n := p2.waitStored(t, killnineMetric, g.total(), 180*time.Second); n != g.total() {
		t.Fatalf("after kill -9 and restart the store holds %d samples, want exactly %d", n, g.total())
	}
	t.Logf("all %d samples stored %v after the first send", g.total(), time.Since(began).Round(time.Millisecond))
	got := p2.sqlInts(t, "SELECT count(), uniqExact(series_id, time), uniqExact(series_id) FROM samples WHERE metric_name = '"+killnineMetric+"'")
	if got[0] != g.total() || got[1] != g.total() || got[2] != int64(g.series) {
		t.Fatalf("count, distinct (series, time), series = %v, want %d, %d, %d", got, g.total(), g.total(), g.series)
	}

	// Baselines: the restarted detector restored every series and learned
	// on; each series has exactly its one-a-minute bands, and only its
	// first (point 0) is in the learning state. A series that relearned
	// after the restart would show a second learning band off the grid.
	if restored := metricSum(t, p2.base, "firebreak_detector_restored_series_total"); restored != float64(g.series) {
		t.Fatalf("restarted detector restored %v series, want %d (checkpointed before the kill: %v)", restored, g.series, checkpointed)
	}
	perSeries := int64((g.points-1)/60 + 1)
	lastGrid := g.t0 + (perSeries-1)*60_000
	waitUntil(t, 120*time.Second, "bands of every series up to the last point", func() bool {
		return p2.sqlInts(t, fmt.Sprintf("SELECT uniqExact(series_id) FROM bands WHERE metric_name = '%s' AND time = fromUnixTimestamp64Milli(%d)", killnineMetric, lastGrid))[0] == int64(g.series)
	})
	bands := p2.sqlInts(t, "SELECT count(), countIf(learning = 1), countIf(learning = 1 AND time > fromUnixTimestamp64Milli("+
		strconv.FormatInt(g.t0, 10)+")), countIf(toUnixTimestamp64Milli(time) % 60000 != "+strconv.FormatInt(g.t0%60_000, 10)+") FROM bands FINAL WHERE metric_name = '"+killnineMetric+"'")
	if bands[0] != int64(g.series)*perSeries || bands[1] != int64(g.series) || bands[2] != 0 || bands[3] != 0 {
		t.Fatalf("bands, learning, learning after the first point, off the minute grid = %v; want %d, %d, 0, 0",
			bands, int64(g.series)*perSeries, g.series)
	}
	t.Logf("detector: %v series restored, %v points learned and %v replayed points skipped after the restart",
		metricSum(t, p2.base, "firebreak_detector_restored_series_total"), metricSum(t, p2.base, "firebreak_detector_points_total"),
		metricSum(t, p2.base, "firebreak_detector_points_skipped_total"))

	// The incident: once, same id, still naming the service.
	var after incidentList
	getJSON(t, p2.base+"/api/v1/incidents", &after)
	n := 0
	for _, in := range after.Incidents {
		if in.ID == incidentID {
			n++
		}
		for _, s := range in.Services {
			if s == "pay" && in.ID != incidentID {
				t.Errorf("a second incident for service pay after the restart: %+v", in)
			}
		}
	}
	if n != 1 {
		t.Fatalf("incident %s appears %d times after the restart, want once: %+v", incidentID, n, after.Incidents)
	}
	raw := p2.sqlInts(t, "SELECT count() FROM samples_data WHERE metric_name = '"+killnineMetric+"'")
	t.Logf("raw rows before merges %d (replays collapse by (series, time)); incidents after restart: %d", raw[0], len(after.Incidents))
}
