package firebreak

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The calls below read Firebreak's endpoints for incidents, log patterns,
// logs and support sentiment (docs/api.md). Every filter goes as a query
// parameter; the API quotes it.

// RootCause is one ranked root-cause candidate of an incident.
type RootCause struct {
	Service     string  `json:"service"`
	Score       float64 `json:"score"`
	Explanation string  `json:"explanation"`
}

// Incident is one incident as /api/v1/incidents returns it.
type Incident struct {
	ID          string      `json:"id"`
	Title       string      `json:"title"`
	State       string      `json:"state"`
	Severity    string      `json:"severity"`
	Services    []string    `json:"services"`
	OpenedAt    time.Time   `json:"opened_at"`
	AckedAt     *time.Time  `json:"acked_at"`
	MitigatedAt *time.Time  `json:"mitigated_at"`
	ResolvedAt  *time.Time  `json:"resolved_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	Signals     int         `json:"signals"`
	MissingData []string    `json:"missing_data"`
	RootCauses  []RootCause `json:"root_causes"`
	MTTASeconds *float64    `json:"mtta_seconds"`
	MTTRSeconds *float64    `json:"mttr_seconds"`
}

// TimelineEntry is one line of an incident's timeline.
type TimelineEntry struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service"`
	Title   string    `json:"title"`
	Detail  string    `json:"detail"`
	Ref     string    `json:"ref"`
}

// IncidentFilter selects incidents: any of the states, severities and
// services (empty: all), active within [Start, End] when set.
type IncidentFilter struct {
	States, Severities, Services []string
	Start, End                   time.Time
	Limit                        int
}

// Incidents calls GET /api/v1/incidents: newest first.
func (c *Client) Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	q := url.Values{}
	setList(q, "state", f.States)
	setList(q, "severity", f.Severities)
	setList(q, "service", f.Services)
	setRange(q, f.Start, f.End)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Incidents []Incident `json:"incidents"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/incidents", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Incidents, nil
}

// Incident calls GET /api/v1/incidents/{id}: the incident and its
// timeline, in time order. A missing incident is an *APIError with status 404.
func (c *Client) Incident(ctx context.Context, id string) (*Incident, []TimelineEntry, error) {
	var out struct {
		Incident *Incident       `json:"incident"`
		Timeline []TimelineEntry `json:"timeline"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, nil, err
	}
	return out.Incident, out.Timeline, nil
}

// KeySeries is one of an incident's most anomalous series.
type KeySeries struct {
	Series
	Service string  `json:"service"`
	Score   float64 `json:"score"`
}

// IncidentSeries calls GET /api/v1/incidents/{id}/series: the incident's
// key series and the window its report draws them over.
func (c *Client) IncidentSeries(ctx context.Context, id string, limit int) ([]KeySeries, time.Time, time.Time, error) {
	var out struct {
		From   time.Time   `json:"from"`
		To     time.Time   `json:"to"`
		Series []KeySeries `json:"series"`
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id)+"/series", q, nil, &out); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	return out.Series, out.From, out.To, nil
}

// ReportURL is the address of an incident's HTML report on this server.
func (c *Client) ReportURL(id string) string {
	return c.base + "/api/v1/incidents/" + url.PathEscape(id) + "/report?format=html"
}

// PatternTemplate is one log template in /api/v1/log-patterns answers.
type PatternTemplate struct {
	Service    string     `json:"service"`
	TemplateID string     `json:"template_id"`
	Template   string     `json:"template"`
	Count      int64      `json:"count"`
	Errors     int64      `json:"errors"`
	Warnings   int64      `json:"warnings"`
	FirstSeen  time.Time  `json:"first_seen"`
	Severity   string     `json:"severity"`
	Sample     string     `json:"sample"`
	Points     [][2]int64 `json:"points"`
}

// PatternQuery selects log templates.
type PatternQuery struct {
	Services   []string
	Mode       string // top, new, rates
	Start, End time.Time
	Step       time.Duration // rates; 0: the API's choice
	Limit      int
}

