// Package queryapi is Firebreak's read API over the store: read-only SQL for
// analysts, series lookup by Prometheus label matchers, and range queries of
// one series. The Grafana plugin reads through it and never opens ClickHouse.
package queryapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// API serves the /api/v1 read endpoints.
type API struct {
	store store.Store
	log   *slog.Logger
	// MaxSQLBytes bounds a POSTed query. Default 1 MiB.
	MaxSQLBytes int64
}

// New builds the API.
func New(st store.Store, log *slog.Logger) *API {
	return &API{store: st, log: log, MaxSQLBytes: 1 << 20}
}

// Register adds the endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/sql", a.sql)
	mux.HandleFunc("POST /api/v1/sql", a.sql)
	mux.HandleFunc("GET /api/v1/series", a.series)
	mux.HandleFunc("GET /api/v1/query_range", a.queryRange)
	mux.HandleFunc("GET /api/v1/incidents", a.incidents)
	mux.HandleFunc("GET /api/v1/incidents/{id}", a.incident)
	mux.HandleFunc("GET /api/v1/incidents/{id}/report", a.report)
	mux.HandleFunc("GET /api/v1/incidents/{id}/series", a.incidentSeries)
	mux.HandleFunc("GET /api/v1/log-patterns", a.logPatterns)
	// Not GET /api/v1/logs: the JSON lines collector owns that path for
	// every method (cmd/firebreak mounts it before the read API).
	mux.HandleFunc("GET /api/v1/logs/query", a.logs)
	mux.HandleFunc("GET /api/v1/support/sentiment", a.sentiment)
}

// sql runs an analyst's query read-only: the engine's readonly setting, row
// and time limits are enforced by the store, not by inspecting the text.
func (a *API) sql(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query().Get("query")
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.MaxSQLBytes))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("query body over %d bytes", a.MaxSQLBytes))
			return
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			query = string(body)
		}
	}
	if strings.TrimSpace(query) == "" {
		writeError(w, http.StatusBadRequest, "missing query: pass ?query=SELECT… or POST the SQL as the body")
		return
	}
	w.Header().Add("Vary", "Accept")
	if aq, ok := a.store.(store.ArrowQuerier); ok && prefersArrow(r.Header.Values("Accept")) {
		stream, err := aq.QueryArrow(r.Context(), query)
		if err != nil {
			a.storeError(w, err)
			return
		}
		w.Header().Set("Content-Type", ArrowStreamType)
		w.Header().Set("Content-Length", strconv.Itoa(len(stream)))
		w.Write(stream)
		return
	}
	res, err := a.store.Query(r.Context(), query, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	writeJSON(w, res)
}

// ArrowStreamType is the media type of an Arrow IPC stream, which
// /api/v1/sql answers when the request's Accept header prefers it and the
// store can (the embedded engine).
const ArrowStreamType = "application/vnd.apache.arrow.stream"

// prefersArrow reads Accept headers: true when they name ArrowStreamType
// with a quality above zero and no lower than JSON's (application/json,
// application/*, */*). Arrow must be named: a wildcard alone keeps JSON,
// the documented default.
func prefersArrow(accept []string) bool {
	arrowQ, jsonQ := 0.0, 0.0
	for _, header := range accept {
		for _, part := range strings.Split(header, ",") {
			media, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(media)) {
			case ArrowStreamType:
				arrowQ = max(arrowQ, q)
			case "application/json", "application/*", "*/*":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return arrowQ > 0 && arrowQ >= jsonQ
}

// SeriesInfo is one series in API answers.
type SeriesInfo struct {
	SeriesID   json.Number       `json:"series_id"`
	MetricName string            `json:"metric_name"`
	Labels     map[string]string `json:"labels"`
	LastSeen   string            `json:"last_seen"`
}

func (a *API) series(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	matches := q["match[]"]
	if len(matches) == 0 {
		matches = q["match"]
	}
	if len(matches) == 0 {
		writeError(w, http.StatusBadRequest, `missing match[]: give a selector such as match[]={__name__="http_requests_total",service="checkout"}`)
		return
	}
	limit := 1000
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 100_000 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 100000")
			return
		}
		limit = n
	}
	var ors []string
	for _, m := range matches {
		cond, err := selectorSQL(m)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ors = append(ors, "("+cond+")")
	}
	where := strings.Join(ors, " OR ")
	if s := q.Get("start"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "start: "+err.Error())
			return
		}
		// last_seen is refreshed at most hourly: allow for that.
		where = "(" + where + ") AND last_seen >= fromUnixTimestamp64Milli(" + strconv.FormatInt(t.Add(-time.Hour).UnixMilli(), 10) + ")"
	}
	sql := `SELECT series_id, metric_name, labels, last_seen FROM series FINAL WHERE ` + where +
		` ORDER BY metric_name, series_id LIMIT ` + strconv.Itoa(limit)
	res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]SeriesInfo, 0, len(res.Rows))
	for _, row := range res.Rows {
		out = append(out, seriesInfo(row))
	}
	writeJSON(w, map[string]any{"series": out})
}

func seriesInfo(row []any) SeriesInfo {
	si := SeriesInfo{Labels: map[string]string{}}
	si.SeriesID, _ = row[0].(json.Number)
	si.MetricName, _ = row[1].(string)
	if m, ok := row[2].(map[string]any); ok {
		for k, v := range m {
			si.Labels[k], _ = v.(string)
		}
	}
	si.LastSeen, _ = row[3].(string)
	return si
}

