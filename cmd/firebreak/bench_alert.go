package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// alertLatencyResult is what `firebreak bench alert-latency` reports.
type alertLatencyResult struct {
	Series  int     `json:"series"`
	Seen    int     `json:"seen"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	Missing int     `json:"missing"`
}

func (r *alertLatencyResult) print(w io.Writer) {
	fmt.Fprintf(w, "remote_write → alert in Alertmanager: %d/%d series alerted; p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		r.Seen, r.Series, r.P50Ms, r.P99Ms, r.MaxMs)
}

// cmdBenchAlertLatency measures, for series with a learned baseline, the
// time from the remote_write carrying an anomalous point to the alert
// being visible in Alertmanager's GET /api/v2/alerts.
func cmdBenchAlertLatency(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench alert-latency", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak bench alert-latency: time from a remote_write with an anomalous point to the alert in Alertmanager (firebreak must run with --alertmanager-url pointing at the same Alertmanager).")
	base := fs.String("url", "http://127.0.0.1:8480", "firebreak's HTTP address")
	am := fs.String("alertmanager", "http://127.0.0.1:9093", "the Alertmanager firebreak sends to")
	n := fs.Int("series", 50, "series to spike, one at a time")
	gap := fs.Duration("gap", 200*time.Millisecond, "pause between spikes")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on an alert after this long")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sender := workload.NewSender(*base + "/api/v1/write")
	// A service per series: the alerter pages once per service, so series
	// of one service would join the first one's alert instead of paging.
	// Fresh services every run: an alert of an earlier run may still be
	// active in the Alertmanager.
	run := time.Now().Unix()
	service := func(i int) string { return fmt.Sprintf("bench-%d-%03d", run, i) }
	series := func(i int) []prompb.Label {
		return []prompb.Label{{Name: "__name__", Value: "bench_latency_seconds"},
			{Name: "instance", Value: fmt.Sprintf("bench-%03d", i)}, {Name: "service", Value: service(i)}}
	}
	normal := func(i, k int) float64 { return 0.1 + 0.002*float64((k+i)%7) }
	// History: two hours every 15 s, ending now, so baselines exist.
	now := time.Now().Truncate(time.Second)
	req := &prompb.WriteRequest{}
	for i := 0; i < *n; i++ {
		ts := prompb.TimeSeries{Labels: series(i)}
		for k := 480; k > 0; k-- {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: now.Add(-time.Duration(k) * 15 * time.Second).UnixMilli(),
				Value: normal(i, k)})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	if err := sender.Send(ctx, req); err != nil {
		return fmt.Errorf("send history to %s: %w", *base, err)
	}
	fmt.Fprintf(os.Stderr, "bench alert-latency: sent 2 h of history for %d series; letting the detector catch up\n", *n)
	time.Sleep(3 * time.Second)

	var lat []time.Duration
	missing := 0
	for i := 0; i < *n; i++ {
		// Every series gets a point with each spike, as a scrape would
		// send them: a series left without points is soon silent, and a
		// silent source's anomalies do not page.
		at := time.Now().UnixMilli()
		spike := &prompb.WriteRequest{}
		for j := 0; j < *n; j++ {
			v := normal(j, 0)
			if j == i {
				v = 5
			}
			spike.Timeseries = append(spike.Timeseries, prompb.TimeSeries{Labels: series(j),
				Samples: []prompb.Sample{{Timestamp: at, Value: v}}})
		}
		start := time.Now()
		if err := sender.Send(ctx, spike); err != nil {
			return err
		}
		for {
			ok, err := alertVisible(ctx, *am, service(i))
			if err != nil {
				return err
			}
			if ok {
				lat = append(lat, time.Since(start))
				break
			}
			if time.Since(start) > *timeout {
				missing++
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if (i+1)%10 == 0 || i+1 == *n {
			fmt.Fprintf(os.Stderr, "bench alert-latency: %d/%d spikes, %d alerts seen\n", i+1, *n, len(lat))
		}
		time.Sleep(*gap)
	}
	if len(lat) == 0 {
		return errors.New("bench alert-latency: no alert reached Alertmanager; is firebreak running with --alertmanager-url " + *am + "?")
	}
	slices.Sort(lat)
	res := &alertLatencyResult{Series: *n, Seen: len(lat), Missing: missing,
		P50Ms: ms(quantile(lat, 0.5)), P99Ms: ms(quantile(lat, 0.99)), MaxMs: ms(lat[len(lat)-1])}
	writeBenchResult(res, *jsonOut)
	return nil
}

// alertVisible asks Alertmanager whether the anomaly alert of service exists.
func alertVisible(ctx context.Context, am, service string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(am, "/")+"/api/v2/alerts?filter=service%3D%22"+service+"%22", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("ask Alertmanager: %w", err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return false, fmt.Errorf("Alertmanager answer: %w", err)
	}
	for _, a := range alerts {
		if a.Labels["service"] == service && a.Labels["kind"] == "anomaly" {
			return true, nil
		}
	}
	return false, nil
}
