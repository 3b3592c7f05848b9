package queryapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Log pattern modes.
const (
	patternsTop   = "top"   // templates by lines in the range
	patternsNew   = "new"   // templates first seen within the range
	patternsRates = "rates" // lines per step of the top templates
)

// PatternTemplate is one template in /api/v1/log-patterns answers.
type PatternTemplate struct {
	Service    string `json:"service"`
	TemplateID string `json:"template_id"` // 16 hex digits, as anomalies' rule
	Template   string `json:"template"`
	// Count is the template's lines within the range (minute records).
	Count     int64     `json:"count"`
	Errors    int64     `json:"errors"`
	Warnings  int64     `json:"warnings"`
	FirstSeen time.Time `json:"first_seen"`
	// Severity is error, warn or info: the worst class of its lines in
	// the range, or of its first line when it has no counted minute yet.
	Severity string `json:"severity"`
	Sample   string `json:"sample,omitempty"`
	// Points (rates only): [step start in Unix ms, lines in the step].
	Points [][2]int64 `json:"points,omitempty"`
}

// logPatterns serves GET /api/v1/log-patterns?service=&start=&end=&mode=&limit=&step=.
//
// The patterns table holds minute records (per service, template, minute
// and logs partition: sum them) and one new record per template's first
// line. top and new read both, so a template whose first minute has not
// closed yet still shows with its first line.
func (a *API) logPatterns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, err := timeRange(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	mode := q.Get("mode")
	if mode == "" {
		mode = patternsTop
	}
	def := 100
	switch mode {
	case patternsTop, patternsNew:
	case patternsRates:
		def = 10
	default:
		writeError(w, http.StatusBadRequest, "mode must be top, new or rates")
		return
	}
	limit, err := limitParam(q, def, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The 'new' record's time is the first line; minute records carry
	// first_seen too, so a template first seen before the range but
	// counted in it has its true first_seen.
	filter := where("kind IN ('minute', 'new')", timeCond("time", start, end), inList(q, "service", "service"))
	having := ""
	switch mode {
	case patternsNew:
		having = "\nHAVING first_ms >= " + strconv.FormatInt(start.UnixMilli(), 10)
	case patternsRates:
		// A template without a counted line in the range has no rate to draw.
		having = "\nHAVING lines > 0"
	}
	sql := `SELECT service, template_id, ` + templateHex("template_id") + ` AS id_hex,
  argMax(template, time) AS template_text,
  sumIf(count, kind = 'minute') AS lines, sumIf(errors, kind = 'minute') AS errs, sumIf(warnings, kind = 'minute') AS warns,
  toUnixTimestamp64Milli(min(if(toUnixTimestamp64Milli(first_seen) > 0, first_seen, time))) AS first_ms,
  anyIf(severity, kind = 'new') AS first_severity,
  argMax(sample, time) AS sample_line
FROM patterns FINAL
WHERE ` + filter + `
GROUP BY service, template_id` + having + `
ORDER BY lines DESC, first_ms, service, template_id
LIMIT ` + strconv.Itoa(limit)
	if mode == patternsNew {
		// Newest first reads better for "what appeared".
		sql = "SELECT * FROM (" + sql + ") ORDER BY first_ms DESC, service, template_id"
	}
	res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]PatternTemplate, 0, len(res.Rows))
	ids := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		t := PatternTemplate{Service: str(row[0]), TemplateID: str(row[2]), Template: str(row[3]),
			Count: num(row[4]), Errors: num(row[5]), Warnings: num(row[6]), FirstSeen: msTime(row[7]),
			Sample: str(row[9])}
		switch {
		case t.Errors > 0:
			t.Severity = "error"
		case t.Warnings > 0:
			t.Severity = "warn"
		case str(row[8]) != "":
			t.Severity = str(row[8])
		default:
			t.Severity = "info"
		}
		out = append(out, t)
		if n, ok := row[1].(json.Number); ok {
			ids = append(ids, n.String())
		}
	}
	if mode != patternsRates || len(out) == 0 {
		writeJSON(w, map[string]any{"mode": mode, "templates": out})
		return
	}

	step, err := stepParam(q, start, end, 11_000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	stepMs := step.Milliseconds()
	idList := ""
	for i, id := range ids {
		if i > 0 {
			idList += ", "
		}
		idList += id // UInt64 as the store returned it: digits only
	}
	sql = fmt.Sprintf(`SELECT service, %[1]s AS id_hex, intDiv(toUnixTimestamp64Milli(time), %[2]d) * %[2]d AS t, sum(count) AS lines
FROM patterns FINAL
WHERE %[3]s
GROUP BY service, template_id, t
ORDER BY service, template_id, t`, templateHex("template_id"), stepMs,
		where("kind = 'minute'", timeCond("time", start, end), inList(q, "service", "service"), "template_id IN ("+idList+")"))
	res, err = a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	index := map[[2]string]int{}
	for i, t := range out {
		index[[2]string{t.Service, t.TemplateID}] = i
	}
	for _, row := range res.Rows {
		i, ok := index[[2]string{str(row[0]), str(row[1])}]
		if !ok {
			continue
		}
		out[i].Points = append(out[i].Points, [2]int64{num(row[2]), num(row[3])})
	}
	writeJSON(w, map[string]any{"mode": mode, "step_ms": stepMs, "templates": out})
}

// num reads an integer the store returned as a JSON number.
func num(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return int64(f)
	case float64:
		return int64(x)
	}
	return 0
}
