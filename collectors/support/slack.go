package support

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/support/redact"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// SlackHandler serves POST /api/v1/support/slack, the Request URL of a
// Slack app's Event Subscriptions. Every request must carry a valid v0
// signature made with the app's signing secret and a timestamp within the
// replay window; otherwise 401 with the reason.
//
//   - url_verification: answered with the challenge (text/plain).
//   - event_callback with a "message" event from a user (no subtype, or
//     thread_broadcast, file_share, me_message) and some text: stored as a
//     chat message. id = client_msg_id, else event_id; customer = the user
//     id; time = the event's ts.
//   - bot messages, edits (message_changed), deletions (message_deleted),
//     other subtypes, other event types and other envelope types: answered
//     200 and counted in firebreak_collector_support_ignored_total, never
//     stored. Stored messages are not changed by later edits or deletions;
//     the table's retention removes them.
//
// Slack retries a delivery that got no 2xx within 3 seconds (same event_id,
// same client_msg_id): the ids make the retry replace, not duplicate, the
// stored row.
type SlackHandler struct{ c *Collector }

// SlackEnvelope is the outer object of every Events API request.
type SlackEnvelope struct {
	Type      string          `json:"type"` // url_verification, event_callback, app_rate_limited
	Challenge string          `json:"challenge,omitempty"`
	TeamID    string          `json:"team_id,omitempty"`
	EventID   string          `json:"event_id,omitempty"`
	EventTime int64           `json:"event_time,omitempty"`
	Event     json.RawMessage `json:"event,omitempty"`
}

