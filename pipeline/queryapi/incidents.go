package queryapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Incident is an incident as the API returns it.
type Incident struct {
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	State       string          `json:"state"`
	Severity    string          `json:"severity"`
	Services    []string        `json:"services"`
	OpenedAt    time.Time       `json:"opened_at"`
	AckedAt     *time.Time      `json:"acked_at,omitempty"`
	MitigatedAt *time.Time      `json:"mitigated_at,omitempty"`
	ResolvedAt  *time.Time      `json:"resolved_at,omitempty"`
	UpdatedAt   time.Time       `json:"updated_at"`
	Signals     int             `json:"signals"`
	MissingData []string        `json:"missing_data"`
	RootCauses  json.RawMessage `json:"root_causes"`
	// MTTA and MTTR in seconds from opened_at, when known.
	MTTASeconds *float64 `json:"mtta_seconds,omitempty"`
	MTTRSeconds *float64 `json:"mttr_seconds,omitempty"`
}

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service,omitempty"`
	Title   string    `json:"title"`
	Detail  string    `json:"detail,omitempty"`
	Ref     string    `json:"ref,omitempty"`
}

const incidentColumns = `id, title, state, severity, services, toUnixTimestamp64Milli(opened_at),
	toUnixTimestamp64Milli(acked_at), toUnixTimestamp64Milli(mitigated_at), toUnixTimestamp64Milli(resolved_at),
	toUnixTimestamp64Milli(updated_at), signals, missing_data, root_causes`

// incidents serves GET /api/v1/incidents?state=&severity=&service=&since=&start=&end=&limit=.
func (a *API) incidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var where []string
	for _, f := range []struct{ param, column string }{{"state", "state"}, {"severity", "severity"}} {
		if vs := splitList(q[f.param]); len(vs) > 0 {
			var quoted []string
			for _, v := range vs {
				quoted = append(quoted, quote(v))
			}
			where = append(where, f.column+" IN ("+strings.Join(quoted, ", ")+")")
		}
	}
	if vs := splitList(q["service"]); len(vs) > 0 {
		quoted := make([]string, len(vs))
		for i, v := range vs {
			quoted[i] = quote(v)
		}
		where = append(where, "hasAny(services, ["+strings.Join(quoted, ", ")+"])")
	}
	// start and end: incidents active at some time within [start, end]
	// (opened before its end, not resolved before its start).
	if s := q.Get("start"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "start: "+err.Error())
			return
		}
		where = append(where, "(toUnixTimestamp64Milli(resolved_at) = 0 OR resolved_at >= fromUnixTimestamp64Milli("+strconv.FormatInt(t.UnixMilli(), 10)+"))")
	}
	if s := q.Get("end"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "end: "+err.Error())
			return
		}
		where = append(where, "opened_at <= fromUnixTimestamp64Milli("+strconv.FormatInt(t.UnixMilli(), 10)+")")
	}
	if s := q.Get("since"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: "+err.Error())
			return
		}
		where = append(where, "opened_at >= fromUnixTimestamp64Milli("+strconv.FormatInt(t.UnixMilli(), 10)+")")
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10_000 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 10000")
			return
		}
		limit = n
	}
	sql := "SELECT " + incidentColumns + " FROM incidents FINAL"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY opened_at DESC LIMIT " + strconv.Itoa(limit)
	res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]Incident, 0, len(res.Rows))
	for _, row := range res.Rows {
		out = append(out, incidentOf(row))
	}
	writeJSON(w, map[string]any{"incidents": out})
}

// incident serves GET /api/v1/incidents/{id}: the incident and its timeline.
func (a *API) incident(w http.ResponseWriter, r *http.Request) {
	in, timeline, ok := a.loadIncident(w, r)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"incident": in, "timeline": timeline})
}

