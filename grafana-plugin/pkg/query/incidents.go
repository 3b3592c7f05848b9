package query

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The query types below read Firebreak's endpoints for incidents
// (/api/v1/incidents), log patterns (/api/v1/log-patterns), logs
// (/api/v1/logs/query) and support sentiment (/api/v1/support/sentiment):
// the API quotes every value, and this package checks each field first so
// that a mistake is reported in words, before any call.

// IncidentStates and Severities are what the incidents filters take.
var (
	IncidentStates = []string{"open", "mitigated", "resolved"}
	Severities     = []string{"P1", "P2", "P3", "P4"}
)

// Views of the incident query type.
const (
	ViewTimeline   = "timeline"
	ViewStates     = "states"
	ViewRootCauses = "root_causes"
	ViewSeries     = "series"
	ViewSummary    = "summary"
)

// IncidentViews lists the incident views, the default first.
var IncidentViews = []string{ViewTimeline, ViewStates, ViewRootCauses, ViewSeries, ViewSummary}

// Views of the sentiment query type (series is shared with incident).
const ViewSamples = "samples"

// SentimentViews lists the sentiment views, the default first.
var SentimentViews = []string{ViewSeries, ViewSamples}

// Modes of the logPatterns query type.
const (
	PatternsTop   = "top"
	PatternsNew   = "new"
	PatternsRates = "rates"
)

// PatternModes lists the logPatterns modes, the default first.
var PatternModes = []string{PatternsTop, PatternsNew, PatternsRates}

// GroupBys of the sentiment series view, the default first.
var GroupBys = []string{"service", "channel"}

// LogLevels are the minimum severities a logs query takes (or a number
// 1–24, OpenTelemetry's severity number).
var LogLevels = []string{"trace", "debug", "info", "warn", "error", "fatal"}

// Row limits of the new query types: default and maximum.
const (
	DefaultIncidents     = 100
	DefaultPatterns      = 100
	DefaultPatternRates  = 10
	MaxPatterns          = 1000
	DefaultLogLines      = 500
	MaxLogLines          = 5000
	DefaultSamples       = 20
	MaxSamples           = 1000
	maxSearch            = 1000
	maxIncidentIDLength  = 64
	incidentIDDescribing = "inc-… as Firebreak names incidents"
)

// allValues are what a dashboard variable's "All" option may arrive as
// when the variable has no custom all value: no filter.
var allValues = []string{"", "All", "all", "$__all", "*"}

// filterList splits a filter field like splitList; "All" (or $__all) alone
// means no filter.
func filterList(s string) []string {
	if slices.Contains(allValues, strings.TrimSpace(s)) {
		return nil
	}
	out := splitList(s)
	if len(out) == 1 && slices.Contains(allValues, out[0]) {
		return nil
	}
	return out
}

// limit defaults or checks q.Limit.
func (q *Query) limit(def, max int) error {
	switch {
	case q.Limit == 0:
		q.Limit = def
	case q.Limit < 0 || q.Limit > max:
		return fmt.Errorf("limit %d is not between 1 and %d", q.Limit, max)
	}
	return nil
}

// oneOf defaults *v to allowed[0] and checks it.
func oneOf(what string, v *string, allowed []string) error {
	if *v == "" {
		*v = allowed[0]
	}
	if !slices.Contains(allowed, *v) {
		return fmt.Errorf("%s %q is not one of %s", what, *v, strings.Join(allowed, ", "))
	}
	return nil
}

func (q *Query) checkIncidents() error {
	q.Services = filterList(q.Service)
	if q.State != "" && !slices.Contains(IncidentStates, q.State) {
		return fmt.Errorf("state %q is not one of %s (or empty for any)", q.State, strings.Join(IncidentStates, ", "))
	}
	q.Severities = nil
	for _, s := range q.Severity {
		if slices.Contains(allValues, s) {
			continue
		}
		if !slices.Contains(Severities, strings.ToUpper(s)) {
			return fmt.Errorf("severity %q is not one of %s", s, strings.Join(Severities, ", "))
		}
		q.Severities = append(q.Severities, strings.ToUpper(s))
	}
	if err := q.limit(DefaultIncidents, MaxLimit); err != nil {
		return err
	}
	return q.checkFormat(FormatTable, FormatAnnotations)
}

