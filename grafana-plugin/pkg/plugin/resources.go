package plugin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// resourceMux serves the lookups behind template variables and the query
// editor, at /api/datasources/uid/<uid>/resources/<path>:
//
//	GET metrics                          metric names
//	GET labels[?metric=M]                label names (of metric M)
//	GET label-values?label=L[&metric=M]  values of label L (of metric M)
//
// Each answers a JSON array of strings, or {"error": "..."}.
func (d *Datasource) resourceMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		list, err := d.api.MetricNames(r.Context())
		writeList(w, list, err)
	})
	mux.HandleFunc("GET /labels", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		list, err := d.api.LabelNames(r.Context(), r.URL.Query().Get("metric"))
		writeList(w, list, err)
	})
	mux.HandleFunc("GET /label-values", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		q := r.URL.Query()
		if q.Get("label") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing label: use label-values?label=NAME[&metric=METRIC]"})
			return
		}
		list, err := d.api.LabelValues(r.Context(), q.Get("label"), q.Get("metric"))
		writeList(w, list, err)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown resource " + r.URL.Path + ": use metrics, labels or label-values"})
	})
	return mux
}

func (d *Datasource) usable(w http.ResponseWriter) bool {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "data source settings: " + d.settingsErr.Error()})
		return false
	}
	return true
}

func writeList(w http.ResponseWriter, list []string, err error) {
	if err != nil {
		status := http.StatusBadGateway
		var ae *firebreak.APIError
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			status = ae.Status
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
