package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// logPatternsQuery reads log templates in the range: the top ones by
// lines, the new ones, or the top ones' lines per step.
func (d *Datasource) logPatternsQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	pq := firebreak.PatternQuery{Services: q.Services, Mode: q.Mode, Start: dq.TimeRange.From, End: dq.TimeRange.To, Limit: q.Limit}
	if q.Mode == query.PatternsRates {
		// Pattern counts are per minute: a step below that shows nothing more.
		pq.Step = max(interval(dq).Round(time.Minute), time.Minute)
	}
	ts, err := d.api.LogPatterns(ctx, pq)
	if err != nil {
		return d.apiError(err)
	}
	executed := fmt.Sprintf("GET /api/v1/log-patterns?mode=%s&service=%v&limit=%d", q.Mode, q.Services, q.Limit)
	if q.Mode != query.PatternsRates {
		frame := converters.PatternsTable(dq.RefID, ts)
		frame.Meta.ExecutedQueryString = executed
		return backend.DataResponse{Frames: data.Frames{frame}}
	}
	frames := converters.PatternRates(ts)
	if len(frames) == 0 {
		frame := data.NewFrame(dq.RefID, data.NewField("time", nil, []time.Time{}), data.NewField("count", nil, []float64{}))
		frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1},
			Notices: []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "no log template has lines in this time range"}}}
		frames = data.Frames{frame}
	}
	frames[0].Meta.ExecutedQueryString = executed + "&step=" + pq.Step.String()
	return backend.DataResponse{Frames: frames}
}

// logsQuery reads log lines, newest first, as a logs frame.
func (d *Datasource) logsQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	lq := firebreak.LogQuery{Services: q.Services, Search: q.Search, TemplateID: q.TemplateID,
		Start: dq.TimeRange.From, End: dq.TimeRange.To, Limit: q.Limit}
	if len(q.Severities) == 1 {
		lq.MinSeverity = q.Severities[0]
	}
	lines, err := d.api.Logs(ctx, lq)
	if err != nil {
		return d.apiError(err)
	}
	frame, err := converters.Logs(dq.RefID, lines)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's logs: "+err.Error())
	}
	frame.Meta.ExecutedQueryString = fmt.Sprintf("GET /api/v1/logs/query?service=%v&search=%q&template_id=%s&severity=%s&limit=%d",
		q.Services, q.Search, q.TemplateID, lq.MinSeverity, q.Limit)
	if len(lines) == q.Limit {
		frame.Meta.Notices = []data.Notice{{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("showing the newest %d lines: narrow the range or the filters, or raise the limit (at most %d)", q.Limit, query.MaxLogLines)}}
	}
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// sentimentQuery reads support messages: per group and step (messages
// and negative share), or the most negative samples.
func (d *Datasource) sentimentQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	sq := firebreak.SentimentQuery{Services: q.Services, Channels: q.Channels, GroupBy: q.GroupBy,
		Start: dq.TimeRange.From, End: dq.TimeRange.To, Limit: q.Limit}
	if q.View == query.ViewSamples {
		samples, err := d.api.SentimentSamples(ctx, sq)
		if err != nil {
			return d.apiError(err)
		}
		frame := converters.SentimentSamples(dq.RefID, samples)
		frame.Meta.ExecutedQueryString = fmt.Sprintf("GET /api/v1/support/sentiment?view=samples&service=%v&channel=%v&limit=%d", q.Services, q.Channels, q.Limit)
		return backend.DataResponse{Frames: data.Frames{frame}}
	}
	sq.Step = max(interval(dq).Round(time.Second), time.Minute)
	series, step, err := d.api.SentimentSeries(ctx, sq)
	if err != nil {
		return d.apiError(err)
	}
	frames := converters.SentimentSeries(q.GroupBy, series)
	if len(frames) == 0 {
		frame := data.NewFrame(dq.RefID, data.NewField("time", nil, []time.Time{}), data.NewField("messages", nil, []float64{}))
		frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1},
			Notices: []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "no support message in this time range"}}}
		frames = data.Frames{frame}
	}
	frames[0].Meta.ExecutedQueryString = fmt.Sprintf("GET /api/v1/support/sentiment?view=series&group_by=%s&service=%v&channel=%v&step=%s",
		q.GroupBy, q.Services, q.Channels, step)
	return backend.DataResponse{Frames: frames}
}
