// Package query defines the query model the editors save (src/types.ts
// mirrors it) and validates it, so every query type starts from one typed,
// checked value. detections.go builds the SQL of the query types that read
// the detector tables (bands, anomalies, alerts).
package query

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
)

// Query types.
const (
	TypeSQL       = "sql"
	TypeMetrics   = "metrics"
	TypeAnomalies = "anomalies"
	TypeAlerts    = "alerts"
	// The query types of incidents, log patterns, logs and support
	// sentiment read Firebreak's endpoints for them (incidents.go).
	TypeIncidents   = "incidents"
	TypeIncident    = "incident"
	TypeLogPatterns = "logPatterns"
	TypeLogs        = "logs"
	TypeSentiment   = "sentiment"
)

// Types lists the query types, for messages.
var Types = []string{TypeMetrics, TypeSQL, TypeAnomalies, TypeAlerts, TypeIncidents, TypeIncident, TypeLogPatterns, TypeLogs, TypeSentiment}

// Formats of an answer: sql takes table or time_series; anomalies, alerts
// and incidents table or annotations.
const (
	FormatTable       = "table"
	FormatTimeSeries  = "time_series"
	FormatAnnotations = "annotations"
)

// Aggregations a metrics query may ask for, as the API's query_range names them.
var Aggregations = []string{"avg", "min", "max", "sum", "count", "last", "first"}

// Kinds of detector findings (the kind column of anomalies and alerts).
var Kinds = []string{"anomaly", "silence", "predictive"}

// States a filter may ask for: anomalies are open or resolved, alerts
// firing or resolved.
var (
	AnomalyStates = []string{"open", "resolved"}
	AlertStates   = []string{"firing", "resolved"}
)

// Alert modes: the state of each alert at the end of the range, or every
// transition within it.
const (
	ModeCurrent = "current"
	ModeHistory = "history"
)

// Row limits of the anomalies and alerts query types.
const (
	DefaultLimit = 1000
	MaxLimit     = 10_000
)