func (a *API) loadIncident(w http.ResponseWriter, r *http.Request) (*Incident, []TimelineEntry, bool) {
	id := r.PathValue("id")
	if !validIncidentID(id) {
		writeError(w, http.StatusBadRequest, "incident id "+strconv.Quote(id)+" is not one firebreak made (inc-…)")
		return nil, nil, false
	}
	res, err := a.store.Query(r.Context(), "SELECT "+incidentColumns+" FROM incidents FINAL WHERE id = "+quote(id),
		store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return nil, nil, false
	}
	if len(res.Rows) == 0 {
		writeError(w, http.StatusNotFound, "no incident "+id+": list them at /api/v1/incidents")
		return nil, nil, false
	}
	in := incidentOf(res.Rows[0])
	res, err = a.store.Query(r.Context(), `SELECT toUnixTimestamp64Milli(time), kind, service, title, detail, ref
		FROM incident_events FINAL WHERE incident_id = `+quote(id)+` ORDER BY time, kind, title`, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return nil, nil, false
	}
	timeline := make([]TimelineEntry, 0, len(res.Rows))
	for _, row := range res.Rows {
		timeline = append(timeline, TimelineEntry{Time: msTime(row[0]), Kind: str(row[1]), Service: str(row[2]),
			Title: str(row[3]), Detail: str(row[4]), Ref: str(row[5])})
	}
	return &in, timeline, true
}

func incidentOf(row []any) Incident {
	in := Incident{ID: str(row[0]), Title: str(row[1]), State: str(row[2]), Severity: str(row[3]),
		Services: strs(row[4]), OpenedAt: msTime(row[5]), UpdatedAt: msTime(row[9]), MissingData: strs(row[11]),
		RootCauses: json.RawMessage(str(row[12]))}
	if !json.Valid(in.RootCauses) {
		in.RootCauses = json.RawMessage("[]")
	}
	n, _ := row[10].(json.Number)
	signals, _ := n.Int64()
	in.Signals = int(signals)
	opt := func(v any) *time.Time {
		if t := msTime(v); t.UnixMilli() > 0 {
			return &t
		}
		return nil
	}
	in.AckedAt, in.MitigatedAt, in.ResolvedAt = opt(row[6]), opt(row[7]), opt(row[8])
	since := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		s := t.Sub(in.OpenedAt).Seconds()
		return &s
	}
	in.MTTASeconds, in.MTTRSeconds = since(in.AckedAt), since(in.ResolvedAt)
	return in
}

func validIncidentID(id string) bool {
	if !strings.HasPrefix(id, "inc-") || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		out = append(out, str(x))
	}
	return out
}

func msTime(v any) time.Time {
	var ms int64
	switch x := v.(type) {
	case json.Number:
		ms, _ = x.Int64()
	case string:
		ms, _ = strconv.ParseInt(x, 10, 64)
	case float64:
		ms = int64(x)
	}
	return time.UnixMilli(ms).UTC()
}

// KeySeries is one of an incident's key series in
// /api/v1/incidents/{id}/series answers.
type KeySeries struct {
	SeriesInfo
	Service string `json:"service"`
	// Score is the series' worst anomaly score within the window.
	Score float64 `json:"score"`
}

// incidentSeries serves GET /api/v1/incidents/{id}/series?limit=: the
// incident's most anomalous series (those its report draws, up to limit,
// default 3) and the window the report draws them over, so a client can
// fetch their points and bands with /api/v1/query_range and SQL on bands.
func (a *API) incidentSeries(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r.URL.Query(), 3, 20)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	in, _, ok := a.loadIncident(w, r)
	if !ok {
		return
	}
	from, to := incidentWindow(in)
	out := []KeySeries{}
	if len(in.Services) > 0 {
		svcs := make([]string, len(in.Services))
		for i, s := range in.Services {
			svcs[i] = quote(s)
		}
		res, err := a.store.Query(r.Context(), `SELECT series_id, any(metric_name), any(labels), max(score) AS worst, any(service)
			FROM anomalies FINAL
			WHERE kind = 'anomaly' AND state = 'open' AND service IN (`+strings.Join(svcs, ", ")+`) AND `+timeCond("time", from, to)+`
			GROUP BY series_id ORDER BY worst DESC, series_id LIMIT `+strconv.Itoa(limit), store.QueryOptions{ReadOnly: true})
		if err != nil {
			a.storeError(w, err)
			return
		}
		for _, row := range res.Rows {
			ks := KeySeries{SeriesInfo: seriesInfo([]any{row[0], row[1], row[2], ""}), Service: str(row[4]), Score: float(row[3])}
			out = append(out, ks)
		}
	}
	writeJSON(w, map[string]any{"incident": in.ID, "from": from, "to": to, "series": out})
}
