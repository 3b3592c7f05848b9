package queryapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Log line limits of GET /api/v1/logs.
const (
	defaultLogLines = 500
	maxLogLines     = 5000
)

// severityNumbers are OpenTelemetry's severity numbers of the level names
// a minimum may be given as (the logs table's severity_number).
var severityNumbers = map[string]int{
	"trace": 1, "debug": 5, "info": 9, "notice": 10, "warn": 13, "warning": 13,
	"error": 17, "err": 17, "critical": 19, "crit": 19, "alert": 21, "fatal": 21,
}

// LogLine is one line in /api/v1/logs answers.
type LogLine struct {
	Time           time.Time         `json:"time"`
	Service        string            `json:"service"`
	Severity       string            `json:"severity"`
	SeverityNumber int               `json:"severity_number"`
	Body           string            `json:"body"`
	TraceID        string            `json:"trace_id,omitempty"`
	SpanID         string            `json:"span_id,omitempty"`
	Labels         map[string]string `json:"labels"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	// ID is the line's content key (entry_id), unique within its service.
	ID string `json:"id"`
}

// logs serves GET /api/v1/logs/query?service=&search=&template_id=&severity=&start=&end=&limit=:
// lines newest first.
func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, err := timeRange(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := limitParam(q, defaultLogLines, maxLogLines)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	conds := []string{timeCond("time", start, end), inList(q, "service", "service")}
	if s := strings.TrimSpace(q.Get("severity")); s != "" {
		n, err := minSeverity(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		conds = append(conds, "severity_number >= "+strconv.Itoa(n))
	}
	if s := q.Get("search"); s != "" {
		conds = append(conds, searchCond(s))
	}
	if s := q.Get("template_id"); s != "" {
		id, err := parseTemplateID(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		// A line keeps the template id it was mined with; ids the template
		// has replaced since (changed records' prev_ids) are its lines too.
		ids := fmt.Sprintf(`template_id = %[1]d OR template_id IN (
    SELECT toUInt64OrZero(arrayJoin(prev_ids)) FROM patterns FINAL WHERE kind = 'changed' AND template_id = %[1]d)`, id)
		conds = append(conds, `(service, time, entry_id) IN (
  SELECT service, time, entry_id FROM log_templates FINAL
  WHERE `+where(timeCond("time", start, end), inList(q, "service", "service"))+` AND (`+ids+`))`)
	}
	sql := `SELECT toString(time), service, severity, severity_number, body, trace_id, span_id, labels, attributes, toString(entry_id)
FROM logs FINAL
WHERE ` + where(conds...) + `
ORDER BY time DESC, service, entry_id
LIMIT ` + strconv.Itoa(limit)
	res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		a.storeError(w, err)
		return
	}
	out := make([]LogLine, 0, len(res.Rows))
	for _, row := range res.Rows {
		tm, _ := time.Parse("2006-01-02 15:04:05.999999999", str(row[0]))
		out = append(out, LogLine{Time: tm.UTC(), Service: str(row[1]), Severity: str(row[2]), SeverityNumber: int(num(row[3])),
			Body: str(row[4]), TraceID: str(row[5]), SpanID: str(row[6]), Labels: strMap(row[7]), Attributes: strMap(row[8]),
			ID: str(row[9])})
	}
	writeJSON(w, map[string]any{"logs": out, "limit": limit})
}

// minSeverity reads a minimum severity: a level name or a number 1–24.
func minSeverity(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 24 {
			return 0, fmt.Errorf("severity %d is not an OpenTelemetry severity number (1–24)", n)
		}
		return n, nil
	}
	if n, ok := severityNumbers[strings.ToLower(s)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("severity %q is not one of trace, debug, info, warn, error, fatal or a number 1–24", s)
}

// searchCond matches a case-insensitive substring of the body. The body's
// token bloom filter (tokenbf_v1) serves hasToken, which is case-sensitive
// and matches whole tokens; hasTokenCaseInsensitive does not use it (seen
// with EXPLAIN indexes = 1 on chDB 26.7). So the index helps where case
// cannot matter: each whole token of the search without letters (an order
// number, a status code, an IP octet) is also asked for with hasToken,
// which lets the index skip granules without it. The substring test
// decides; nothing is missed.
func searchCond(s string) string {
	cond := "positionCaseInsensitiveUTF8(body, " + quote(s) + ") > 0"
	for _, tok := range wholeTokens(s) {
		cond += " AND hasToken(body, " + quote(tok) + ")"
	}
	return cond
}

// wholeTokens are the caseless tokens of s that are whole in any line
// containing s: runs of ASCII digits with a separator before and after
// them within s (the first and last runs may continue in the line, and a
// run next to a letter is part of a longer token).
func wholeTokens(s string) []string {
	isTok := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
	}
	var out []string
	for i := 0; i < len(s); {
		if !isTok(s[i]) {
			i++
			continue
		}
		j := i
		digits := true
		for j < len(s) && isTok(s[j]) {
			digits = digits && s[j] >= '0' && s[j] <= '9'
			j++
		}
		if i > 0 && j < len(s) && digits && len(out) < 4 {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

func strMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k], _ = x.(string)
	}
	return out
}
