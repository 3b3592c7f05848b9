package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	fbapi "github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// BenchmarkBandPanel24h measures what a Grafana time series panel with
// bands costs the backend: one metrics query with withBand over 24 hours
// of 100 series at one-minute resolution (144,000 points and as many
// bands, scored by the detector stage inside `firebreak run`), through the
// SDK's gRPC path, at a one-minute step (1,440 points a series; one wide
// frame, a value and three band fields per series: expected, lower,
// upper). The plugin is built
// from this tree and runs in a process of its own, started as Grafana
// starts it (pluginProcess); this process plays Grafana, decoding the
// answer. It reports the p95 and median latency of the whole QueryData
// call, and the CPU time per call of the firebreak process (read API and
// engine), of the plugin's process (its work, the SDK's encoding and its
// garbage collector) and of this one (Grafana's side: gRPC and decoding
// the frames): on a shared machine these move less with the load than
// the latency does.
//
// Three cases: "cold", a data source without the step cache (what a panel
// costs when first opened, or with stepCacheSeconds 0), every call the same
// range; "cold+score", the same with withScore too (a fourth band field a
// series, the anomaly score); and "refresh", a wall screen's panel
// refreshed every 10 s: each call's range 10 s later than the last, the
// step cache on (the default), after one call that fills it.
//
//	go test ./pkg/integration -run '^$' -bench BandPanel24h -benchtime 20x
func BenchmarkBandPanel24h(b *testing.B) {
	e := firebreak(b)
	c := startedPlugin(b)
	const series, points = benchSeriesCount, benchPoints
	start, end := e.benchSeries(b)
	noCache, err := json.Marshal(map[string]any{"url": e.base, "timeoutSeconds": 20, "stepCacheSeconds": 0})
	if err != nil {
		b.Fatal(err)
	}
	cold := pluginContext("firebreak-bench-cold", noCache, nil)
	for _, tc := range []struct {
		name      string
		pc        backend.PluginContext
		refresh   time.Duration // how much later each call's range is
		withScore bool
	}{
		{"cold", cold, 0, false},
		{"cold+score", cold, 0, true},
		{"refresh", pluginContext("firebreak-bench-refresh", e.settingsJSON(), nil), 10 * time.Second, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := dq("band", "metrics", fmt.Sprintf(`{"selector":"{__name__=\"fbbench_latency_seconds\"}","aggregation":"avg","step":"1m","withBand":true,"withScore":%t}`, tc.withScore))
			fieldsPerSeries := 4
			if tc.withScore {
				fieldsPerSeries = 5
			}
			q.Interval, q.MaxDataPoints = time.Minute, 1500
			calls := 0
			run := func() time.Duration {
				shift := time.Duration(calls) * tc.refresh
				calls++
				q.TimeRange = backend.TimeRange{From: start.Add(shift), To: end.Add(time.Minute + shift)}
				req := &backend.QueryDataRequest{PluginContext: tc.pc, Queries: []backend.DataQuery{q}}
				t0 := time.Now()
				resp, err := c.QueryData(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(t0)
				r := resp.Responses["band"]
				if r.Error != nil {
					b.Fatal(r.Error)
				}
				if len(r.Frames) != 1 || len(r.Frames[0].Fields) != 1+series*fieldsPerSeries {
					b.Fatalf("%d frames, want one wide frame of time and per series a value and its band fields", len(r.Frames))
				}
				if n := r.Frames[0].Rows(); n < points-1-calls/6 {
					b.Fatalf("%d steps, want %d", n, points)
				}
				return took
			}
			run() // warm the engine's caches and the plugin instance (and fill the step cache)
			// firebreak works in the background too (the detector, the engine's
			// merges after the seeding): its CPU time while idle, per second, is
			// part of firebreak-cpu-ms/op in proportion to the calls' wall time.
			idle0 := processCPU(b, e.pid)
			time.Sleep(2 * time.Second)
			idle := float64((processCPU(b, e.pid) - idle0).Microseconds()) / 1000 / 2
			lat := make([]time.Duration, 0, b.N)
			firebreakCPU0, pluginCPU0, selfCPU0 := processCPU(b, e.pid), processCPU(b, c.pid), selfCPU(b)
			b.ResetTimer()
			for range b.N {
				lat = append(lat, run())
			}
			b.StopTimer()
			b.ReportMetric(idle, "firebreak-idle-cpu-ms/s")
			b.ReportMetric(float64((processCPU(b, e.pid)-firebreakCPU0).Microseconds())/1000/float64(b.N), "firebreak-cpu-ms/op")
			b.ReportMetric(float64((processCPU(b, c.pid)-pluginCPU0).Microseconds())/1000/float64(b.N), "plugin-cpu-ms/op")
			b.ReportMetric(float64((selfCPU(b)-selfCPU0).Microseconds())/1000/float64(b.N), "grafana-side-cpu-ms/op")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[(len(lat)*95+99)/100-1].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// BenchmarkBandPanelStatements measures the firebreak side of the band
// panel alone: the CPU time firebreak spends per call on each statement
// the panel sends (the series lookup, then the values and the bands of all
// 100 series, each one statement answered as Arrow), in rounds of eight
// calls, the median round reported. Sequential calls, so the figures are
// the read API's and the engine's work, not waiting for a core; what
// firebreak does in the background meanwhile (firebreak-idle-cpu-ms/s) is
// included.
//
//	go test ./pkg/integration -run '^$' -bench BandPanelStatements -benchtime 1x
func BenchmarkBandPanelStatements(b *testing.B) {
	e := firebreak(b)
	const series = benchSeriesCount
	start, end := e.benchSeries(b)
	c := fbapi.New(e.base, "", time.Minute)
	ctx := context.Background()
	selector := []string{`{__name__="fbbench_latency_seconds"}`}
	ids := seriesIDs(b, c, "fbbench_latency_seconds")
	from, to := start, end.Add(time.Minute)
	values, err := query.SeriesValuesSQL("fbbench_latency_seconds", ids, time.Minute, "avg", from, to, query.Skip{})
	if err != nil {
		b.Fatal(err)
	}
	bands, err := query.SeriesBandsSQL("fbbench_latency_seconds", ids, query.BandColumns, time.Minute, "avg", from, to, query.Skip{})
	if err != nil {
		b.Fatal(err)
	}
	sql := func(statement string) func() error {
		return func() error {
			table, err := c.SQLTable(ctx, statement)
			if err == nil {
				table.Release()
			}
			return err
		}
	}
	calls := []struct {
		metric string
		call   func() error
	}{
		{"series-cpu-ms", func() error { _, err := c.Series(ctx, selector, start, series+1); return err }},
		{"values-cpu-ms", sql(values)},
		{"bands-cpu-ms", sql(bands)},
	}
	idle0 := processCPU(b, e.pid)
	time.Sleep(2 * time.Second)
	idle := float64((processCPU(b, e.pid) - idle0).Microseconds()) / 1000 / 2
	const rounds, perRound = 5, 8
	perCall := make([][]float64, len(calls))
	b.ResetTimer()
	for range b.N {
		for range rounds {
			for i, call := range calls {
				cpu0 := processCPU(b, e.pid)
				for range perRound {
					if err := call.call(); err != nil {
						b.Fatalf("%s: %v", call.metric, err)
					}
				}
				perCall[i] = append(perCall[i], float64((processCPU(b, e.pid)-cpu0).Microseconds())/1000/perRound)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(idle, "firebreak-idle-cpu-ms/s")
	for i, call := range calls {
		slices.Sort(perCall[i])
		b.ReportMetric(perCall[i][len(perCall[i])/2], call.metric)
	}
}

// The benchmarks' data: benchSeriesCount series of benchPoints one-minute
// points (24 hours), metric fbbench_latency_seconds.
const benchSeriesCount, benchPoints = 100, 24 * 60

// benchSeries seeds the benchmarks' data, once a process, and returns its
// first and last minute.
func (e *env) benchSeries(tb testing.TB) (start, end time.Time) {
	tb.Helper()
	end = time.Now().Truncate(time.Minute).Add(-time.Minute)
	start = end.Add(-time.Duration(benchPoints-1) * time.Minute)
	if err := e.seedBench(benchSeriesCount, benchPoints, start); err != nil {
		tb.Fatal(err)
	}
	return start, end
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

// processCPU is the user and system CPU time a process has used, from
// /proc/PID/stat (in clock ticks of 10 ms: Linux's USER_HZ is 100).
func processCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("reading process %d's CPU time: %v", pid, err)
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. utime and stime are fields 14 and 15.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
