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
// on one time index; fields the detectors publish per series (the expected
// value and the lower and upper band) are further columns on that index,
// added where metricsQuery builds its columns.
const FieldValue = "value"

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
	frames := make(data.Frames, 0, len(ranges))
	for i, r := range ranges {
		times := make([]time.Time, len(r.Points))
		values := make([]*float64, len(r.Points))
		for j, p := range r.Points {
			times[j], values[j] = p.Time, p.Value
		}
		frame := seriesFrame(series[i], times, []column{{name: FieldValue, values: values}})
		frame.Meta.ExecutedQueryString = executed(q, step, series[i].SeriesID.String())
		frames = append(frames, frame)
	}
	frames[0].Meta.Notices = notices
	return backend.DataResponse{Frames: frames}
}

// fetchRanges gets every series' points, a few at a time, in series order.
func (d *Datasource) fetchRanges(ctx context.Context, series []firebreak.Series, from, to time.Time, step time.Duration, agg string) ([]*firebreak.Range, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]*firebreak.Range, len(series))
	errs := make([]error, len(series))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(rangeWorkers, len(series)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = d.api.QueryRange(ctx, firebreak.RangeQuery{
					SeriesID: series[i].SeriesID.String(), Start: from, End: to, Step: step, Aggregation: agg,
				})
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range series {
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
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
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

// seriesFrame is one series as a multi-frame time series: a time field and
// the given value columns, labelled with the series' labels.
func seriesFrame(s firebreak.Series, times []time.Time, cols []column) *data.Frame {
	name := displayName(s)
	labels := data.Labels{"__name__": s.MetricName}
	for k, v := range s.Labels {
		labels[k] = v
	}
	frame := data.NewFrame(name, data.NewField("time", nil, times))
	for _, c := range cols {
		f := data.NewField(c.name, labels, c.values)
		if c.name == FieldValue {
			f.Config = &data.FieldConfig{DisplayNameFromDS: name}
		}
		frame.Fields = append(frame.Fields, f)
	}
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	return frame
}

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
	return "GET /api/v1/query_range?" + v.Encode() + " (selector " + q.Selector + ")"
}
