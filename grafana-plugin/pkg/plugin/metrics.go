package plugin

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

const (
	// MaxSeries is the most series one metrics query draws; more get a
	// notice asking for a narrower selector.
	MaxSeries = 100
	// maxPoints is the API's limit of points per series and range.
	maxPoints = 11_000
	// rangeWorkers is how many statements run at once.
	rangeWorkers = 4
)

// FieldValue names a series' value field. A panel gets every series of a
// metrics query in one frame (layoutWide); Grafana's alerting gets a frame
// per series (layoutFramePerField). Either way the field is labelled with
// the series' labels and displayed as the series.
const FieldValue = "value"

// Band fields: with withBand, each series gets an expected, a lower and an
// upper field, with withScore a score field (query.Query.Bands), displayed
// as the series with the column's name appended ("name{a="1"} upper"), so
// that panel overrides find them by display name (fillBelowTo from
// "... upper" to "... lower").
const (
	FieldExpected = "expected"
	FieldLower    = "lower"
	FieldUpper    = "upper"
	FieldScore    = "score"
)

// frameLayout is how a metrics answer's series and bands are framed.
type frameLayout int

const (
	// layoutWide is one frame for a panel: one time field, the steps of
	// every series, then each series' value field and its band fields, null
	// at a step the series (or its band) does not have. A time series panel
	// draws it as it draws a frame per series, and Grafana decodes a
	// quarter of the values a frame per series costs it (one time field
	// instead of two a series; BenchmarkBandFrames: 100 series × 1,441
	// steps with bands, ~72 → ~35 ms). The time field carries the step as
	// its interval, so a step with no point is drawn as a gap, as Grafana
	// draws Prometheus' missing steps.
	layoutWide frameLayout = iota
	// layoutFramePerField gives each series' value and each band field a
	// frame of its own, as the multi-frame time series format wants (one
	// number field a frame): Grafana's alert rules, recording rules and
	// server-side expressions read only the first number field of each
	// frame.
	layoutFramePerField
)

// headerFromExpression marks a query that a server-side expression reads
// (the frontend sets it; Grafana forwards it as a request header).
const headerFromExpression = "X-Grafana-From-Expr"

// layoutFor picks the frame layout for a request: a frame per field when
// Grafana's alerting (which marks its requests FromAlert) or a server-side
// expression reads the answer, one wide frame for panels.
func layoutFor(req *backend.QueryDataRequest) frameLayout {
	if req.Headers[backend.FromAlertHeaderName] == "true" || req.GetHTTPHeader(headerFromExpression) == "true" ||
		req.Headers[headerFromExpression] == "true" {
		return layoutFramePerField
	}
	return layoutWide
}

// metricsQuery resolves the selector to series, then fetches each series'
// points aggregated per step: one frame per series, and its band framed as
// layout says.
func (d *Datasource) metricsQuery(ctx context.Context, dq backend.DataQuery, q query.Query, layout frameLayout) backend.DataResponse {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	if !to.After(from) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "the time range is empty")
	}
	step, err := metricsStep(dq, q)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	series, err := d.api.Series(ctx, []string{q.Selector}, from, MaxSeries+1)
	if err != nil {
		return d.apiError(err)
	}
	var notices []data.Notice
	if len(series) > MaxSeries {
		series = series[:MaxSeries]
		notices = append(notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("%s matches more than %d series; showing the first %d: add label matchers to narrow it", q.Selector, MaxSeries, MaxSeries)})
	}
	if len(series) == 0 {
		frame := data.NewFrame("", data.NewField("time", nil, []time.Time{}), data.NewField(FieldValue, nil, []*float64{}))
		frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1},
			ExecutedQueryString: executed(q, step, ""),
			Notices:             []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "no series matches " + q.Selector + " in this time range"}}}
		return backend.DataResponse{Frames: data.Frames{frame}}
	}

	ranges, bands, fromCache, err := d.fetchSteps(ctx, series, from, to, step, q.Aggregation, q.Bands())
	if err != nil {
		return d.apiError(err)
	}
	frames, unbanded, err := seriesFrames(series, ranges, bands, q.Bands(), step, layout, func(i int) string { return executed(q, step, series[i].SeriesID.String()) })
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's values and bands: "+err.Error())
	}
	if unbanded > 0 {
		notices = append(notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("%d of %d series have no band in this time range: the detector has not scored them yet (it learns a series' first points), or it runs without firebreak's detector stage", unbanded, len(ranges))})
	}
	frames[0].Meta.Notices = notices
	frames[0].Meta.Stats = []data.QueryStat{{FieldConfig: data.FieldConfig{DisplayName: "Steps from the plugin's step cache"}, Value: float64(fromCache)}}
	return backend.DataResponse{Frames: frames}
}

