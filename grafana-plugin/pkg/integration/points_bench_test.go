package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	fbapi "github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// BenchmarkBandPanelPoints compares, for the band panel (100 series × 24 h
// of one-minute points, avg at a 1 m step, with bands), the engine's
// per-step statements (query.SeriesValuesSQL, SeriesBandsSQL, read by
// converters.StepsBySeries) with the points statements
// (query.SeriesPointsSQL, SeriesBandPointsSQL, aggregated in Go by
// converters.ValueStepsFromPoints, BandStepsFromPoints). Per statement, in
// rounds of eight sequential calls, the median round: the firebreak
// process's CPU a call (`…-cpu-ms`, read API and engine, with what it does
// in the background meanwhile, firebreak-idle-cpu-ms/s), the test
// process's (`…-plugin-cpu-ms`: the HTTP call, reading the Arrow answer
// and the steps, as the plugin would) and the wall time (`…-wall-ms`).
// `band-tuples` is the bands' points as one groupArray of tuples, the
// form that keeps a series' columns aligned whatever the limit cuts, for
// comparison (the converters read the separate arrays, trusted only when
// the limit cut nothing).
//
//	go test ./pkg/integration -run '^$' -bench BandPanelPoints -benchtime 1x
func BenchmarkBandPanelPoints(b *testing.B) {
	e := firebreak(b)
	const series = benchSeriesCount
	start, end := e.benchSeries(b)
	c := fbapi.New(e.base, "", time.Minute)
	ctx := context.Background()
	const metric = "fbbench_latency_seconds"
	ids := seriesIDs(b, c, metric)
	var err error
	from, to := start, end.Add(time.Minute)
	sqls := map[string]string{}
	for name, build := range map[string]func() (string, error){
		"values": func() (string, error) {
			return query.SeriesValuesSQL(metric, ids, time.Minute, "avg", from, to, query.Skip{})
		},
		"bands": func() (string, error) {
			return query.SeriesBandsSQL(metric, ids, query.BandColumns, time.Minute, "avg", from, to, query.Skip{})
		},
		"points-values": func() (string, error) { return query.SeriesPointsSQL(metric, ids, from, to, pointsLimit, query.Skip{}) },
		"points-bands": func() (string, error) {
			return query.SeriesBandPointsSQL(metric, ids, query.BandColumns, from, to, pointsLimit, query.Skip{})
		},
	} {
		if sqls[name], err = build(); err != nil {
			b.Fatal(err)
		}
	}
	// SeriesBandPointsSQL's statement with the columns in one array of
	// tuples.
	sqls["band-tuples"] = fmt.Sprintf(`SELECT series_id AS id, count() AS n,
  groupArray(%d)((toUnixTimestamp64Milli(time), expected, lower, upper, score)) AS points
FROM bands FINAL
WHERE metric_name = '%s' AND series_id IN (%s) AND learning = 0
  AND time >= fromUnixTimestamp64Milli(%d) AND time <= fromUnixTimestamp64Milli(%d)
GROUP BY series_id`, pointsLimit, metric, strings.Join(ids, ", "), from.UnixMilli(), to.UnixMilli())

	// Each call fetches and reads an answer as the plugin would; every
	// reader must give all 100 series.
	read := func(sql string, steps func(*fbapi.Table) (int, error)) func() error {
		return func() error {
			table, err := c.SQLTable(ctx, sql)
			if err != nil {
				return err
			}
			defer table.Release()
			n, err := steps(table)
			if err == nil && n != series {
				err = fmt.Errorf("%d series read, want %d", n, series)
			}
			return err
		}
	}
	perStep := func(t *fbapi.Table) (int, error) {
		s, err := converters.StepsBySeries(t)
		return len(s), err
	}
	fromPoints := func(f func(*fbapi.Table, time.Duration, string) (map[string]*converters.SeriesSteps, []string, error)) func(*fbapi.Table) (int, error) {
		return func(t *fbapi.Table) (int, error) {
			s, left, err := f(t, time.Minute, "avg")
			if err == nil && len(left) > 0 {
				err = fmt.Errorf("%d series left to the engine", len(left))
			}
			return len(s), err
		}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"values", read(sqls["values"], perStep)},
		{"points-values", read(sqls["points-values"], fromPoints(converters.ValueStepsFromPoints))},
		{"bands", read(sqls["bands"], perStep)},
		{"points-bands", read(sqls["points-bands"], fromPoints(func(t *fbapi.Table, step time.Duration, agg string) (map[string]*converters.SeriesSteps, []string, error) {
			return converters.BandStepsFromPoints(t, step, agg, query.BandColumns)
		}))},
		{"band-tuples", read(sqls["band-tuples"], func(t *fbapi.Table) (int, error) {
			n := 0
			for _, r := range t.Records {
				n += int(r.NumRows())
			}
			return n, nil
		})},
	}
	for _, call := range calls { // warm the engine's caches
		if err := call.call(); err != nil {
			b.Fatalf("%s: %v", call.name, err)
		}
	}
	idle0 := processCPU(b, e.pid)
	time.Sleep(2 * time.Second)
	idle := float64((processCPU(b, e.pid) - idle0).Microseconds()) / 1000 / 2
	const rounds, perRound = 5, 8
	type sample struct{ firebreak, plugin, wall []float64 }
	samples := make([]sample, len(calls))
	b.ResetTimer()
	for range b.N {
		for range rounds {
			for i, call := range calls {
				cpu0, self0, t0 := processCPU(b, e.pid), selfCPU(b), time.Now()
				for range perRound {
					if err := call.call(); err != nil {
						b.Fatalf("%s: %v", call.name, err)
					}
				}
				s := &samples[i]
				s.wall = append(s.wall, float64(time.Since(t0).Microseconds())/1000/perRound)
				s.firebreak = append(s.firebreak, float64((processCPU(b, e.pid)-cpu0).Microseconds())/1000/perRound)
				s.plugin = append(s.plugin, float64((selfCPU(b)-self0).Microseconds())/1000/perRound)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(idle, "firebreak-idle-cpu-ms/s")
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	for i, call := range calls {
		b.ReportMetric(median(samples[i].firebreak), call.name+"-cpu-ms")
		b.ReportMetric(median(samples[i].plugin), call.name+"-plugin-cpu-ms")
		b.ReportMetric(median(samples[i].wall), call.name+"-wall-ms")
	}
}