// SlackEvent is the part of an inner event the collector reads.
type SlackEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype,omitempty"`
	User        string `json:"user,omitempty"`
	BotID       string `json:"bot_id,omitempty"`
	Text        string `json:"text,omitempty"`
	TS          string `json:"ts,omitempty"`
	Channel     string `json:"channel,omitempty"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
}

// storedSubtypes are message subtypes written by a person.
var storedSubtypes = map[string]bool{"": true, "thread_broadcast": true, "file_share": true, "me_message": true}

func (h *SlackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	body, herr := c.readBody(w, r, "/api/v1/support/slack")
	if herr == nil {
		herr = c.verifySlack(r.Header, body)
	}
	if herr != nil {
		c.metrics.WriteError(w, SourceSlack, herr)
		return
	}
	env, ev, herr := DecodeSlack(body)
	if herr != nil {
		c.metrics.WriteError(w, SourceSlack, herr)
		return
	}
	ok := func() {
		w.WriteHeader(http.StatusOK)
		c.metrics.Requests.WithLabelValues(SourceSlack, "200").Inc()
	}
	switch env.Type {
	case "url_verification":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(env.Challenge))
		c.metrics.Requests.WithLabelValues(SourceSlack, "200").Inc()
		return
	case "event_callback":
	default:
		c.ignore(SourceSlack, "envelope_type", 1)
		ok()
		return
	}
	if reason := slackIgnoreReason(ev); reason != "" {
		c.ignore(SourceSlack, reason, 1)
		ok()
		return
	}
	m, herr := c.slackRecord(env, ev)
	if herr != nil {
		c.metrics.WriteError(w, SourceSlack, herr)
		return
	}
	kinds := []redact.Kind{c.Enrich(m)}
	if herr := c.publish(r.Context(), SourceSlack, []*records.SupportMessage{m}, kinds); herr != nil {
		c.metrics.WriteError(w, SourceSlack, herr)
		return
	}
	ok()
}

// slackIgnoreReason says why an event is not stored, or "".
func slackIgnoreReason(ev *SlackEvent) string {
	switch {
	case ev.Type != "message":
		return "event_type"
	case ev.Subtype == "bot_message" || ev.BotID != "":
		return "bot"
	case ev.Subtype == "message_changed":
		return "edit"
	case ev.Subtype == "message_deleted":
		return "delete"
	case !storedSubtypes[ev.Subtype]:
		return "subtype"
	case ev.User == "":
		return "no_user"
	case strings.TrimSpace(ev.Text) == "":
		return "empty"
	}
	return ""
}

// verifySlack checks the v0 signature and the replay window.
func (c *Collector) verifySlack(hdr http.Header, body []byte) *ingest.HTTPError {
	unauthorized := func(reason, format string, args ...any) *ingest.HTTPError {
		return ingest.Errorf(http.StatusUnauthorized, reason, format, args...)
	}
	if c.cfg.SlackSigningSecret == "" {
		return unauthorized("slack_not_configured", "this server has no Slack signing secret configured, so it cannot verify Slack requests")
	}
	sig, tsHeader := hdr.Get("X-Slack-Signature"), hdr.Get("X-Slack-Request-Timestamp")
	if sig == "" || tsHeader == "" {
		return unauthorized("missing_signature", "missing X-Slack-Signature or X-Slack-Request-Timestamp: requests must come from Slack's Events API")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return unauthorized("bad_timestamp", "X-Slack-Request-Timestamp %q is not a Unix time in seconds", tsHeader)
	}
	age := c.cfg.Now().Sub(time.Unix(ts, 0))
	if age > c.cfg.SlackReplayWindow || age < -c.cfg.SlackReplayWindow {
		return unauthorized("stale_timestamp", "request timestamp is %s away from the server clock, outside the %s replay window (a replayed request, or a clock out of sync)",
			age.Round(time.Second).Abs(), c.cfg.SlackReplayWindow)
	}
	want := SlackSignature(c.cfg.SlackSigningSecret, tsHeader, body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return unauthorized("bad_signature", "X-Slack-Signature does not match the body signed with the configured signing secret")
	}
	return nil
}

// SlackSignature is Slack's v0 request signature:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func SlackSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:"))
	mac.Write([]byte(timestamp))
	mac.Write([]byte(":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// DecodeSlack parses an Events API body. Unknown fields are ignored: Slack
// sends many more than the collector reads. ev is never nil.
func DecodeSlack(body []byte) (*SlackEnvelope, *SlackEvent, *ingest.HTTPError) {
	var env SlackEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, nil, jsonError(err)
	}
	if env.Type == "" {
		return nil, nil, ingest.Errorf(http.StatusBadRequest, "bad_json", "field \"type\" is required: not a Slack Events API request")
	}
	ev := &SlackEvent{}
	if env.Type == "event_callback" {
		if len(env.Event) == 0 || string(env.Event) == "null" {
			return nil, nil, ingest.Errorf(http.StatusBadRequest, "bad_json", "event_callback without \"event\"")
		}
		if err := json.Unmarshal(env.Event, ev); err != nil {
			herr := jsonError(err)
			herr.Message = "event: " + herr.Message
			return nil, nil, herr
		}
	}
	return &env, ev, nil
}

func (c *Collector) slackRecord(env *SlackEnvelope, ev *SlackEvent) (*records.SupportMessage, *ingest.HTTPError) {
	text := SlackText(ev.Text)
	if len(text) > c.cfg.MaxTextBytes {
		return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "text_too_large", "message text is %d bytes, limit %d", len(text), c.cfg.MaxTextBytes)
	}
	m := &records.SupportMessage{Source: recordSlack, Channel: "chat", Customer: ev.User, Text: text}
	m.ID = ev.ClientMsgID
	if m.ID == "" {
		m.ID = env.EventID
	}
	if m.ID == "" && ev.Channel != "" && ev.TS != "" {
		m.ID = ev.Channel + ":" + ev.TS // Slack's own key of a message
	}
	if herr := checkID("event_id/client_msg_id", m.ID); herr != nil {
		return nil, herr
	}
	now := c.cfg.Now()
	switch t, ok := slackTime(ev.TS); {
	case ok:
		ms, herr := c.checkTime("event ts", t, now)
		if herr != nil {
			return nil, herr
		}
		m.TimeMs = ms
	case env.EventTime > 0:
		ms, herr := c.checkTime("event_time", time.Unix(env.EventTime, 0), now)
		if herr != nil {
			return nil, herr
		}
		m.TimeMs = ms
	default:
		m.TimeMs = now.UnixMilli()
	}
	m.Service = c.cfg.SlackChannelServices[ev.Channel]
	return m, nil
}

// slackTime parses a message ts such as "1355517523.000005".
func slackTime(ts string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}, false
	}
	var us int64
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return time.Time{}, false
		}
		us = f
	}
	return time.Unix(s, us*1000), true
}

// SlackText turns Slack's markup into plain text: <@U123> → @U123,
// <#C123|general> → #general, <https://x|label> → label, <https://x> →
// https://x, <mailto:a@b.c|a@b.c> → a@b.c, <!here> → @here, and the
// escaped &amp; &lt; &gt; back.
func SlackText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(unescapeSlack(s[:i]))
		inner := s[i+1 : i+j]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"):
			if hasLabel {
				b.WriteString(target[:1] + label)
			} else {
				b.WriteString(target)
			}
		case strings.HasPrefix(target, "!"):
			name := strings.TrimPrefix(target, "!")
			if hasLabel {
				name = label
			}
			b.WriteString("@" + strings.TrimPrefix(name, "@"))
		case hasLabel:
			b.WriteString(unescapeSlack(label))
		default:
			b.WriteString(unescapeSlack(strings.TrimPrefix(target, "mailto:")))
		}
		s = s[i+j+1:]
	}
	b.WriteString(unescapeSlack(s))
	return b.String()
}

var slackUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func unescapeSlack(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return slackUnescaper.Replace(s)
}
