package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// CheckHealth backs the config page's "Save & test": it asks Firebreak's
// /healthz, then runs SELECT 1 through the read API so a wrong token shows
// here and not first in a panel.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return healthError(d.settingsErr.Error()), nil
	}
	h, err := d.api.Health(ctx)
	if err != nil {
		return d.healthFailure(h, err), nil
	}
	if _, err := d.api.SQL(ctx, "SELECT 1"); err != nil {
		switch firebreak.StatusOf(err) {
		case http.StatusUnauthorized, http.StatusForbidden:
			return healthError(fmt.Sprintf("Firebreak at %s is healthy but refused the API token (HTTP %d): check the API token", d.settings.URL, firebreak.StatusOf(err))), nil
		}
		return healthError(fmt.Sprintf("Firebreak at %s is healthy but its read API failed: %v", d.settings.URL, err)), nil
	}
	details, _ := json.Marshal(h)
	return &backend.CheckHealthResult{
		Status:      backend.HealthStatusOk,
		Message:     fmt.Sprintf("Firebreak %s, store %s, broker ok", h.Version, h.StoreKind),
		JSONDetails: details,
	}, nil
}

func (d *Datasource) healthFailure(h firebreak.Health, err error) *backend.CheckHealthResult {
	var unreachable *firebreak.UnreachableError
	if errors.As(err, &unreachable) {
		return healthError(fmt.Sprintf("cannot reach Firebreak at %s: %v; check the URL and that firebreak run is up", d.settings.URL, unreachable.Err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return healthError(fmt.Sprintf("Firebreak at %s did not answer within %s: check the URL, or raise the timeout", d.settings.URL, d.settings.Timeout))
	}
	switch status := firebreak.StatusOf(err); status {
	case http.StatusServiceUnavailable:
		var down []string
		for _, c := range []struct{ name, state, fix string }{
			{"broker", h.Broker, "check the embedded broker or --kafka-brokers"},
			{"store", h.Store, "check the embedded engine or --clickhouse-dsn"},
			{"writer", h.Writer, "see firebreak's log"},
		} {
			if c.state != "" && c.state != "ok" {
				down = append(down, fmt.Sprintf("%s %s (%s)", c.name, c.state, c.fix))
			}
		}
		if len(down) == 0 {
			down = append(down, "no component named")
		}
		res := healthError(fmt.Sprintf("Firebreak %s at %s is not healthy: %s", h.Version, d.settings.URL, strings.Join(down, "; ")))
		res.JSONDetails, _ = json.Marshal(h)
		return res
	case http.StatusUnauthorized, http.StatusForbidden:
		return healthError(fmt.Sprintf("Firebreak at %s refused the request (HTTP %d): check the API token", d.settings.URL, status))
	case 0:
		return healthError(fmt.Sprintf("Firebreak at %s: %v", d.settings.URL, err))
	default:
		return healthError(fmt.Sprintf("%s answered HTTP %d on /healthz: is this the address of firebreak run (by default http://127.0.0.1:8480)?", d.settings.URL, status))
	}
}

func healthError(msg string) *backend.CheckHealthResult {
	return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}
}
