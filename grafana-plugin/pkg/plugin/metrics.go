package plugin

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// rangeWorkers is how many series are fetched at once.
	rangeWorkers = 4
)

// FieldValue names a metrics frame's value field. Each frame is one series
// on one time index, in Grafana's multi-frame time series format: one time
// field and one number field, labelled with the series' labels.
const FieldValue = "value"

// Band fields: with withBand, each series gets one more frame per band
// column (query.BandColumns), named like the series with the column's name
// appended ("name{a="1"} upper"), so that panel overrides find them by
// display name (fillBelowTo from "... upper" to "... lower").
const (
	FieldExpected = "expected"
	FieldLower    = "lower"
	FieldUpper    = "upper"
	FieldScore    = "score"
)

// column is one value field of a series frame, aligned with its times.
type column struct {
	name   string
	values []*float64
}

// metricsQuery resolves the selector to series, then fetches each series'
// points aggregated per step: one frame per series.
func (d *Datasource) metricsQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
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

	ranges, err := d.fetchRanges(ctx, series, from, to, step, q.Aggregation)
	if err != nil {
		return d.apiError(err)
	}
	var bands []*converters.SeriesSteps
	if q.WithBand {
		if bands, err = d.fetchBands(ctx, series, dq, step, q.Aggregation); err != nil {
			return d.apiError(err)
		}
	}
	frames, unbanded, err := seriesFrames(series, ranges, bands, func(i int) string { return executed(q, step, series[i].SeriesID.String()) })
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's values and bands: "+err.Error())
	}
	if unbanded > 0 {
		notices = append(notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("%d of %d series have no band in this time range: the detector has not scored them yet (it learns a series' first points), or it runs without firebreak's detector stage", unbanded, len(ranges))})
	}
	frames[0].Meta.Notices = notices
	return backend.DataResponse{Frames: frames}
}

// seriesFrames are each series' value frame (its executed query from
// executed(i)), followed by its band frames when bands is not nil, and how
// many series have no band.
func seriesFrames(series []firebreak.Series, values, bands []*converters.SeriesSteps, executed func(i int) string) (data.Frames, int, error) {
	frames := make(data.Frames, 0, len(values))
	unbanded := 0
	for i, v := range values {
		if len(v.Values[FieldValue]) != len(v.Times) {
			return nil, 0, fmt.Errorf("the values answer has no %s column", FieldValue)
		}
		frame := seriesFrame(series[i], v.Times, column{name: FieldValue, values: v.Values[FieldValue]})
		frame.Meta.ExecutedQueryString = executed(i)
		frames = append(frames, frame)
		if bands == nil {
			continue
		}
		bandFrames, err := bandFrames(series[i], bands[i])
		if err != nil {
			return nil, 0, err
		}
		if len(bandFrames) == 0 {
			unbanded++
		}
		frames = append(frames, bandFrames...)
	}
	return frames, unbanded, nil
}

// batchRows bounds the rows one batched statement returns (series × steps),
// well below the API's default row limit (--sql-max-rows, 100,000).
const batchRows = 40_000

// batches splits the series into groups of one metric name, each small
// enough that its steps stay within batchRows: the indexes into series.
func batches(series []firebreak.Series, steps int) [][]int {
	per := max(1, batchRows/max(steps, 1))
	var out [][]int
	open := map[string]int{} // metric name → index in out of its open batch
	for i, s := range series {
		j, ok := open[s.MetricName]
		if !ok || len(out[j]) >= per {
			out = append(out, nil)
			j = len(out) - 1
			open[s.MetricName] = j
		}
		out[j] = append(out[j], i)
	}
	return out
}

