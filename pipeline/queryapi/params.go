package queryapi

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The read endpoints for log patterns, logs and support sentiment share
// their parameters: a time range, an optional list of services, a limit.
// Every value that reaches SQL is quoted by quote or is a number formatted
// here, so no parameter is ever spliced into a statement as text.

// defaultSpan is the range of a read endpoint called without start.
const defaultSpan = time.Hour

// timeRange reads start and end (RFC 3339 or Unix seconds); end defaults
// to now, start to an hour before end.
func timeRange(q url.Values) (start, end time.Time, err error) {
	end = time.Now().UTC()
	if s := q.Get("end"); s != "" {
		if end, err = parseTime(s); err != nil {
			return start, end, fmt.Errorf("end: %w", err)
		}
	}
	start = end.Add(-defaultSpan)
	if s := q.Get("start"); s != "" {
		if start, err = parseTime(s); err != nil {
			return start, end, fmt.Errorf("start: %w", err)
		}
	}
	if !end.After(start) {
		return start, end, fmt.Errorf("end must be after start")
	}
	return start, end, nil
}

// timeCond is "col within [start, end)" in milliseconds.
func timeCond(col string, start, end time.Time) string {
	return fmt.Sprintf("%[1]s >= fromUnixTimestamp64Milli(%[2]d) AND %[1]s < fromUnixTimestamp64Milli(%[3]d)",
		col, start.UnixMilli(), end.UnixMilli())
}

// inList is "col = 'a'" or "col IN ('a', 'b')" for the comma-separated
// values of param (repeatable), or "" when none is given.
func inList(q url.Values, param, col string) string {
	vs := splitList(q[param])
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return col + " = " + quote(vs[0])
	}
	quoted := make([]string, len(vs))
	for i, v := range vs {
		quoted[i] = quote(v)
	}
	return col + " IN (" + strings.Join(quoted, ", ") + ")"
}

// limitParam reads limit: def when absent, else 1…max.
func limitParam(q url.Values, def, max int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// stepParam reads step (a duration or seconds); absent: the range over
// about 200 points, rounded up to a whole second (at least a minute, the
// resolution of pattern counts). At most maxSteps steps in the range.
func stepParam(q url.Values, start, end time.Time, maxSteps int) (time.Duration, error) {
	span := end.Sub(start)
	if s := q.Get("step"); s != "" {
		step, err := parseStep(s)
		if err != nil {
			return 0, fmt.Errorf("step: %w", err)
		}
		if span/step > time.Duration(maxSteps) {
			return 0, fmt.Errorf("step %s gives more than %d steps over %s: choose a larger step or a shorter range", step, maxSteps, span)
		}
		return step, nil
	}
	step := (span/200 + time.Second - 1).Truncate(time.Second)
	return max(step, time.Minute), nil
}

// where joins the non-empty conditions with AND.
func where(conds ...string) string {
	var out []string
	for _, c := range conds {
		if c != "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "1"
	}
	return strings.Join(out, " AND ")
}

// templateHex renders a template id column as logdetect names templates
// (16 lower-case hex digits), which is also what anomalies carry in rule.
func templateHex(col string) string {
	return "leftPad(lower(hex(" + col + ")), 16, '0')"
}

// parseTemplateID reads a template id as 16 hex digits (as the API and
// anomalies show it) or as a decimal number.
func parseTemplateID(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if len(s) == 16 {
		if id, err := strconv.ParseUint(s, 16, 64); err == nil {
			return id, nil
		}
	}
	if id, err := strconv.ParseUint(s, 10, 64); err == nil {
		return id, nil
	}
	return 0, fmt.Errorf("template id %q is neither 16 hex digits nor a decimal number", s)
}
