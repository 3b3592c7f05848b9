// Package plugin wires the Grafana plugin SDK to Firebreak: one Datasource
// per configured data source answers health checks, queries and resource
// calls by calling Firebreak's HTTP API. The work itself lives in settings,
// query, macros, converters and firebreak.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/settings"
)

// PluginID is plugin.json's id.
const PluginID = "firebreak-aiops-datasource"

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Firebreak data source.
type Datasource struct {
	// settingsErr is why the settings are unusable; every call reports it,
	// so the user sees it on the config page and in panels.
	settingsErr error
	settings    settings.Settings
	api         *firebreak.Client
	resources   backend.CallResourceHandler
	// dense is which metrics' points are too many to read per step (metrics.go).
	dense denseSteps
	// steps keeps the metrics steps already read (stepcache.go).
	steps *stepCache
}

// NewDatasource is the SDK's instance factory: called when a data source is
// first used and again whenever its settings change.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	ds := &Datasource{steps: newStepCache(0)}
	cfg, err := settings.Load(s)
	if err != nil {
		ds.settingsErr = err
	} else {
		ds.settings = cfg
		ds.api = firebreak.New(cfg.URL, cfg.APIToken, cfg.Timeout)
		ds.steps = newStepCache(cfg.StepCache)
	}
	ds.resources = httpadapter.New(ds.resourceMux())
	return ds, nil
}

// Dispose releases the instance when its settings change.
func (d *Datasource) Dispose() {}

// QueryData answers each query on its own: one failing query does not fail
// the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	layout := layoutFor(req)
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q, layout)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, layout frameLayout) backend.DataResponse {
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			"data source settings: "+d.settingsErr.Error())
	}
	q, err := query.Parse(dq)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	switch q.QueryType {
	case query.TypeSQL:
		return d.sqlQuery(ctx, dq, q)
	case query.TypeMetrics:
		return d.metricsQuery(ctx, dq, q, layout)
	case query.TypeAnomalies:
		return d.anomaliesQuery(ctx, dq, q)
	case query.TypeAlerts:
		return d.alertsQuery(ctx, dq, q)
	case query.TypeIncidents:
		return d.incidentsQuery(ctx, dq, q)
	case query.TypeIncident:
		return d.incidentQuery(ctx, dq, q, layout)
	case query.TypeLogPatterns:
		return d.logPatternsQuery(ctx, dq, q)
	case query.TypeLogs:
		return d.logsQuery(ctx, dq, q)
	case query.TypeSentiment:
		return d.sentimentQuery(ctx, dq, q)
	}
	// query.Parse refuses other types.
	return backend.ErrDataResponse(backend.StatusInternal, "unhandled query type "+q.QueryType)
}

// apiError turns a failed API call into a response that tells the user
// what to do.
func (d *Datasource) apiError(err error) backend.DataResponse {
	var unreachable *firebreak.UnreachableError
	var ae *firebreak.APIError
	switch {
	case errors.As(err, &unreachable):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream,
			fmt.Sprintf("%v: check the data source URL and that firebreak run is up", err))
	case errors.Is(err, context.DeadlineExceeded):
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream,
			fmt.Sprintf("Firebreak did not answer within the data source timeout (%s): narrow the query or raise the timeout", d.settings.Timeout))
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return backend.ErrDataResponseWithSource(backend.StatusUnauthorized, backend.ErrorSourceDownstream,
				fmt.Sprintf("Firebreak refused the request (HTTP %d): check the data source's API token", ae.Status))
		case http.StatusServiceUnavailable:
			return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream,
				"Firebreak is up but its store is unavailable: "+ae.Message)
		}
		if ae.Status >= 400 && ae.Status < 500 {
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, ae.Message)
		}
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, ae.Error())
	}
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, err.Error())
}

// CallResource serves the editors' and template variables' lookups.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}
