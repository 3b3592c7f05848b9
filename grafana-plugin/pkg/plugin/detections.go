package plugin

import (
	"context"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// anomaliesQuery reads the detector findings in the time range as a table,
// or as annotations.
func (d *Datasource) anomaliesQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	frame, sql, resp := d.detectionTable(ctx, dq, query.AnomaliesSQL(q), "predicted_breach_at")
	if frame == nil {
		return resp
	}
	if q.Format == query.FormatAnnotations {
		var err error
		if frame, err = converters.AnomalyAnnotations(frame); err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's anomalies: "+err.Error())
		}
		frame.Meta.ExecutedQueryString = sql
	}
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// alertsQuery reads the alerts' current state or their history as a
// table, or (current mode) as annotation regions from firing to resolved.
func (d *Datasource) alertsQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	frame, sql, resp := d.detectionTable(ctx, dq, query.AlertsSQL(q), "ends_at")
	if frame == nil {
		return resp
	}
	if q.Format == query.FormatAnnotations {
		var err error
		if frame, err = converters.AlertAnnotations(frame, now()); err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's alerts: "+err.Error())
		}
		frame.Meta.ExecutedQueryString = sql
	}
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// detectionTable expands the time macros of sql, runs it and returns the
// answer as a table frame whose epoch times (the store's "does not
// apply") in the named fields are null; or nil and the error response.
func (d *Datasource) detectionTable(ctx context.Context, dq backend.DataQuery, sql string, epochFields ...string) (*data.Frame, string, backend.DataResponse) {
	frame, expanded, resp := d.runSQL(ctx, dq, sql)
	if frame == nil {
		return nil, "", resp
	}
	converters.NullEpoch(frame, epochFields...)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: expanded}
	return frame, expanded, backend.DataResponse{}
}
