// Package events is the edge for what people and other systems tell
// firebreak about incidents: change events (deploys, config changes,
// notes), alerts from any Alertmanager (its webhook), and incident actions
// (acknowledge, resolve, note). Each becomes a records.Event on the events
// topic, answered 202 only once Kafka acknowledged it; the correlator
// joins them to incidents.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Sources, as metric labels and for --ingest-token.
const (
	SourceEvents       = "events"
	SourceAlertmanager = "alertmanager_webhook"
	SourceActions      = "incident_actions"
)

// Paths.
const (
	PathEvents  = "/api/v1/events"
	PathWebhook = "/api/v1/alertmanager/webhook"
)

// Collector serves the three endpoints.
type Collector struct {
	sink    ingest.Sink
	metrics *ingest.Metrics
	now     func() time.Time
	// MaxBodyBytes bounds a request body (413 beyond). Default 1 MiB.
	MaxBodyBytes int64
}

// New builds the collector.
func New(sink ingest.Sink, m *ingest.Metrics) *Collector {
	return &Collector{sink: sink, metrics: m, now: time.Now, MaxBodyBytes: 1 << 20}
}

// ChangeEvent is the body of POST /api/v1/events (one object or an array).
type ChangeEvent struct {
	ID      string            `json:"id,omitempty"`   // default: a hash of the content
	Time    string            `json:"time,omitempty"` // RFC 3339; default: arrival
	Service string            `json:"service"`
	Type    string            `json:"type"` // deploy, config, feature_flag, rollback, note, …
	Title   string            `json:"title"`
	Detail  string            `json:"detail,omitempty"`
	Author  string            `json:"author,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Events serves POST /api/v1/events.
func (c *Collector) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, herr := c.read(w, r)
		if herr == nil {
			var items []ChangeEvent
			if items, herr = decodeOneOrMany(body); herr == nil {
				var evs []*records.Event
				for i := range items {
					ev, err := c.change(&items[i])
					if err != nil {
						herr = ingest.Errorf(http.StatusBadRequest, "invalid_event", "event %d: %v", i, err)
						break
					}
					evs = append(evs, ev)
				}
				if herr == nil {
					herr = c.publish(r, SourceEvents, evs)
				}
			}
		}
		c.reply(w, SourceEvents, herr)
	})
}

func (c *Collector) change(e *ChangeEvent) (*records.Event, error) {
	if strings.TrimSpace(e.Service) == "" || strings.TrimSpace(e.Title) == "" || strings.TrimSpace(e.Type) == "" {
		return nil, errors.New("service, type and title are required")
	}
	t, err := c.parseTime(e.Time)
	if err != nil {
		return nil, err
	}
	ev := &records.Event{ID: e.ID, Kind: records.EventChange, TimeMs: t.UnixMilli(), Service: e.Service,
		Type: e.Type, Title: e.Title, Detail: e.Detail, Author: e.Author, Labels: e.Labels}
	if ev.ID == "" {
		ev.ID = contentID("change", e.Service, e.Type, e.Title, fmt.Sprint(ev.TimeMs))
	}
	return ev, nil
}

// webhookBody is the part of Alertmanager's webhook payload (version 4)
// that matters here.
type webhookBody struct {
	Version string `json:"version"`
	Alerts  []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// Webhook serves POST /api/v1/alertmanager/webhook: configure it as a
// webhook receiver in any Alertmanager, and its alerts (from any
// Prometheus rule) join incidents. Alerts that firebreak itself sent
// (label kind set by firebreak's alerter) are skipped: they are already
// on the alerts topic.
func (c *Collector) Webhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, herr := c.read(w, r)
		if herr == nil {
			var wb webhookBody
			dec := json.NewDecoder(bytes.NewReader(body))
			if err := dec.Decode(&wb); err != nil {
				herr = ingest.Errorf(http.StatusBadRequest, "bad_json", "not an Alertmanager webhook payload: %v", err)
			} else if wb.Version != "" && wb.Version != "4" {
				herr = ingest.Errorf(http.StatusBadRequest, "bad_version", "webhook payload version %q; this receiver reads version 4", wb.Version)
			} else {
				var evs []*records.Event
				for _, a := range wb.Alerts {
					if k := a.Labels["kind"]; k == records.KindAnomaly || k == records.KindSilence || k == records.KindPredictive {
						continue // firebreak's own (its alerter labels every alert with kind)
					}
					name := a.Labels["alertname"]
					if name == "" {
						herr = ingest.Errorf(http.StatusBadRequest, "invalid_alert", "an alert without alertname")
						break
					}
					at := a.StartsAt
					if a.Status == "resolved" && !a.EndsAt.IsZero() {
						at = a.EndsAt
					}
					if at.IsZero() {
						at = c.now()
					}
					fp := a.Fingerprint
					if fp == "" {
						fp = contentID("am", labelsText(a.Labels))
					}
					service := firstOf(a.Labels, "service", "job", "app", "namespace")
					summary := firstOf(a.Annotations, "summary", "description", "message")
					evs = append(evs, &records.Event{ID: contentID("alert", fp, a.Status, fmt.Sprint(at.UnixMilli())),
						Kind: records.EventAlert, TimeMs: at.UnixMilli(), Service: service, Type: "alertmanager",
						Title: "Alert " + a.Status + ": " + name, Detail: summary, Labels: a.Labels,
						State: a.Status, Fingerprint: fp})
				}
				if herr == nil {
					herr = c.publish(r, SourceAlertmanager, evs)
				}
			}
		}
		c.reply(w, SourceAlertmanager, herr)
	})
}

// Action is the body of POST /api/v1/incidents/{id}/{ack,resolve,notes}.
type Action struct {
	Author string `json:"author"`
	Text   string `json:"text,omitempty"`
	Time   string `json:"time,omitempty"`
}

// Actions serves POST /api/v1/incidents/{id}/{action} (ack, resolve,
// notes); register it with a pattern that names {id} and {action}.
func (c *Collector) Actions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, action := r.PathValue("id"), r.PathValue("action")
		typ := map[string]string{"ack": "ack", "resolve": "resolve", "notes": "note"}[action]
		var herr *ingest.HTTPError
		switch {
		case typ == "":
			herr = ingest.Errorf(http.StatusNotFound, "unknown_action", "unknown action %q: use ack, resolve or notes", action)
		case !validID(id):
			herr = ingest.Errorf(http.StatusBadRequest, "bad_incident", "incident id %q is not one firebreak made", id)
		}
		var body []byte
		if herr == nil {
			body, herr = c.read(w, r)
		}
		if herr == nil {
			var a Action
			if len(bytes.TrimSpace(body)) > 0 {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&a); err != nil {
					herr = ingest.Errorf(http.StatusBadRequest, "bad_json", "action body: %v", err)
				}
			}
			if herr == nil && strings.TrimSpace(a.Author) == "" {
				herr = ingest.Errorf(http.StatusBadRequest, "no_author", `say who: {"author": "name"}`)
			}
			if herr == nil && typ == "note" && strings.TrimSpace(a.Text) == "" {
				herr = ingest.Errorf(http.StatusBadRequest, "empty_note", `a note needs {"text": "…"}`)
			}
			if herr == nil {
				t, err := c.parseTime(a.Time)
				if err != nil {
					herr = ingest.Errorf(http.StatusBadRequest, "bad_time", "%v", err)
				} else {
					title := a.Text
					if title == "" {
						title = typ
					}
					ev := &records.Event{ID: contentID("action", id, typ, a.Author, a.Text, fmt.Sprint(t.UnixMilli())),
						Kind: records.EventAction, Type: typ, Incident: id, Author: a.Author, Title: title, TimeMs: t.UnixMilli()}
					herr = c.publish(r, SourceActions, []*records.Event{ev})
				}
			}
		}
		c.reply(w, SourceActions, herr)
	})
}

// validID accepts the ids incidents.Engine makes (inc-YYYYMMDD-HHMM-hex).
func validID(id string) bool {
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

func (c *Collector) read(w http.ResponseWriter, r *http.Request) ([]byte, *ingest.HTTPError) {
	if r.Method != http.MethodPost {
		return nil, ingest.Errorf(http.StatusMethodNotAllowed, "method", "use POST")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "too_large", "body over %d bytes", c.MaxBodyBytes)
		}
		return nil, ingest.Errorf(http.StatusBadRequest, "read", "reading the body: %v", err)
	}
	return body, nil
}

func decodeOneOrMany(body []byte) ([]ChangeEvent, *ingest.HTTPError) {
	body = bytes.TrimSpace(body)
	var items []ChangeEvent
	var err error
	if len(body) > 0 && body[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&items)
	} else {
		var one ChangeEvent
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&one)
		items = []ChangeEvent{one}
	}
	if err != nil {
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_json", "events: %v", err)
	}
	if len(items) == 0 || len(items) > 1000 {
		return nil, ingest.Errorf(http.StatusBadRequest, "count", "send 1 to 1000 events per request, not %d", len(items))
	}
	return items, nil
}

func (c *Collector) parseTime(s string) (time.Time, error) {
	if s == "" {
		return c.now(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
	}
	return t, nil
}

func (c *Collector) publish(r *http.Request, source string, evs []*records.Event) *ingest.HTTPError {
	if len(evs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(evs))
	for _, ev := range evs {
		v, err := records.EncodeEvent(ev)
		if err != nil {
			return ingest.Errorf(http.StatusBadRequest, "encode", "%v", err)
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicEvents, Key: []byte(ev.ID), Value: v})
	}
	if err := c.sink.Publish(r.Context(), msgs...); err != nil {
		return ingest.PublishError(err)
	}
	c.metrics.Accepted.WithLabelValues(source, "events").Add(float64(len(msgs)))
	return nil
}

func (c *Collector) reply(w http.ResponseWriter, source string, herr *ingest.HTTPError) {
	if herr != nil {
		c.metrics.WriteError(w, source, herr)
		return
	}
	c.metrics.Requests.WithLabelValues(source, "202").Inc()
	w.WriteHeader(http.StatusAccepted)
}

func contentID(parts ...string) string {
	h := xxhash.New()
	for _, p := range parts {
		h.WriteString(p)
		h.Write([]byte{0})
	}
	return fmt.Sprintf("e%016x", h.Sum64())
}

func labelsText(ls map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(ls)) {
		b.WriteString(k + "=" + ls[k] + ",")
	}
	return b.String()
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}