// LogPatterns calls GET /api/v1/log-patterns.
func (c *Client) LogPatterns(ctx context.Context, pq PatternQuery) ([]PatternTemplate, error) {
	q := url.Values{"mode": {pq.Mode}}
	setList(q, "service", pq.Services)
	setRange(q, pq.Start, pq.End)
	if pq.Step > 0 {
		q.Set("step", strconv.FormatFloat(pq.Step.Seconds(), 'f', -1, 64))
	}
	if pq.Limit > 0 {
		q.Set("limit", strconv.Itoa(pq.Limit))
	}
	var out struct {
		Templates []PatternTemplate `json:"templates"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/log-patterns", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Templates, nil
}

// LogLine is one line in GET /api/v1/logs/query answers.
type LogLine struct {
	Time           time.Time         `json:"time"`
	Service        string            `json:"service"`
	Severity       string            `json:"severity"`
	SeverityNumber int               `json:"severity_number"`
	Body           string            `json:"body"`
	TraceID        string            `json:"trace_id"`
	SpanID         string            `json:"span_id"`
	Labels         map[string]string `json:"labels"`
	Attributes     map[string]string `json:"attributes"`
	ID             string            `json:"id"`
}

// LogQuery selects log lines.
type LogQuery struct {
	Services    []string
	Search      string
	TemplateID  string
	MinSeverity string
	Start, End  time.Time
	Limit       int
}

// Logs calls GET /api/v1/logs/query: lines newest first.
func (c *Client) Logs(ctx context.Context, lq LogQuery) ([]LogLine, error) {
	q := url.Values{}
	setList(q, "service", lq.Services)
	setRange(q, lq.Start, lq.End)
	for k, v := range map[string]string{"search": lq.Search, "template_id": lq.TemplateID, "severity": lq.MinSeverity} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if lq.Limit > 0 {
		q.Set("limit", strconv.Itoa(lq.Limit))
	}
	var out struct {
		Logs []LogLine `json:"logs"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/logs/query", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Logs, nil
}

// SentimentSeries is one group's messages per step: points are [step
// start in Unix ms, messages, negative messages].
type SentimentSeries struct {
	Group  string     `json:"group"`
	Points [][3]int64 `json:"points"`
}

// SupportSample is one (redacted) support message.
type SupportSample struct {
	Time       time.Time `json:"time"`
	Channel    string    `json:"channel"`
	Service    string    `json:"service"`
	Language   string    `json:"language"`
	Sentiment  float64   `json:"sentiment"`
	Label      string    `json:"label"`
	Categories []string  `json:"categories"`
	Text       string    `json:"text"`
}

// SentimentQuery selects support messages.
type SentimentQuery struct {
	Services, Channels []string
	GroupBy            string // service or channel
	Start, End         time.Time
	Step               time.Duration
	Limit              int
}

// SentimentSeries calls GET /api/v1/support/sentiment?view=series.
func (c *Client) SentimentSeries(ctx context.Context, sq SentimentQuery) ([]SentimentSeries, time.Duration, error) {
	q := sentimentParams(sq, "series")
	q.Set("group_by", sq.GroupBy)
	if sq.Step > 0 {
		q.Set("step", strconv.FormatFloat(sq.Step.Seconds(), 'f', -1, 64))
	}
	var out struct {
		StepMs int64             `json:"step_ms"`
		Series []SentimentSeries `json:"series"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/support/sentiment", q, nil, &out); err != nil {
		return nil, 0, err
	}
	return out.Series, time.Duration(out.StepMs) * time.Millisecond, nil
}

// SentimentSamples calls GET /api/v1/support/sentiment?view=samples: most
// negative first.
func (c *Client) SentimentSamples(ctx context.Context, sq SentimentQuery) ([]SupportSample, error) {
	q := sentimentParams(sq, "samples")
	if sq.Limit > 0 {
		q.Set("limit", strconv.Itoa(sq.Limit))
	}
	var out struct {
		Samples []SupportSample `json:"samples"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/support/sentiment", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Samples, nil
}

func sentimentParams(sq SentimentQuery, view string) url.Values {
	q := url.Values{"view": {view}}
	setList(q, "service", sq.Services)
	setList(q, "channel", sq.Channels)
	setRange(q, sq.Start, sq.End)
	return q
}

// setList sends a list as one comma-separated parameter, as the API
// reads it.
func setList(q url.Values, name string, vs []string) {
	if len(vs) > 0 {
		q.Set(name, strings.Join(vs, ","))
	}
}

func setRange(q url.Values, start, end time.Time) {
	if !start.IsZero() {
		q.Set("start", unixSeconds(start))
	}
	if !end.IsZero() {
		q.Set("end", unixSeconds(end))
	}
}