// Model is the JSON the editors save.
type Model struct {
	QueryType string `json:"queryType"`

	// sql (format also for anomalies and alerts)
	RawSQL string `json:"rawSql,omitempty"`
	Format string `json:"format,omitempty"`

	// metrics
	Selector    string `json:"selector,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	Step        string `json:"step,omitempty"`
	// WithBand adds each series' band (expected, lower, upper) from the
	// bands table, aggregated per step like the values.
	WithBand bool `json:"withBand,omitempty"`
	// WithScore adds each series' anomaly score per step (the step's
	// highest), with or without the band.
	WithScore bool `json:"withScore,omitempty"`

	// anomalies and alerts
	Kinds []string `json:"kinds,omitempty"`
	// Service: one name or several separated by commas (a multi-value
	// dashboard variable arrives so); empty for all.
	Service string `json:"service,omitempty"`
	// Severity: a list, as text separated by commas or as a JSON array
	// (incidents: ["P1", "P2"]); logs: one minimum level.
	Severity List     `json:"severity,omitempty"`
	State    string   `json:"state,omitempty"`
	MinScore *float64 `json:"minScore,omitempty"`
	Limit    int      `json:"limit,omitempty"`
	// alerts: current or history; logPatterns: top, new or rates
	Mode string `json:"mode,omitempty"`

	// incident: the incident's id (often a dashboard variable's value)
	IncidentID string `json:"incidentId,omitempty"`
	// incident: timeline, states, root_causes, series or summary;
	// sentiment: series or samples
	View string `json:"view,omitempty"`
	// logs: a case-insensitive substring of the line, and a template id
	Search     string `json:"search,omitempty"`
	TemplateID string `json:"templateId,omitempty"`
	// sentiment: channel filter (like service) and grouping (service or channel)
	Channel string `json:"channel,omitempty"`
	GroupBy string `json:"groupBy,omitempty"`
}

// List is a list of strings saved either as JSON text separated by commas
// ("P1, P2", as a multi-value variable arrives in a text field) or as a
// JSON array (["P1", "P2"]); either way the items are trimmed and empty
// ones dropped.
type List []string

// UnmarshalJSON accepts a string, an array of strings, or null.
func (l *List) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = splitList(s)
		return nil
	}
	var arr []string
	if err := json.Unmarshal(b, &arr); err != nil {
		return fmt.Errorf("want text or a list of texts, got %s", b)
	}
	var out List
	for _, v := range arr {
		out = append(out, splitList(v)...)
	}
	*l = out
	return nil
}

// Query is a validated query.
type Query struct {
	Model
	// StepDuration is the metrics step; 0 means "from the panel interval".
	StepDuration time.Duration
	// Services and Severities are Service and Severity split and trimmed.
	Services, Severities []string
	// Channels is Channel split and trimmed (sentiment).
	Channels []string
}

// Parse reads and validates one query. Errors are meant for the user.
func Parse(dq backend.DataQuery) (Query, error) {
	var m Model
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &m); err != nil {
			return Query{}, fmt.Errorf("the query is not valid JSON: %w", err)
		}
	}
	if dq.QueryType != "" {
		m.QueryType = dq.QueryType
	}
	if m.QueryType == "" {
		// Queries saved before the type was chosen: infer it.
		m.QueryType = TypeMetrics
		if strings.TrimSpace(m.RawSQL) != "" {
			m.QueryType = TypeSQL
		}
	}
	q := Query{Model: m}
	var err error
	switch m.QueryType {
	case TypeSQL:
		err = q.checkSQL()
	case TypeMetrics:
		err = q.checkMetrics()
	case TypeAnomalies:
		err = q.checkAnomalies()
	case TypeAlerts:
		err = q.checkAlerts()
	case TypeIncidents:
		err = q.checkIncidents()
	case TypeIncident:
		err = q.checkIncident()
	case TypeLogPatterns:
		err = q.checkLogPatterns()
	case TypeLogs:
		err = q.checkLogs()
	case TypeSentiment:
		err = q.checkSentiment()
	default:
		err = fmt.Errorf("unknown query type %q: use %s", m.QueryType, strings.Join(Types, ", "))
	}
	if err != nil {
		return Query{}, err
	}
	return q, nil
}

func (q *Query) checkSQL() error {
	if strings.TrimSpace(q.RawSQL) == "" {
		return fmt.Errorf("the SQL query is empty")
	}
	return q.checkFormat(FormatTable, FormatTimeSeries)
}

// Bands is what a metrics query reads of the bands table, in
// BandColumns' order: the band with withBand, the score with withScore;
// nil with neither.
func (q Query) Bands() []string {
	var out []string
	if q.WithBand {
		out = append(out, "expected", "lower", "upper")
	}
	if q.WithScore {
		out = append(out, "score")
	}
	return out
}

func (q *Query) checkMetrics() error {
	q.Selector = strings.TrimSpace(q.Selector)
	if q.Selector == "" {
		return fmt.Errorf(`the metrics query needs a selector, e.g. {__name__="http_requests_total", service="checkout"}`)
	}
	if q.Aggregation == "" {
		q.Aggregation = "avg"
	}
	if !slices.Contains(Aggregations, q.Aggregation) {
		return fmt.Errorf("aggregation %q is not one of %s", q.Aggregation, strings.Join(Aggregations, ", "))
	}
	if q.WithBand && q.Aggregation == "count" {
		return fmt.Errorf("a band has no count: choose another aggregation, or turn the band off")
	}
	if s := strings.TrimSpace(q.Step); s != "" && s != "auto" {
		d, err := macros.ParseInterval(s)
		if err != nil {
			return fmt.Errorf("step: %w", err)
		}
		q.StepDuration = d
	}
	return nil
}

// checkFilters validates what anomalies and alerts share: kinds, services,
// severities, state and limit.
func (q *Query) checkFilters(states []string) error {
	for _, k := range q.Kinds {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("kind %q is not one of %s", k, strings.Join(Kinds, ", "))
		}
	}
	q.Services, q.Severities = splitList(q.Service), q.Severity
	if q.State != "" && !slices.Contains(states, q.State) {
		return fmt.Errorf("state %q is not one of %s (or empty for any)", q.State, strings.Join(states, ", "))
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return fmt.Errorf("limit %d is not between 1 and %d", q.Limit, MaxLimit)
	}
	return nil
}

func (q *Query) checkAnomalies() error {
	if err := q.checkFilters(AnomalyStates); err != nil {
		return err
	}
	if s := q.MinScore; s != nil && (*s < 0 || *s > 1) {
		return fmt.Errorf("minimum score %v is not between 0 and 1", *s)
	}
	return q.checkFormat(FormatTable, FormatAnnotations)
}

func (q *Query) checkAlerts() error {
	if err := q.checkFilters(AlertStates); err != nil {
		return err
	}
	if q.Mode == "" {
		q.Mode = ModeCurrent
	}
	if q.Mode != ModeCurrent && q.Mode != ModeHistory {
		return fmt.Errorf("mode %q is neither %s nor %s", q.Mode, ModeCurrent, ModeHistory)
	}
	if err := q.checkFormat(FormatTable, FormatAnnotations); err != nil {
		return err
	}
	if q.Format == FormatAnnotations && q.Mode != ModeCurrent {
		return fmt.Errorf("alert annotations span each alert from firing to resolved: use mode %s", ModeCurrent)
	}
	return nil
}

// checkFormat defaults the format to the first allowed one.
func (q *Query) checkFormat(allowed ...string) error {
	if q.Format == "" {
		q.Format = allowed[0]
	}
	if !slices.Contains(allowed, q.Format) {
		return fmt.Errorf("format %q is not one of %s for %s queries", q.Format, strings.Join(allowed, ", "), q.QueryType)
	}
	return nil
}

// splitList reads "a, b,c" as [a b c], dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