// seriesFrames frames each series' values and, when bands is not nil, its
// band columns (some of query.BandColumns), as layout says (each series'
// executed query from executed(i)), and counts the series without a band.
func seriesFrames(series []firebreak.Series, values, bands []*converters.SeriesSteps, columns []string, step time.Duration, layout frameLayout,
	executed func(i int) string) (data.Frames, int, error) {
	unbanded := 0
	for i, v := range values {
		if len(v.Values[FieldValue]) != len(v.Times) {
			return nil, 0, fmt.Errorf("the values answer has no %s column", FieldValue)
		}
		if bands == nil {
			continue
		}
		if len(bands[i].Times) == 0 {
			unbanded++
		}
		for _, name := range columns {
			if len(bands[i].Values[name]) != len(bands[i].Times) {
				return nil, 0, fmt.Errorf("the band answer has no %s column", name)
			}
		}
	}
	if layout == layoutWide {
		return data.Frames{wideFrame(series, values, bands, columns, step, executed)}, unbanded, nil
	}
	frames := make(data.Frames, 0, len(values))
	for i, v := range values {
		fields := newSeriesFields(series[i])
		frame := seriesFrame(fields.name, v.Times, step, fields.field(FieldValue, v.Values[FieldValue]))
		frame.Meta.ExecutedQueryString = executed(i)
		frames = append(frames, frame)
		if bands == nil || len(bands[i].Times) == 0 {
			continue
		}
		for _, name := range columns {
			f := fields.field(name, bands[i].Values[name])
			frames = append(frames, seriesFrame(f.Config.DisplayNameFromDS, bands[i].Times, step, f))
		}
	}
	return frames, unbanded, nil
}

// wideFrame is layoutWide's frame: the steps of every series and band on
// one time field, then per series its value field and, when bands is not
// nil, its band columns' fields. Series almost always share their steps, so a
// column usually lies on the frame's times as it is; only a series or
// band missing steps gets a column with nulls. The series' fields are
// built on every core at once: for the band panel (100 series × 1,441
// steps, 400 or 500 fields) that is a step of its own on the way to
// Grafana.
func wideFrame(series []firebreak.Series, values, bands []*converters.SeriesSteps, columns []string, step time.Duration,
	executed func(i int) string) *data.Frame {
	steps := make([]*converters.SeriesSteps, 0, 2*len(values))
	steps = append(steps, values...)
	if bands != nil {
		steps = append(steps, bands...)
	}
	times := unionTimes(steps)
	perSeries := make([][]*data.Field, len(values))
	eachShare(len(values), func(i int) {
		fields := newSeriesFields(series[i])
		out := []*data.Field{fields.field(FieldValue, onTimes(times, values[i].Times)(values[i].Values[FieldValue]))}
		if bands != nil && len(bands[i].Times) > 0 {
			place := onTimes(times, bands[i].Times) // the band's columns share its times
			for _, name := range columns {
				out = append(out, fields.field(name, place(bands[i].Values[name])))
			}
		}
		perSeries[i] = out
	})
	fields := make([]*data.Field, 1, 1+len(values)*(1+len(columns)))
	fields[0] = timeField(times, step)
	lines := make([]string, len(values))
	for i := range values {
		lines[i] = executed(i)
		fields = append(fields, perSeries[i]...)
	}
	frame := data.NewFrame("", fields...)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1},
		ExecutedQueryString: strings.Join(lines, "\n")}
	return frame
}