func (q *Query) checkIncident() error {
	id := strings.TrimSpace(q.IncidentID)
	switch {
	case id == "" || slices.Contains(allValues, id):
		return fmt.Errorf("choose an incident: set the incident id (for example to the dashboard's $incident variable)")
	case strings.HasPrefix(id, "$"):
		return fmt.Errorf("choose an incident: the variable %s has no value on this dashboard", id)
	}
	if err := CheckIncidentID(id); err != nil {
		return err
	}
	q.IncidentID = id
	return oneOf("view", &q.View, IncidentViews)
}

// CheckIncidentID accepts the ids Firebreak makes (inc-, then lower-case
// letters, digits and dashes): anything else cannot name an incident, and
// refusing it here keeps it out of the URL path.
func CheckIncidentID(id string) error {
	ok := strings.HasPrefix(id, "inc-") && len(id) <= maxIncidentIDLength
	for _, r := range id {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("incident id %q is not %s: choose an incident", id, incidentIDDescribing)
	}
	return nil
}

func (q *Query) checkLogPatterns() error {
	q.Services = filterList(q.Service)
	if err := oneOf("mode", &q.Mode, PatternModes); err != nil {
		return err
	}
	def := DefaultPatterns
	if q.Mode == PatternsRates {
		def = DefaultPatternRates
	}
	return q.limit(def, MaxPatterns)
}

func (q *Query) checkLogs() error {
	q.Services = filterList(q.Service)
	if len(q.Search) > maxSearch {
		return fmt.Errorf("the search text is %d bytes long: at most %d", len(q.Search), maxSearch)
	}
	if strings.ContainsRune(q.Search, 0) {
		return fmt.Errorf("the search text contains a NUL byte")
	}
	if id := strings.TrimSpace(q.TemplateID); id != "" {
		if err := checkTemplateID(id); err != nil {
			return err
		}
		q.TemplateID = id
	}
	switch sev := q.Severity; {
	case len(sev) > 1:
		return fmt.Errorf("severity: give one minimum level (%s), not %d", strings.Join(LogLevels, ", "), len(sev))
	case len(sev) == 1:
		if n, err := strconv.Atoi(sev[0]); err == nil {
			if n < 1 || n > 24 {
				return fmt.Errorf("severity %d is not an OpenTelemetry severity number (1–24)", n)
			}
		} else if !slices.Contains(LogLevels, strings.ToLower(sev[0])) {
			return fmt.Errorf("severity %q is not one of %s (or a number 1–24)", sev[0], strings.Join(LogLevels, ", "))
		}
		q.Severities = []string{strings.ToLower(sev[0])}
	}
	return q.limit(DefaultLogLines, MaxLogLines)
}

// checkTemplateID accepts what the logPatterns answers show (16 hex
// digits) and decimal ids.
func checkTemplateID(id string) error {
	if len(id) == 16 {
		if _, err := strconv.ParseUint(id, 16, 64); err == nil {
			return nil
		}
	}
	if _, err := strconv.ParseUint(id, 10, 64); err == nil {
		return nil
	}
	return fmt.Errorf("template id %q is neither 16 hex digits (as log pattern tables show it) nor a decimal number", id)
}

func (q *Query) checkSentiment() error {
	q.Services, q.Channels = filterList(q.Service), filterList(q.Channel)
	if err := oneOf("view", &q.View, SentimentViews); err != nil {
		return err
	}
	if err := oneOf("group by", &q.GroupBy, GroupBys); err != nil {
		return err
	}
	return q.limit(DefaultSamples, MaxSamples)
}
