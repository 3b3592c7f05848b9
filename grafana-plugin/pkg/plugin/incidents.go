package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// now is the clock of annotation ends and the states view's last row;
// tests replace it.
var now = func() time.Time { return time.Now().UTC() }

// incidentsQuery lists the incidents active within the time range, as a
// table or as annotation regions.
func (d *Datasource) incidentsQuery(ctx context.Context, dq backend.DataQuery, q query.Query) backend.DataResponse {
	var states []string
	if q.State != "" {
		states = []string{q.State}
	}
	f := firebreak.IncidentFilter{States: states, Severities: q.Severities, Services: q.Services,
		Start: dq.TimeRange.From, End: dq.TimeRange.To, Limit: q.Limit}
	incs, err := d.api.Incidents(ctx, f)
	if err != nil {
		return d.apiError(err)
	}
	var frame *data.Frame
	if q.Format == query.FormatAnnotations {
		frame = converters.IncidentAnnotations(dq.RefID, incs, now())
	} else {
		frame = converters.IncidentsTable(dq.RefID, incs, d.api.ReportURL, d.api.URL())
	}
	frame.Meta.ExecutedQueryString = "GET /api/v1/incidents?" + incidentsParams(f).Encode()
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// incidentsParams is what the query inspector shows of an incidents call.
func incidentsParams(f firebreak.IncidentFilter) url.Values {
	v := url.Values{"start": {f.Start.UTC().Format(time.RFC3339)}, "end": {f.End.UTC().Format(time.RFC3339)},
		"limit": {fmt.Sprint(f.Limit)}}
	for k, l := range map[string][]string{"state": f.States, "severity": f.Severities, "service": f.Services} {
		if len(l) > 0 {
			v.Set(k, strings.Join(l, ","))
		}
	}
	return v
}

// incidentQuery shows one incident: its timeline, its services' states,
// root causes, key series or a summary. A missing incident fails this
// query only.
func (d *Datasource) incidentQuery(ctx context.Context, dq backend.DataQuery, q query.Query, layout frameLayout) backend.DataResponse {
	if q.View == query.ViewSeries {
		return d.incidentSeries(ctx, dq, q, layout)
	}
	in, timeline, err := d.api.Incident(ctx, q.IncidentID)
	if err != nil {
		return d.incidentError(err, q.IncidentID)
	}
	var frame *data.Frame
	switch q.View {
	case query.ViewTimeline:
		frame = converters.Timeline(dq.RefID, timeline)
	case query.ViewStates:
		end := now()
		if in.ResolvedAt != nil {
			end = *in.ResolvedAt
		}
		frame = converters.States(dq.RefID, timeline, end)
	case query.ViewRootCauses:
		frame = converters.RootCauses(dq.RefID, in, timeline)
	case query.ViewSummary:
		frame = converters.Summary(dq.RefID, in, timeline, d.api.ReportURL(in.ID))
	default:
		return backend.ErrDataResponse(backend.StatusInternal, "unhandled incident view "+q.View)
	}
	frame.Meta.ExecutedQueryString = "GET /api/v1/incidents/" + q.IncidentID
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// incidentError says which incident is missing, or why the call failed.
func (d *Datasource) incidentError(err error, id string) backend.DataResponse {
	if firebreak.StatusOf(err) == http.StatusNotFound {
		return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream,
			fmt.Sprintf("incident %s not found: choose another incident (it may be older than the store's retention)", id))
	}
	return d.apiError(err)
}

// incidentSeries draws the incident's key series over the window its
// report uses, each with its band: the frames of a metrics query with
// withBand, so a time series panel draws the band the same way.
func (d *Datasource) incidentSeries(ctx context.Context, dq backend.DataQuery, q query.Query, layout frameLayout) backend.DataResponse {
	keys, from, to, err := d.api.IncidentSeries(ctx, q.IncidentID, 0)
	if err != nil {
		return d.incidentError(err, q.IncidentID)
	}
	if len(keys) == 0 {
		frame := data.NewFrame(dq.RefID, data.NewField("time", nil, []time.Time{}), data.NewField(FieldValue, nil, []*float64{}))
		frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1},
			Notices: []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "incident " + q.IncidentID + " has no anomalous series of its services to draw"}}}
		return backend.DataResponse{Frames: data.Frames{frame}}
	}
	// The incident's window, not the dashboard's range: the panel shows the
	// incident whatever range the dashboard has.
	wq := dq
	wq.TimeRange = backend.TimeRange{From: from, To: to}
	wq.Interval = 0
	step, err := metricsStep(wq, query.Query{})
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	step = max(step.Round(time.Second), time.Second)
	series := make([]firebreak.Series, len(keys))
	for i, k := range keys {
		series[i] = k.Series
	}
	const agg = "avg"
	ranges, bands, _, err := d.fetchSteps(ctx, series, from, to, step, agg, query.BandColumns)
	if err != nil {
		return d.apiError(err)
	}
	frames, _, err := seriesFrames(series, ranges, bands, query.BandColumns, step, layout, func(i int) string {
		return fmt.Sprintf("GET /api/v1/query_range?series_id=%s&step=%s&agg=%s (key series %d of incident %s)", series[i].SeriesID, step, agg, i+1, q.IncidentID)
	})
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "reading Firebreak's values and bands: "+err.Error())
	}
	return backend.DataResponse{Frames: frames}
}