// eachShare calls fn for 0..n-1, split in one contiguous share per core.
func eachShare(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// unionTimes is every time of any of steps, in order, once. Each steps'
// times are in order; most are the same as the first's or lie within the
// union so far (a band starts later than its values), and those cost one
// comparison a time and no copy.
func unionTimes(steps []*converters.SeriesSteps) []time.Time {
	var union []time.Time
	for _, s := range steps {
		switch {
		case len(s.Times) == 0 || slices.Equal(s.Times, union) || within(s.Times, union):
		case union == nil:
			union = s.Times
		default:
			merged := make([]time.Time, 0, max(len(union), len(s.Times)))
			i, j := 0, 0
			for i < len(union) || j < len(s.Times) {
				switch {
				case j == len(s.Times) || i < len(union) && union[i].Before(s.Times[j]):
					merged = append(merged, union[i])
					i++
				case i == len(union) || s.Times[j].Before(union[i]):
					merged = append(merged, s.Times[j])
					j++
				default:
					merged = append(merged, union[i])
					i, j = i+1, j+1
				}
			}
			union = merged
		}
	}
	if union == nil {
		return []time.Time{}
	}
	return union
}

// within reports whether every one of times (in order) is one of all's
// (in order).
func within(times, all []time.Time) bool {
	if len(times) > len(all) {
		return false
	}
	i := 0
	for _, t := range times {
		for i < len(all) && all[i].Before(t) {
			i++
		}
		if i == len(all) || !all[i].Equal(t) {
			return false
		}
		i++
	}
	return true
}

// onTimes places columns aligned with own onto times (a superset, in
// order): each column itself when the times are the same, else a copy with
// nil where it has no value. Where each of own's times lies in times is
// found once, for every column on them.
func onTimes(times, own []time.Time) func(values []*float64) []*float64 {
	if slices.Equal(times, own) {
		return func(values []*float64) []*float64 { return values }
	}
	rows := make([]int, len(own)) // the row of times each of own's times is
	j := 0
	for i, t := range times {
		if j < len(own) && own[j].Equal(t) {
			rows[j] = i
			j++
		}
	}
	return func(values []*float64) []*float64 {
		out := make([]*float64, len(times))
		for k, row := range rows {
			out[row] = values[k]
		}
		return out
	}
}

// byMetric groups the series by metric name, in order of first
// appearance: the indexes into series. The tables' primary keys start with
// the metric name, so each statement names one.
func byMetric(series []firebreak.Series) [][]int {
	var out [][]int
	group := map[string]int{} // metric name → index in out
	for i, s := range series {
		g, ok := group[s.MetricName]
		if !ok {
			g = len(out)
			group[s.MetricName] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

// fetchSteps gets every series' values per step and, when bandColumns
// (some of query.BandColumns) is not empty, those columns of its band per
// step, in series order: one statement per table and metric name, all at
// once (a few at a time). A series without rows gets no steps; bands is
// nil without band columns. Values cover [from, to), bands [from, to], as
// /api/v1/query_range and the band panel always have.
//
// Each statement first reads the series' stored points (query.SeriesPointsSQL,
// query.SeriesBandPointsSQL) and aggregates them per step here: for the
// engine that is about half the work of aggregating per step itself
// (BENCHMARKS.md, "Grafana plugin"). A series with more than pointsPerStep
// points a step on average is asked for again, aggregated by the engine
// (query.SeriesValuesSQL, query.SeriesBandsSQL), which ships fewer values;
// the metric is then remembered as that dense at that step (d.dense), and
// its next queries at that step or longer go to the engine at once. Steps
// the step cache holds for every series of a statement are left out of it
// (query.Skip) and put back from the cache (d.steps).
func (d *Datasource) fetchSteps(ctx context.Context, series []firebreak.Series, from, to time.Time, step time.Duration,
	agg string, bandColumns []string) (values, bands []*converters.SeriesSteps, fromCache int, err error) {
	type statement struct {
		table      string
		group      []int
		out        []*converters.SeriesSteps
		points     func(metric string, ids []string, maxPoints int, skip query.Skip) (string, error)
		fromPoints func(t *firebreak.Table, step time.Duration, agg string) (map[string]*converters.SeriesSteps, []string, error)
		perStep    func(metric string, ids []string, skip query.Skip) (string, error)
	}
	values = make([]*converters.SeriesSteps, len(series))
	valuesSQL := func(metric string, ids []string, skip query.Skip) (string, error) {
		return query.SeriesValuesSQL(metric, ids, step, agg, from, to, skip)
	}
	valuePoints := func(metric string, ids []string, maxPoints int, skip query.Skip) (string, error) {
		return query.SeriesPointsSQL(metric, ids, from, to, maxPoints, skip)
	}
	bandsSQL := func(metric string, ids []string, skip query.Skip) (string, error) {
		return query.SeriesBandsSQL(metric, ids, bandColumns, step, agg, from, to, skip)
	}
	bandPoints := func(metric string, ids []string, maxPoints int, skip query.Skip) (string, error) {
		return query.SeriesBandPointsSQL(metric, ids, bandColumns, from, to, maxPoints, skip)
	}
	bandStepsFromPoints := func(t *firebreak.Table, step time.Duration, agg string) (map[string]*converters.SeriesSteps, []string, error) {
		return converters.BandStepsFromPoints(t, step, agg, bandColumns)
	}
	// The step cache keeps a band's steps apart for each set of columns.
	bandsTable := "bands(" + strings.Join(bandColumns, ",") + ")"
	if len(bandColumns) > 0 {
		bands = make([]*converters.SeriesSteps, len(series))
	}
	var statements []statement
	for _, group := range byMetric(series) {
		statements = append(statements, statement{"values", group, values, valuePoints, converters.ValueStepsFromPoints, valuesSQL})
		if bands != nil {
			statements = append(statements, statement{bandsTable, group, bands, bandPoints, bandStepsFromPoints, bandsSQL})
		}
	}
	maxPoints := pointsPerStep * (int(to.Sub(from)/step) + 2)
	// Whether to read points is decided once per metric, before any
	// statement runs: a statement that finds the metric dense must not
	// change how its sibling (the values' or the bands') reads it.
	var cachedSteps atomic.Int64
	points := make([]bool, len(statements))
	for k, st := range statements {
		points[k] = d.dense.pointsFit(series[st.group[0]].MetricName, step)
	}
	err = each(ctx, len(statements), func(ctx context.Context, k int) error {
		st := statements[k]
		metric := series[st.group[0]].MetricName
		ids := make([]string, len(st.group))
		for j, i := range st.group {
			ids[j] = series[i].SeriesID.String()
		}
		cached := d.steps.span(st.table, ids, step, agg, from, to)
		for _, held := range cached.steps {
			cachedSteps.Add(int64(len(held.Times)))
		}
		bySeries := map[string]*converters.SeriesSteps{}
		rest := ids
		if points[k] {
			sql, err := st.points(metric, ids, maxPoints, cached.Skip)
			if err != nil {
				return err
			}
			if bySeries, rest, err = d.readSteps(ctx, sql, func(t *firebreak.Table) (map[string]*converters.SeriesSteps, []string, error) {
				return st.fromPoints(t, step, agg)
			}); err != nil {
				return err
			}
			if len(rest) > 0 {
				d.dense.overflowed(metric, step)
			}
		}
		if len(rest) > 0 {
			sql, err := st.perStep(metric, rest, cached.Skip)
			if err != nil {
				return err
			}
			aggregated, _, err := d.readSteps(ctx, sql, func(t *firebreak.Table) (map[string]*converters.SeriesSteps, []string, error) {
				m, err := converters.StepsBySeries(t)
				return m, nil, err
			})
			if err != nil {
				return err
			}
			for id, steps := range aggregated {
				if _, dup := bySeries[id]; dup {
					return fmt.Errorf("the answer names series %s twice", id)
				}
				bySeries[id] = steps
			}
		}
		for id := range bySeries {
			if !slices.Contains(ids, id) {
				return fmt.Errorf("the answer names series %s, which was not asked for", id)
			}
		}
		d.steps.complete(st.table, ids, step, agg, from, to, cached, bySeries)
		for j, i := range st.group {
			st.out[i] = bySeries[ids[j]]
			if st.out[i] == nil {
				st.out[i] = &converters.SeriesSteps{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	return values, bands, int(cachedSteps.Load()), nil
}

// pointsPerStep is how many stored points a step may hold on average for a
// series' points to be read and aggregated here rather than by the engine:
// at most that many times the steps' values cross the API.
const pointsPerStep = 2

// readSteps runs one statement through the API and reads its answer.
func (d *Datasource) readSteps(ctx context.Context, sql string,
	read func(t *firebreak.Table) (map[string]*converters.SeriesSteps, []string, error)) (map[string]*converters.SeriesSteps, []string, error) {
	table, err := d.api.SQLTable(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer table.Release()
	return read(table)
}

// denseSteps remembers, per metric, the shortest step at which a series had
// more points than a points statement reads. A longer step holds more
// points, so at that step and longer the engine aggregates at once instead
// of reading points only to ask again.
type denseSteps struct {
	mu       sync.Mutex
	shortest map[string]time.Duration
}

// maxDenseMetrics bounds what denseSteps remembers; past it, it starts over.
const maxDenseMetrics = 10_000

func (s *denseSteps) pointsFit(metric string, step time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	shortest, dense := s.shortest[metric]
	return !dense || step < shortest
}

func (s *denseSteps) overflowed(metric string, step time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shortest == nil || len(s.shortest) >= maxDenseMetrics {
		s.shortest = map[string]time.Duration{}
	}
	if shortest, dense := s.shortest[metric]; !dense || step < shortest {
		s.shortest[metric] = step
	}
}

// each calls fn for 0..n-1, rangeWorkers at a time; the first error
// cancels the calls still running and is returned.
func each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(rangeWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[i] = fn(ctx, i); errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// metricsStep is the query's step, or the panel interval; either way at
// least the range over the API's point limit.
func metricsStep(dq backend.DataQuery, q query.Query) (time.Duration, error) {
	span := dq.TimeRange.Duration()
	floor := ((span/maxPoints + time.Millisecond - 1) / time.Millisecond) * time.Millisecond
	if q.StepDuration > 0 {
		if q.StepDuration < floor {
			return 0, fmt.Errorf("step %s over %s gives more than %d points per series: use a step of at least %s",
				macros.FormatInterval(q.StepDuration), span, maxPoints, macros.FormatInterval(floor))
		}
		return q.StepDuration, nil
	}
	return max(interval(dq), floor, time.Millisecond), nil
}

// seriesFrame is a frame of a multi-frame time series: a time field and
// the series' fields on it.
func seriesFrame(name string, times []time.Time, step time.Duration, fields ...*data.Field) *data.Frame {
	frame := data.NewFrame(name, append([]*data.Field{timeField(times, step)}, fields...)...)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	return frame
}

// timeField is the steps' time field. Its interval is the step: Grafana
// draws a gap where a step has no point, as for Prometheus' missing steps,
// rather than a line across a collector that stopped.
func timeField(times []time.Time, step time.Duration) *data.Field {
	f := data.NewField("time", nil, times)
	f.Config = &data.FieldConfig{Interval: float64(step.Milliseconds())}
	return f
}

// seriesFields makes a series' value field and its band columns' fields,
// labelled with the series' labels (one map, shared by its fields). The
// value is displayed as the series' name, a band column as the name
// followed by the column's ("name upper"), with the styling a time series
// panel needs to draw the band (panel overrides win).
type seriesFields struct {
	name   string
	labels data.Labels
}

func newSeriesFields(s firebreak.Series) seriesFields {
	labels := make(data.Labels, len(s.Labels)+1)
	labels["__name__"] = s.MetricName
	for k, v := range s.Labels {
		labels[k] = v
	}
	return seriesFields{name: displayName(s), labels: labels}
}

// field is the column named column, its values aligned with the frame's
// times (nil for none). A column without a nil is a plain float64 field:
// Grafana's decoding and the plugin's garbage collector then have no
// pointer a value to follow.
func (sf seriesFields) field(column string, values []*float64) *data.Field {
	var f *data.Field
	if slices.Contains(values, nil) {
		f = data.NewField(column, sf.labels, values)
	} else {
		plain := make([]float64, len(values))
		for i, v := range values {
			plain[i] = *v
		}
		f = data.NewField(column, sf.labels, plain)
	}
	f.Config = &data.FieldConfig{DisplayNameFromDS: sf.name}
	if column != FieldValue {
		f.Config.DisplayNameFromDS = sf.name + " " + column
	}
	switch column {
	case FieldExpected:
		f.Config.Custom = map[string]any{"lineStyle": map[string]any{"fill": "dash", "dash": []int{10, 10}}}
	case FieldLower:
		f.Config.Custom = map[string]any{"lineWidth": 0}
	case FieldUpper:
		f.Config.Custom = map[string]any{"lineWidth": 0, "fillOpacity": 20, "fillBelowTo": sf.name + " " + FieldLower}
	case FieldScore:
		// 0 … 1 on its own axis, so it does not squash the values.
		f.Config.Unit = "percentunit"
		f.Config.Min, f.Config.Max = ptr(data.ConfFloat64(0)), ptr(data.ConfFloat64(1))
		f.Config.Custom = map[string]any{"axisPlacement": "right"}
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// displayName writes a series as Prometheus does: name{a="1", b="2"}.
func displayName(s firebreak.Series) string {
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.MetricName)
	if len(keys) > 0 {
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(strconv.Quote(s.Labels[k]))
		}
		b.WriteByte('}')
	}
	return b.String()
}

// executed is what the query inspector shows as the executed query.
func executed(q query.Query, step time.Duration, seriesID string) string {
	v := url.Values{"step": {macros.FormatInterval(step)}, "agg": {q.Aggregation}}
	if seriesID == "" {
		return "GET /api/v1/series?" + url.Values{"match[]": {q.Selector}}.Encode()
	}
	v.Set("series_id", seriesID)
	return "SQL on samples_data per step, as GET /api/v1/query_range?" + v.Encode() + " (selector " + q.Selector + ")"
}
