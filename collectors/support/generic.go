package support

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/support/redact"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// GenericHandler serves POST /api/v1/support: one JSON message object, or an
// array of them. A request is all or nothing: the first invalid message
// refuses the whole request with 400 naming its index and field, so a
// sender can fix it and resend everything.
type GenericHandler struct{ c *Collector }

// GenericMessage is one message of the generic endpoint.
type GenericMessage struct {
	ID       string  `json:"id,omitempty"`       // the sender's id; default: a hash of the content
	Time     string  `json:"time,omitempty"`     // RFC 3339; default: arrival time
	Channel  string  `json:"channel"`            // chat, email, ticket, phone, social
	Customer string  `json:"customer,omitempty"` // customer id (redacted if it is an address or number)
	Text     *string `json:"text"`               // required
	Service  string  `json:"service,omitempty"`  // default: from keywords
	Region   string  `json:"region,omitempty"`
	Language string  `json:"language,omitempty"` // BCP 47; default: detected
}

func (h *GenericHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	body, herr := c.readBody(w, r, "/api/v1/support")
	if herr != nil {
		c.metrics.WriteError(w, SourceGeneric, herr)
		return
	}
	items, array, herr := DecodeGeneric(body)
	if herr == nil && len(items) > c.cfg.MaxMessages {
		herr = ingest.Errorf(http.StatusRequestEntityTooLarge, "too_many_messages",
			"%d messages in one request, limit %d: send smaller batches", len(items), c.cfg.MaxMessages)
	}
	if herr != nil {
		c.metrics.WriteError(w, SourceGeneric, herr)
		return
	}
	now := c.cfg.Now()
	msgs := make([]*records.SupportMessage, len(items))
	for i := range items {
		m, herr := c.genericRecord(&items[i], now)
		if herr != nil {
			if array {
				herr.Message = fmt.Sprintf("message %d: %s", i, herr.Message)
			}
			c.metrics.WriteError(w, SourceGeneric, herr)
			return
		}
		msgs[i] = m
	}
	kinds := make([]redact.Kind, len(msgs))
	for i, m := range msgs {
		kinds[i] = c.Enrich(m)
		m.EnsureID()
	}
	if herr := c.publish(r.Context(), SourceGeneric, msgs, kinds); herr != nil {
		c.metrics.WriteError(w, SourceGeneric, herr)
		return
	}
	c.writeJSON(w, SourceGeneric, http.StatusAccepted, summarize(msgs, kinds, 0))
}

// DecodeGeneric parses a generic body: one object (array false) or an array
// of objects. Unknown fields are refused, so a misspelt field name is
// reported rather than silently dropped. Messages are not validated here.
func DecodeGeneric(body []byte) (msgs []GenericMessage, array bool, herr *ingest.HTTPError) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, ingest.Errorf(http.StatusBadRequest, "empty", "empty body: send a JSON message object or an array of them")
	}
	switch trimmed[0] {
	case '{':
		var m GenericMessage
		if err := decodeStrict(trimmed, &m); err != nil {
			return nil, false, jsonError(err)
		}
		return []GenericMessage{m}, false, nil
	case '[':
		var raws []json.RawMessage
		if err := decodeStrict(trimmed, &raws); err != nil {
			return nil, true, jsonError(err)
		}
		if len(raws) == 0 {
			return nil, true, ingest.Errorf(http.StatusBadRequest, "empty", "empty array: send at least one message")
		}
		msgs = make([]GenericMessage, len(raws))
		for i, raw := range raws {
			if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
				return nil, true, ingest.Errorf(http.StatusBadRequest, "bad_json", "message %d: not a JSON object", i)
			}
			if err := decodeStrict(raw, &msgs[i]); err != nil {
				herr := jsonError(err)
				herr.Message = fmt.Sprintf("message %d: %s", i, herr.Message)
				return nil, true, herr
			}
		}
		return msgs, true, nil
	}
	return nil, false, ingest.Errorf(http.StatusBadRequest, "bad_json", "body must be a JSON object or an array of objects")
}

// decodeStrict decodes one JSON value with no unknown fields and nothing
// after it.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 that names the field.
func jsonError(err error) *ingest.HTTPError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return ingest.Errorf(http.StatusBadRequest, "bad_json", "field %q must be %s, not a JSON %s", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &typeErr):
		return ingest.Errorf(http.StatusBadRequest, "bad_json", "a JSON %s where %s was expected", typeErr.Value, jsonTypeName(typeErr.Type.Kind().String()))
	case errors.As(err, &syntaxErr):
		return ingest.Errorf(http.StatusBadRequest, "bad_json", "not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ingest.Errorf(http.StatusBadRequest, "bad_json", "JSON ends too early")
	}
	// The rest (an unknown field, above all) quote the sender's JSON keys,
	// which can hold anything a message can: redacted like a message.
	msg, _ := redact.String(strings.TrimPrefix(err.Error(), "json: "))
	return ingest.Errorf(http.StatusBadRequest, "bad_json", "%s", msg)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + kind
}

