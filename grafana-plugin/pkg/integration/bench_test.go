package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// BenchmarkBandPanel24h measures what a Grafana time series panel with
// bands costs the backend: one metrics query with withBand over 24 hours
// of 100 series at one-minute resolution (144,000 points and as many
// bands, scored by the detector stage inside `firebreak run`), through the
// SDK's gRPC path, at a one-minute step (1,440 points a series, 500
// frames). It reports the p95 and median latency of the whole QueryData
// call.
//
//	go test ./pkg/integration -run '^$' -bench BandPanel24h -benchtime 20x
func BenchmarkBandPanel24h(b *testing.B) {
	e := firebreak(b)
	c := grpcPlugin(b)
	const series, points = 100, 24 * 60
	end := time.Now().Truncate(time.Minute).Add(-time.Minute)
	start := end.Add(-time.Duration(points-1) * time.Minute)
	if err := e.seedBench(series, points, start); err != nil {
		b.Fatal(err)
	}
	q := dq("band", "metrics", `{"selector":"{__name__=\"fbbench_latency_seconds\"}","aggregation":"avg","step":"1m","withBand":true}`)
	q.TimeRange = backend.TimeRange{From: start, To: end.Add(time.Minute)}
	q.Interval, q.MaxDataPoints = time.Minute, 1500
	req := &backend.QueryDataRequest{PluginContext: pluginContext("firebreak", e.settingsJSON(), nil), Queries: []backend.DataQuery{q}}
	run := func() time.Duration {
		t0 := time.Now()
		resp, err := c.QueryData(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		r := resp.Responses["band"]
		if r.Error != nil {
			b.Fatal(r.Error)
		}
		if len(r.Frames) != series*5 {
			b.Fatalf("%d frames, want %d (value and four band frames per series)", len(r.Frames), series*5)
		}
		if n := r.Frames[0].Fields[1].Len(); n < points-1 {
			b.Fatalf("%d points in the first series, want %d", n, points)
		}
		return time.Since(t0)
	}
	run() // warm the engine's caches and the plugin instance
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		lat = append(lat, run())
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[(len(lat)*95+99)/100-1].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// seedBench writes n series of points one-minute points from start through
// remote_write, and waits until their points and bands are stored.
func (e *env) seedBench(n, points int, start time.Time) error {
	want := n * points
	have, err := e.count("SELECT count() FROM samples_data FINAL WHERE metric_name = 'fbbench_latency_seconds'")
	if err != nil {
		return err
	}
	if have < want {
		// 10 series a request keeps each body small.
		for first := 0; first < n; first += 10 {
			var body []byte
			for k := first; k < min(first+10, n); k++ {
				var ts []byte
				for _, l := range [][2]string{{"__name__", "fbbench_latency_seconds"}, {"idx", fmt.Sprintf("%03d", k)}, {"service", "bench"}} {
					var lb []byte
					lb = protowire.AppendTag(lb, 1, protowire.BytesType)
					lb = protowire.AppendString(lb, l[0])
					lb = protowire.AppendTag(lb, 2, protowire.BytesType)
					lb = protowire.AppendString(lb, l[1])
					ts = protowire.AppendTag(ts, 1, protowire.BytesType)
					ts = protowire.AppendBytes(ts, lb)
				}
				for i := range points {
					// A daily shape with a little noise per series.
					v := 0.2 + 0.05*math.Sin(2*math.Pi*float64(i)/float64(points)) + 0.002*float64((i*7+k)%11)
					var smp []byte
					smp = protowire.AppendTag(smp, 1, protowire.Fixed64Type)
					smp = protowire.AppendFixed64(smp, math.Float64bits(v))
					smp = protowire.AppendTag(smp, 2, protowire.VarintType)
					smp = protowire.AppendVarint(smp, uint64(start.Add(time.Duration(i)*time.Minute).UnixMilli()))
					ts = protowire.AppendTag(ts, 2, protowire.BytesType)
					ts = protowire.AppendBytes(ts, smp)
				}
				body = protowire.AppendTag(body, 1, protowire.BytesType)
				body = protowire.AppendBytes(body, ts)
			}
			req, _ := http.NewRequest(http.MethodPost, e.base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, body)))
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("Content-Encoding", "snappy")
			req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("remote_write: HTTP %d: %s", resp.StatusCode, msg)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, sql := range []string{
		"SELECT count() FROM samples_data FINAL WHERE metric_name = 'fbbench_latency_seconds'",
		"SELECT count() FROM bands FINAL WHERE metric_name = 'fbbench_latency_seconds'",
	} {
		for {
			got, err := e.count(sql)
			if err != nil {
				return err
			}
			if got >= want {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %d rows, want %d after 5 minutes", sql, got, want)
			}
			time.Sleep(time.Second)
		}
	}
	return nil
}
