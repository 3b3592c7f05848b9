package queryapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// report is everything an incident report shows.
type report struct {
	Incident   *Incident
	Timeline   []TimelineEntry
	RootCauses []rootCause
	Series     []seriesChart
	Similar    []similarIncident
	MTTD       string // first signal → first alert
	MTTA, MTTR string
	Generated  time.Time
}

type rootCause struct {
	Service     string  `json:"service"`
	Score       float64 `json:"score"`
	Explanation string  `json:"explanation"`
}

type seriesChart struct {
	Title string
	SVG   template.HTML // inline, self-contained
}

type similarIncident struct {
	ID         string
	Title      string
	Similarity float64
	Resolution string
}

// report serves GET /api/v1/incidents/{id}/report?format=markdown|html.
func (a *API) report(w http.ResponseWriter, r *http.Request) {
	in, timeline, ok := a.loadIncident(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "html"
	}
	if format != "html" && format != "markdown" && format != "md" {
		writeError(w, http.StatusBadRequest, "format must be html or markdown")
		return
	}
	rep := &report{Incident: in, Timeline: timeline, Generated: time.Now().UTC()}
	json.Unmarshal(in.RootCauses, &rep.RootCauses)
	rep.MTTD, rep.MTTA, rep.MTTR = "–", "–", "–"
	for _, e := range timeline {
		if e.Kind == "alert" && strings.Contains(e.Title, "firing") {
			rep.MTTD = duration(e.Time.Sub(in.OpenedAt))
			break
		}
	}
	if in.MTTASeconds != nil {
		rep.MTTA = duration(time.Duration(*in.MTTASeconds * float64(time.Second)))
	}
	if in.MTTRSeconds != nil {
		rep.MTTR = duration(time.Duration(*in.MTTRSeconds * float64(time.Second)))
	}
	var err error
	if rep.Series, err = a.keySeries(r, in, format != "html"); err != nil {
		a.storeError(w, err)
		return
	}
	if rep.Similar, err = a.similar(r, in); err != nil {
		a.storeError(w, err)
		return
	}
	var buf bytes.Buffer
	if format == "html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err = htmlReport.Execute(&buf, rep)
	} else {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		err = markdownReport(&buf, rep)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "render report: "+err.Error())
		return
	}
	w.Write(buf.Bytes())
}