// fetchSteps runs one statement per batch of series (sqlFor builds it for
// a metric and its series ids, shaped as converters.StepsBySeries reads
// it), a few batches at a time: each series' steps, in series order. A
// series without rows gets no steps.
func (d *Datasource) fetchSteps(ctx context.Context, series []firebreak.Series, steps int,
	sqlFor func(metric string, ids []string) (string, error)) ([]*converters.SeriesSteps, error) {
	groups := batches(series, steps)
	out := make([]*converters.SeriesSteps, len(series))
	err := each(ctx, len(groups), func(ctx context.Context, g int) error {
		ids := make([]string, len(groups[g]))
		for k, i := range groups[g] {
			ids[k] = series[i].SeriesID.String()
		}
		sql, err := sqlFor(series[groups[g][0]].MetricName, ids)
		if err != nil {
			return err
		}
		table, err := d.api.SQLTable(ctx, sql)
		if err != nil {
			return err
		}
		defer table.Release()
		bySeries, err := converters.StepsBySeries(table)
		if err != nil {
			return err
		}
		for k, i := range groups[g] {
			out[i] = bySeries[ids[k]]
			delete(bySeries, ids[k])
			if out[i] == nil {
				out[i] = &converters.SeriesSteps{}
			}
		}
		if len(bySeries) > 0 {
			return fmt.Errorf("the batched answer names %d series that were not asked for", len(bySeries))
		}
		return nil
	})
	return out, err
}

// fetchRanges gets every series' points per step, in series order, as
// /api/v1/query_range computes them but one statement per batch of series.
func (d *Datasource) fetchRanges(ctx context.Context, series []firebreak.Series, from, to time.Time, step time.Duration, agg string) ([]*converters.SeriesSteps, error) {
	steps := int(to.Sub(from)/step) + 1
	return d.fetchSteps(ctx, series, steps, func(metric string, ids []string) (string, error) {
		return query.SeriesValuesSQL(metric, ids, step, agg, from, to)
	})
}

// fetchBands gets every series' band per step from the bands table, in
// series order, one statement per batch of series.
func (d *Datasource) fetchBands(ctx context.Context, series []firebreak.Series, dq backend.DataQuery, step time.Duration, agg string) ([]*converters.SeriesSteps, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	steps := int(to.Sub(from)/step) + 1
	return d.fetchSteps(ctx, series, steps, func(metric string, ids []string) (string, error) {
		return query.SeriesBandsSQL(metric, ids, step, agg, from, to)
	})
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

// bandFrames are one series' band frames, from its SeriesBandsSQL steps:
// none when the detector has not scored the series in the range.
func bandFrames(s firebreak.Series, steps *converters.SeriesSteps) (data.Frames, error) {
	if len(steps.Times) == 0 {
		return nil, nil
	}
	frames := make(data.Frames, 0, len(query.BandColumns))
	for _, name := range query.BandColumns {
		values, ok := steps.Values[name]
		if !ok {
			return nil, fmt.Errorf("the band answer has no %s column", name)
		}
		frames = append(frames, seriesFrame(s, steps.Times, column{name: name, values: values}))
	}
	return frames, nil
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

// seriesFrame is one series (or one of its band columns) as a frame of a
// multi-frame time series: a time field and one value field, labelled with
// the series' labels. The value is displayed as the series' name, a band
// column as the name followed by the column's ("name upper"), with the
// styling a time series panel needs to draw the band (panel overrides win).
func seriesFrame(s firebreak.Series, times []time.Time, c column) *data.Frame {
	name := displayName(s)
	labels := data.Labels{"__name__": s.MetricName}
	for k, v := range s.Labels {
		labels[k] = v
	}
	f := data.NewField(c.name, labels, c.values)
	f.Config = &data.FieldConfig{DisplayNameFromDS: name}
	if c.name != FieldValue {
		f.Config.DisplayNameFromDS = name + " " + c.name
	}
	switch c.name {
	case FieldExpected:
		f.Config.Custom = map[string]any{"lineStyle": map[string]any{"fill": "dash", "dash": []int{10, 10}}}
	case FieldLower:
		f.Config.Custom = map[string]any{"lineWidth": 0}
	case FieldUpper:
		f.Config.Custom = map[string]any{"lineWidth": 0, "fillOpacity": 20, "fillBelowTo": name + " " + FieldLower}
	case FieldScore:
		// 0 … 1 on its own axis, so it does not squash the values.
		f.Config.Unit = "percentunit"
		f.Config.Min, f.Config.Max = ptr(data.ConfFloat64(0)), ptr(data.ConfFloat64(1))
		f.Config.Custom = map[string]any{"axisPlacement": "right"}
	}
	frame := data.NewFrame(f.Config.DisplayNameFromDS, data.NewField("time", nil, times), f)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	return frame
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