// aggregations maps the agg parameter to ClickHouse.
var aggregations = map[string]string{
	"avg": "avg(value)", "min": "min(value)", "max": "max(value)", "sum": "sum(value)",
	"count": "count()", "last": "argMax(value, time)", "first": "argMin(value, time)",
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := parseTime(q.Get("start"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "start: "+err.Error())
		return
	}
	end, err := parseTime(q.Get("end"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "end: "+err.Error())
		return
	}
	if !end.After(start) {
		writeError(w, http.StatusBadRequest, "end must be after start")
		return
	}
	step, err := parseStep(q.Get("step"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "step: "+err.Error())
		return
	}
	if end.Sub(start)/step > 11_000 {
		writeError(w, http.StatusBadRequest, "more than 11,000 points: choose a larger step or a shorter range")
		return
	}
	agg := q.Get("agg")
	if agg == "" {
		agg = "avg"
	}
	aggSQL, ok := aggregations[agg]
	if !ok {
		writeError(w, http.StatusBadRequest, "agg must be one of avg, min, max, sum, count, last, first")
		return
	}

	var seriesCond string
	switch {
	case q.Get("series_id") != "":
		id, err := strconv.ParseUint(q.Get("series_id"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "series_id must be an unsigned 64-bit integer")
			return
		}
		seriesCond = "series_id = " + strconv.FormatUint(id, 10)
	case q.Get("match") != "":
		seriesCond, err = selectorSQL(q.Get("match"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	default:
		writeError(w, http.StatusBadRequest, "give series_id=… or match={…} selecting one series")
		return
	}
	found, err := a.store.Query(r.Context(),
		`SELECT series_id, metric_name, labels, last_seen FROM series FINAL WHERE `+seriesCond+` LIMIT 2`,
		store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	switch len(found.Rows) {
	case 0:
		writeError(w, http.StatusNotFound, "no series matches")
		return
	case 2:
		writeError(w, http.StatusBadRequest, "the selector matches more than one series: add labels, or use /api/v1/series to find the series_id")
		return
	}
	info := seriesInfo(found.Rows[0])
	stepMs := step.Milliseconds()
	sql := fmt.Sprintf(`SELECT intDiv(toUnixTimestamp64Milli(time), %[1]d) * %[1]d AS t, %[2]s AS v
FROM samples_data FINAL
WHERE metric_name = %[3]s AND series_id = %[4]s
  AND time >= fromUnixTimestamp64Milli(%[5]d) AND time < fromUnixTimestamp64Milli(%[6]d)
GROUP BY t ORDER BY t`, stepMs, aggSQL, quote(info.MetricName), info.SeriesID, start.UnixMilli(), end.UnixMilli())
	res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	points := make([][2]any, 0, len(res.Rows))
	for _, row := range res.Rows {
		points = append(points, [2]any{row[0], row[1]})
	}
	writeJSON(w, map[string]any{
		"series": info, "agg": agg, "step_ms": stepMs,
		"start": start.UTC().Format(time.RFC3339Nano), "end": end.UTC().Format(time.RFC3339Nano),
		"points": points,
	})
}

// selectorSQL translates a Prometheus series selector into a condition on
// the series table. Every value is quoted; regexps are anchored as in
// PromQL and run by ClickHouse's RE2, the same engine as Prometheus'.
func selectorSQL(sel string) (string, error) {
	ms, err := selectorParser.ParseMetricSelector(sel)
	if err != nil {
		return "", fmt.Errorf("bad selector %q: %v", sel, err)
	}
	conds := make([]string, 0, len(ms))
	for _, m := range ms {
		col := "labels[" + quote(m.Name) + "]"
		if m.Name == labels.MetricName {
			col = "metric_name"
		}
		var c string
		switch m.Type {
		case labels.MatchEqual:
			c = col + " = " + quote(m.Value)
		case labels.MatchNotEqual:
			c = col + " != " + quote(m.Value)
		case labels.MatchRegexp:
			c = "match(" + col + ", " + quote("^(?:"+m.Value+")$") + ")"
		case labels.MatchNotRegexp:
			c = "NOT match(" + col + ", " + quote("^(?:"+m.Value+")$") + ")"
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " AND "), nil
}

// parseTime accepts RFC 3339 or Unix seconds (with fraction), as Prometheus' API does.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing (RFC 3339 or Unix seconds)")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("%q is not a time", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", s)
	}
	return t, nil
}

// parseStep accepts a Go/Prometheus duration ("30s", "5m") or seconds.
func parseStep(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing (e.g. 60s or 60)")
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < time.Millisecond {
		return 0, errors.New("must be at least 1ms")
	}
	return d, nil
}

func (a *API) storeError(w http.ResponseWriter, err error) {
	var qe *store.QueryError
	switch {
	case errors.As(err, &qe):
		writeError(w, http.StatusBadRequest, qe.Message)
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "store unavailable: "+err.Error())
	default:
		a.log.Error("query failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		// Headers are gone; nothing better to do than stop the body.
		return
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

var selectorParser = parser.NewParser(parser.Options{})