// keySeries are the three most anomalous series of the incident's
// services, each drawn with its band and anomaly markers.
func (a *API) keySeries(r *http.Request, in *Incident, titlesOnly bool) ([]seriesChart, error) {
	if len(in.Services) == 0 {
		return nil, nil
	}
	from, to := incidentWindow(in)
	var svcs []string
	for _, s := range in.Services {
		svcs = append(svcs, quote(s))
	}
	window := fmt.Sprintf("time BETWEEN fromUnixTimestamp64Milli(%d) AND fromUnixTimestamp64Milli(%d)", from.UnixMilli(), to.UnixMilli())
	res, err := a.store.Query(r.Context(), `SELECT series_id, any(metric_name), any(service), any(labels['instance']),
		groupArray(toUnixTimestamp64Milli(time)) FROM anomalies FINAL
		WHERE kind = 'anomaly' AND state = 'open' AND service IN (`+strings.Join(svcs, ", ")+`) AND `+window+`
		GROUP BY series_id ORDER BY max(score) DESC, series_id LIMIT 3`, store.QueryOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	var out []seriesChart
	for _, row := range res.Rows {
		id, _ := row[0].(json.Number)
		title := str(row[2]) + " · " + str(row[1])
		if inst := str(row[3]); inst != "" {
			title += " · " + inst
		}
		if titlesOnly {
			out = append(out, seriesChart{Title: title})
			continue
		}
		var marks []int64
		for _, m := range row[4].([]any) {
			marks = append(marks, msTime(m).UnixMilli())
		}
		bands, err := a.store.Query(r.Context(), `SELECT toUnixTimestamp64Milli(time), value, expected, lower, upper
			FROM bands FINAL WHERE series_id = `+id.String()+` AND `+window+` ORDER BY time LIMIT 5000`, store.QueryOptions{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		out = append(out, seriesChart{Title: title, SVG: chartSVG(bands.Rows, marks)})
	}
	return out, nil
}

// incidentWindow is the span a report draws: from half an hour before the
// incident opened to a quarter of an hour after it resolved (now while it
// is not resolved).
func incidentWindow(in *Incident) (from, to time.Time) {
	from = in.OpenedAt.Add(-30 * time.Minute)
	// Incidents live in event time: a backfill or a demo running faster than
	// the clock has signals after the wall clock's now, so an open incident's
	// window reaches at least its latest update.
	to = time.Now().UTC()
	if last := in.UpdatedAt.Add(15 * time.Minute); last.After(to) {
		to = last
	}
	if in.ResolvedAt != nil {
		to = in.ResolvedAt.Add(15 * time.Minute)
	}
	return from, to
}

// chartSVG draws value (line), band (shaded between lower and upper) and
// anomaly markers as one inline SVG with no external references.
func chartSVG(rows [][]any, marks []int64) template.HTML {
	const w, h, pad = 720.0, 200.0, 30.0
	if len(rows) < 2 {
		return template.HTML(`<p class="muted">No band data in the window.</p>`)
	}
	num := func(v any) float64 {
		switch x := v.(type) {
		case json.Number:
			f, _ := x.Float64()
			return f
		case float64:
			return x
		}
		return math.NaN()
	}
	t0, t1 := msTime(rows[0][0]).UnixMilli(), msTime(rows[len(rows)-1][0]).UnixMilli()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		for _, v := range []float64{num(r[1]), num(r[3]), num(r[4])} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(ms int64) float64 { return pad + (w-2*pad)*float64(ms-t0)/float64(max(t1-t0, 1)) }
	y := func(v float64) float64 { return h - pad - (h-2*pad)*(v-lo)/(hi-lo) }
	var band, upper, line strings.Builder
	for i, r := range rows {
		ms := msTime(r[0]).UnixMilli()
		fmt.Fprintf(&upper, "%.1f,%.1f ", x(ms), y(num(r[4])))
		fmt.Fprintf(&line, "%.1f,%.1f ", x(ms), y(num(r[1])))
		_ = i
	}
	band.WriteString(upper.String())
	for i := len(rows) - 1; i >= 0; i-- {
		fmt.Fprintf(&band, "%.1f,%.1f ", x(msTime(rows[i][0]).UnixMilli()), y(num(rows[i][3])))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img">`, w, h, w, h)
	fmt.Fprintf(&sb, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#111217"/>`, w, h)
	fmt.Fprintf(&sb, `<polygon points="%s" fill="#3d71d9" fill-opacity="0.25"/>`, strings.TrimSpace(band.String()))
	fmt.Fprintf(&sb, `<polyline points="%s" fill="none" stroke="#73bf69" stroke-width="1.5"/>`, strings.TrimSpace(line.String()))
	for _, ms := range marks {
		if ms < t0 || ms > t1 {
			continue
		}
		i, _ := slices.BinarySearchFunc(rows, ms, func(r []any, t int64) int { return int(msTime(r[0]).UnixMilli() - t) })
		if i >= len(rows) {
			i = len(rows) - 1
		}
		fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="4" fill="#f2495c"/>`, x(ms), y(num(rows[i][1])))
	}
	fmt.Fprintf(&sb, `<text x="%.0f" y="16" fill="#ccccdc" font-size="11">%s</text>`, pad, template.HTMLEscapeString(strconv.FormatFloat(hi, 'g', 4, 64)))
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" fill="#ccccdc" font-size="11">%s</text>`, pad, h-8, template.HTMLEscapeString(strconv.FormatFloat(lo, 'g', 4, 64)))
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" fill="#ccccdc" font-size="11" text-anchor="end">%s – %s UTC</text>`, w-pad, h-8,
		time.UnixMilli(t0).UTC().Format("15:04"), time.UnixMilli(t1).UTC().Format("15:04"))
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// similar finds past resolved incidents sharing services with this one
// (Jaccard similarity), with how they were resolved.
func (a *API) similar(r *http.Request, in *Incident) ([]similarIncident, error) {
	res, err := a.store.Query(r.Context(), `SELECT id, title, services FROM incidents FINAL
		WHERE state = 'resolved' AND id != `+quote(in.ID)+` ORDER BY opened_at DESC LIMIT 500`, store.QueryOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	var out []similarIncident
	for _, row := range res.Rows {
		if s := jaccard(in.Services, strs(row[2])); s > 0 {
			out = append(out, similarIncident{ID: str(row[0]), Title: str(row[1]), Similarity: s})
		}
	}
	slices.SortStableFunc(out, func(a, b similarIncident) int {
		switch {
		case a.Similarity > b.Similarity:
			return -1
		case a.Similarity < b.Similarity:
			return 1
		}
		return 0
	})
	if len(out) > 3 {
		out = out[:3]
	}
	for i := range out {
		notes, err := a.store.Query(r.Context(), `SELECT title FROM incident_events FINAL WHERE incident_id = `+quote(out[i].ID)+
			` AND kind IN ('note', 'resolved') ORDER BY time DESC LIMIT 3`, store.QueryOptions{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		var ts []string
		for _, n := range notes.Rows {
			ts = append(ts, str(n[0]))
		}
		out[i].Resolution = strings.Join(ts, "; ")
	}
	return out, nil
}

func jaccard(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

func duration(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return d.Round(time.Second).String()
}

func markdownReport(buf *bytes.Buffer, rep *report) error {
	in := rep.Incident
	fmt.Fprintf(buf, "# %s — %s\n\n", in.ID, mdEscape(in.Title))
	fmt.Fprintf(buf, "**%s · %s** · opened %s", in.Severity, in.State, in.OpenedAt.Format(time.RFC3339))
	if in.ResolvedAt != nil {
		fmt.Fprintf(buf, " · resolved %s", in.ResolvedAt.Format(time.RFC3339))
	}
	buf.WriteString("\n\n## Summary\n\n")
	fmt.Fprintf(buf, "%d signals across %s.", in.Signals, strings.Join(in.Services, ", "))
	if len(rep.RootCauses) > 0 {
		fmt.Fprintf(buf, " Most likely cause: **%s** (%s).", rep.RootCauses[0].Service, rep.RootCauses[0].Explanation)
	}
	buf.WriteString("\n\n## Impact\n\n")
	fmt.Fprintf(buf, "- Services: %s\n- Severity: %s\n", strings.Join(in.Services, ", "), in.Severity)
	if len(in.MissingData) > 0 {
		fmt.Fprintf(buf, "- Data missing from: %s (values from these sources could not be judged)\n", strings.Join(in.MissingData, ", "))
	}
	fmt.Fprintf(buf, "\n| MTTD | MTTA | MTTR |\n|---|---|---|\n| %s | %s | %s |\n", rep.MTTD, rep.MTTA, rep.MTTR)
	buf.WriteString("\n## Root-cause candidates\n\n")
	for i, c := range rep.RootCauses {
		fmt.Fprintf(buf, "%d. **%s** — %s (score %.2f)\n", i+1, c.Service, mdEscape(c.Explanation), c.Score)
	}
	buf.WriteString("\n## Timeline (UTC)\n\n| time | kind | service | what |\n|---|---|---|---|\n")
	for _, e := range rep.Timeline {
		what := mdEscape(e.Title)
		if e.Detail != "" {
			what += " — " + mdEscape(e.Detail)
		}
		fmt.Fprintf(buf, "| %s | %s | %s | %s |\n", e.Time.Format("15:04:05"), e.Kind, e.Service, what)
	}
	if len(rep.Series) > 0 {
		buf.WriteString("\n## Key series\n\n")
		for _, s := range rep.Series {
			fmt.Fprintf(buf, "- %s\n", mdEscape(s.Title))
		}
	}
	buf.WriteString("\n## Similar past incidents\n\n")
	if len(rep.Similar) == 0 {
		buf.WriteString("None found.\n")
	}
	for _, s := range rep.Similar {
		fmt.Fprintf(buf, "- %s — %s (similarity %.0f%%)", s.ID, mdEscape(s.Title), 100*s.Similarity)
		if s.Resolution != "" {
			fmt.Fprintf(buf, ": %s", mdEscape(s.Resolution))
		}
		buf.WriteString("\n")
	}
	fmt.Fprintf(buf, "\n_Generated by firebreak at %s._\n", rep.Generated.Format(time.RFC3339))
	return nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`).Replace(s)
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts":   func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
	"hms":  func(t time.Time) string { return t.Format("15:04:05") },
	"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"f2":   func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"join": strings.Join,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Incident.ID}} — {{.Incident.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;background:#181b1f;color:#ccccdc;margin:2rem;max-width:60rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #333;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #2a2d33;padding:.3rem .5rem;text-align:left;vertical-align:top}
.sev{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#c4162a;color:#fff;font-weight:600}
.sev.P3,.sev.P4{background:#e0b400;color:#000}.muted{color:#8e8e8e}.kpi td{font-size:1.2rem}
</style></head><body>
<h1>{{.Incident.ID}} — {{.Incident.Title}}</h1>
<p><span class="sev {{.Incident.Severity}}">{{.Incident.Severity}}</span> {{.Incident.State}} · opened {{ts .Incident.OpenedAt}} UTC{{with .Incident.ResolvedAt}} · resolved {{ts .}} UTC{{end}}</p>
<h2>Summary</h2>
<p>{{.Incident.Signals}} signals across {{join .Incident.Services ", "}}.{{with .RootCauses}} Most likely cause: <b>{{(index . 0).Service}}</b> ({{(index . 0).Explanation}}).{{end}}</p>
<h2>Impact</h2>
<ul><li>Services: {{join .Incident.Services ", "}}</li><li>Severity: {{.Incident.Severity}}</li>
{{with .Incident.MissingData}}<li>Data missing from: {{join . ", "}} (values from these sources could not be judged)</li>{{end}}</ul>
<table class="kpi"><tr><th>MTTD</th><th>MTTA</th><th>MTTR</th></tr><tr><td>{{.MTTD}}</td><td>{{.MTTA}}</td><td>{{.MTTR}}</td></tr></table>
<h2>Root-cause candidates</h2>
<ol>{{range .RootCauses}}<li><b>{{.Service}}</b> — {{.Explanation}} <span class="muted">(score {{f2 .Score}})</span></li>{{end}}</ol>
<h2>Key series</h2>
{{range .Series}}<h3>{{.Title}}</h3>{{.SVG}}{{else}}<p class="muted">No anomalous series recorded for these services.</p>{{end}}
<h2>Timeline (UTC)</h2>
<table><tr><th>time</th><th>kind</th><th>service</th><th>what</th></tr>
{{range .Timeline}}<tr><td>{{hms .Time}}</td><td>{{.Kind}}</td><td>{{.Service}}</td><td>{{.Title}}{{with .Detail}} <span class="muted">— {{.}}</span>{{end}}</td></tr>{{end}}
</table>
<h2>Similar past incidents</h2>
{{range .Similar}}<p>{{.ID}} — {{.Title}} <span class="muted">(similarity {{pct .Similarity}})</span>{{with .Resolution}}: {{.}}{{end}}</p>{{else}}<p class="muted">None found.</p>{{end}}
<p class="muted">Generated by firebreak at {{ts .Generated}} UTC.</p>
</body></html>
`))
