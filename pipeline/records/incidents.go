package records

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Topics of the incident stage. All have one partition: the correlator is
// one active consumer that sees every service.
const (
	// TopicEvents carries Event records: change events (deploys, config
	// changes, notes) and alerts from other Alertmanager sources, posted to
	// the API, and incident actions (ack, resolve, note).
	TopicEvents = "firebreak.events"
	// TopicIncidents carries IncidentRecord snapshots, one per change.
	TopicIncidents = "firebreak.incidents"
	// TopicIncidentEvents carries TimelineEvent records.
	TopicIncidentEvents = "firebreak.incident-events"
)

// IncidentTopics are the incident stage's outputs the writer stores
// (events too: the change log is worth keeping on its own).
var IncidentTopics = []string{TopicEvents, TopicIncidents, TopicIncidentEvents}

// Event kinds on TopicEvents.
const (
	EventChange = "change" // a deploy, config change or note about a service
	EventAlert  = "alert"  // an alert from an Alertmanager webhook (any source)
	EventAction = "action" // ack, resolve or note on an incident
)

// Event is something people or other systems tell firebreak.
type Event struct {
	Version int    `json:"v"`
	ID      string `json:"id"`
	Kind    string `json:"kind"` // change, alert, action
	TimeMs  int64  `json:"time_ms"`
	Service string `json:"service,omitempty"`
	// Change: type is deploy, config, feature_flag, note…; Action: ack,
	// resolve, note.
	Type     string            `json:"type,omitempty"`
	Title    string            `json:"title"`
	Detail   string            `json:"detail,omitempty"`
	Author   string            `json:"author,omitempty"`
	Incident string            `json:"incident,omitempty"` // actions: the incident id
	Labels   map[string]string `json:"labels,omitempty"`
	// Alert: firing or resolved, and its Alertmanager fingerprint.
	State       string `json:"state,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// EncodeEvent renders a record value.
func EncodeEvent(e *Event) ([]byte, error) {
	e.Version = anomalyVersion
	return json.Marshal(e)
}

// DecodeEvent parses and validates a record value.
func DecodeEvent(rec []byte) (*Event, error) {
	var e Event
	if err := decodeStrictJSON(rec, &e, "event"); err != nil {
		return nil, err
	}
	if e.Version != anomalyVersion {
		return nil, fmt.Errorf("%w: event version %d not supported (this build reads %d)", ErrMalformed, e.Version, anomalyVersion)
	}
	switch e.Kind {
	case EventChange, EventAlert:
	case EventAction:
		if e.Incident == "" {
			return nil, fmt.Errorf("%w: action without an incident", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: event kind %q unknown", ErrMalformed, e.Kind)
	}
	if strings.TrimSpace(e.ID) == "" || e.TimeMs == 0 || strings.TrimSpace(e.Title) == "" {
		return nil, fmt.Errorf("%w: event without id, time or title", ErrMalformed)
	}
	return &e, nil
}

// IncidentRecord is an incident as it stands after a change; the newest
// (by UpdatedMs) per id is the incident.
type IncidentRecord struct {
	Version     int      `json:"v"`
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	State       string   `json:"state"`    // open, mitigated, resolved
	Severity    string   `json:"severity"` // P1 … P4
	Services    []string `json:"services"`
	OpenedMs    int64    `json:"opened_ms"`
	AckedMs     int64    `json:"acked_ms,omitempty"`
	MitigatedMs int64    `json:"mitigated_ms,omitempty"`
	ResolvedMs  int64    `json:"resolved_ms,omitempty"`
	UpdatedMs   int64    `json:"updated_ms"`
	Signals     int      `json:"signals"`
	MissingData []string `json:"missing_data,omitempty"`
	// RootCauses, best first: service and a one-line explanation.
	RootCauses []RootCause `json:"root_causes,omitempty"`
}

// RootCause is one ranked candidate.
type RootCause struct {
	Service     string  `json:"service"`
	Score       float64 `json:"score"`
	Explanation string  `json:"explanation"`
}

// EncodeIncident renders a record value.
func EncodeIncident(r *IncidentRecord) ([]byte, error) {
	r.Version = anomalyVersion
	return json.Marshal(r)
}

// DecodeIncident parses and validates a record value.
func DecodeIncident(rec []byte) (*IncidentRecord, error) {
	var r IncidentRecord
	if err := decodeStrictJSON(rec, &r, "incident"); err != nil {
		return nil, err
	}
	if r.Version != anomalyVersion {
		return nil, fmt.Errorf("%w: incident version %d not supported (this build reads %d)", ErrMalformed, r.Version, anomalyVersion)
	}
	if r.ID == "" || r.OpenedMs == 0 || r.UpdatedMs == 0 {
		return nil, fmt.Errorf("%w: incident without id, opened or updated time", ErrMalformed)
	}
	return &r, nil
}

// TimelineEvent is one line of an incident's timeline.
type TimelineEvent struct {
	Version    int    `json:"v"`
	IncidentID string `json:"incident_id"`
	TimeMs     int64  `json:"time_ms"`
	Kind       string `json:"kind"`
	Service    string `json:"service,omitempty"`
	Title      string `json:"title"`
	Detail     string `json:"detail,omitempty"`
	// Ref points at the source row, e.g. anomalies:<series id>@<time ms>.
	Ref string `json:"ref,omitempty"`
}

// EncodeTimelineEvent renders a record value.
func EncodeTimelineEvent(e *TimelineEvent) ([]byte, error) {
	e.Version = anomalyVersion
	return json.Marshal(e)
}

// DecodeTimelineEvent parses and validates a record value.
func DecodeTimelineEvent(rec []byte) (*TimelineEvent, error) {
	var e TimelineEvent
	if err := decodeStrictJSON(rec, &e, "timeline event"); err != nil {
		return nil, err
	}
	if e.Version != anomalyVersion {
		return nil, fmt.Errorf("%w: timeline event version %d not supported (this build reads %d)", ErrMalformed, e.Version, anomalyVersion)
	}
	if e.IncidentID == "" || e.TimeMs == 0 || e.Kind == "" {
		return nil, fmt.Errorf("%w: timeline event without incident, time or kind", ErrMalformed)
	}
	return &e, nil
}
