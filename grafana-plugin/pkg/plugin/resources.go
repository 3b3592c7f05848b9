package plugin

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// resourceMux serves the lookups behind template variables and the query
// editor, at /api/datasources/uid/<uid>/resources/<path>:
//
//	GET metrics                          metric names
//	GET labels[?metric=M]                label names (of metric M)
//	GET label-values?label=L[&metric=M]  values of label L (of metric M)
//	GET services                         services (series labels, findings, incidents, logs, support)
//	GET incidents[?state=S&service=V]    incidents as {"text": "title (id)", "value": id},
//	                                     open first, then mitigated, then resolved; newest first within each
//
// Each answers a JSON array (strings, or text/value pairs for incidents),
// or {"error": "..."}.
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
	mux.HandleFunc("GET /services", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		list, err := d.api.Services(r.Context())
		writeList(w, list, err)
	})
	mux.HandleFunc("GET /incidents", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		q := r.URL.Query()
		f := firebreak.IncidentFilter{Limit: maxIncidentOptions}
		if s := q.Get("state"); s != "" {
			f.States = splitParam(s)
		}
		if s := q.Get("service"); s != "" && s != "All" && s != "$__all" {
			f.Services = splitParam(s)
		}
		incs, err := d.api.Incidents(r.Context(), f)
		if err != nil {
			writeList(w, nil, err)
			return
		}
		writeJSON(w, http.StatusOK, IncidentOptions(incs))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown resource " + r.URL.Path + ": use metrics, labels, label-values, services or incidents"})
	})
	return mux
}

// maxIncidentOptions bounds the incidents a variable offers.
const maxIncidentOptions = 500

// Option is one value of a template variable: what it shows and what it
// puts into queries.
type Option struct {
	Text  string `json:"text"`
	Value string `json:"value"`
}

// stateOrder puts open incidents first, then mitigated, then resolved.
var stateOrder = map[string]int{"open": 0, "mitigated": 1, "resolved": 2}

// IncidentOptions are incidents as variable options, "title (id)" → id:
// open first, then mitigated, then resolved, newest first within each, so
// a variable's default (its first option) is the newest open incident.
func IncidentOptions(incs []firebreak.Incident) []Option {
	sorted := slices.Clone(incs)
	slices.SortStableFunc(sorted, func(a, b firebreak.Incident) int {
		sa, sb := stateOrder[a.State], stateOrder[b.State]
		if sa != sb {
			return sa - sb
		}
		return b.OpenedAt.Compare(a.OpenedAt)
	})
	out := make([]Option, len(sorted))
	for i, in := range sorted {
		out[i] = Option{Text: in.Title + " (" + in.ID + ")", Value: in.ID}
	}
	return out
}

func splitParam(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
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
