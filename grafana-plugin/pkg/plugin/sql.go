package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// sqlQuery expands the macros, runs the SQL read-only through the API and
// shapes the answer as a table or a time series.
func (d *Datasource) sqlQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	frame, sql, resp := d.runSQL(ctx, dq, q.RawSQL)
	if frame == nil {
		return resp
	}
	if q.Format == query.FormatTimeSeries {
		var err error
		if frame, err = converters.ToTimeSeries(frame); err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
		}
	}
	if frame.Meta == nil {
		frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	}
	frame.Meta.ExecutedQueryString = sql
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// runSQL expands the macros of sql for the query's range and interval, runs
// it read-only and returns the answer as a table frame and the SQL that
// ran; or a nil frame and the error response.
func (d *Datasource) runSQL(ctx context.Context, dq backend.DataQuery, sql string) (*data.Frame, string, backend.DataResponse) {
	sql, err := macros.Expand(sql, macros.Context{From: dq.TimeRange.From, To: dq.TimeRange.To, Interval: interval(dq)})
	if err != nil {
		return nil, "", backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	res, err := d.api.SQL(ctx, sql)
	if err != nil {
		return nil, "", d.apiError(err)
	}
	frame, err := converters.Frame(dq.RefID, res)
	if err != nil {
		return nil, "", backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's answer: "+err.Error())
	}
	return frame, sql, backend.DataResponse{}
}

// interval is the panel's interval, or the range spread over its points
// when Grafana sends none (some alerting paths).
func interval(dq backend.DataQuery) time.Duration {
	if dq.Interval > 0 {
		return dq.Interval
	}
	points := dq.MaxDataPoints
	if points <= 0 {
		points = 1000
	}
	iv := dq.TimeRange.Duration() / time.Duration(points)
	if iv < time.Millisecond {
		iv = time.Millisecond
	}
	return iv.Truncate(time.Millisecond)
}