// genericRecord validates one message and turns it into a record.
func (c *Collector) genericRecord(g *GenericMessage, now time.Time) (*records.SupportMessage, *ingest.HTTPError) {
	if g.Text == nil || strings.TrimSpace(*g.Text) == "" {
		return nil, ingest.Errorf(http.StatusBadRequest, "missing_text", "text is required and must not be blank")
	}
	if len(*g.Text) > c.cfg.MaxTextBytes {
		return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "text_too_large",
			"text is %d bytes, limit %d", len(*g.Text), c.cfg.MaxTextBytes)
	}
	if g.Channel == "" {
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_channel", "channel is required: one of %s", strings.Join(Channels, ", "))
	}
	if !slices.Contains(Channels, g.Channel) {
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_channel", "channel %q is not one of %s", g.Channel, strings.Join(Channels, ", "))
	}
	m := &records.SupportMessage{Source: recordGeneric, Channel: g.Channel, Text: *g.Text}
	var herr *ingest.HTTPError
	if m.TimeMs, herr = c.parseTime("time", g.Time, now); herr != nil {
		return nil, herr
	}
	if herr := checkID("id", g.ID); herr != nil {
		return nil, herr
	}
	m.ID = g.ID
	if herr := checkFreeText("customer", g.Customer); herr != nil {
		return nil, herr
	}
	m.Customer = g.Customer
	if herr := checkName("service", g.Service); herr != nil {
		return nil, herr
	}
	m.Service = g.Service
	if herr := checkName("region", g.Region); herr != nil {
		return nil, herr
	}
	m.Region = g.Region
	if m.Language, herr = normalizeLanguage("language", g.Language); herr != nil {
		return nil, herr
	}
	return m, nil
}

// earliest is the oldest time a message may carry.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// parseTime reads an RFC 3339 time; empty means now.
func (c *Collector) parseTime(field, s string, now time.Time) (int64, *ingest.HTTPError) {
	if s == "" {
		return now.UnixMilli(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, ingest.Errorf(http.StatusBadRequest, "bad_time", "%s %q is not an RFC 3339 time such as 2026-11-03T10:15:00Z", field, s)
	}
	return c.checkTime(field, t, now)
}

func (c *Collector) checkTime(field string, t, now time.Time) (int64, *ingest.HTTPError) {
	if t.Before(earliest) || t.After(now.Add(c.cfg.MaxFutureSkew)) {
		return 0, ingest.Errorf(http.StatusBadRequest, "bad_time", "%s %s is out of range: want after 2000-01-01 and at most %v ahead of the server clock",
			field, t.UTC().Format(time.RFC3339), c.cfg.MaxFutureSkew)
	}
	ms := t.UnixMilli()
	if ms == 0 {
		ms = 1 // 0 means "no time" in the record
	}
	return ms, nil
}

const maxIDBytes = 256

func checkID(field, s string) *ingest.HTTPError {
	if len(s) > maxIDBytes {
		return ingest.Errorf(http.StatusBadRequest, "bad_id", "%s is %d bytes, limit %d", field, len(s), maxIDBytes)
	}
	if hasControl(s) {
		return ingest.Errorf(http.StatusBadRequest, "bad_id", "%s must not contain control characters", field)
	}
	return nil
}

func checkFreeText(field, s string) *ingest.HTTPError {
	if len(s) > maxIDBytes {
		return ingest.Errorf(http.StatusBadRequest, "bad_field", "%s is %d bytes, limit %d", field, len(s), maxIDBytes)
	}
	if hasControl(s) {
		return ingest.Errorf(http.StatusBadRequest, "bad_field", "%s must not contain control characters", field)
	}
	return nil
}

func checkName(field, s string) *ingest.HTTPError {
	if s != "" && !namePattern.MatchString(s) {
		return ingest.Errorf(http.StatusBadRequest, "bad_field", "%s %q: want letters, digits and ._:/- (at most 64), e.g. payment", field, s)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

var languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// normalizeLanguage keeps the primary subtag of a BCP 47 tag, lower case:
// "zh-Hans-CN" → "zh", so that stored languages group cleanly.
func normalizeLanguage(field, s string) (string, *ingest.HTTPError) {
	if s == "" {
		return "", nil
	}
	if !languageTag.MatchString(s) {
		return "", ingest.Errorf(http.StatusBadRequest, "bad_field", "%s %q is not a BCP 47 language tag such as en, zh or zh-CN", field, s)
	}
	primary, _, _ := strings.Cut(s, "-")
	return strings.ToLower(primary), nil
}
