package support

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/support/redact"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// TicketHandler serves POST /api/v1/support/ticket, a webhook for ticket
// systems (see TicketEvent and docs/support.md for the payload).
//
// One message per new text: on ticket.created the subject and description
// (one message, id "ticket:<ticket id>") plus any customer comments sent
// with it; on ticket.updated each customer comment in "comments" (id
// "ticket:<ticket id>:comment:<comment id>"). Agent and system comments and
// private notes are not customer messages: they are counted as ignored. Ids
// and times come from the payload, so a re-delivered webhook produces the
// same records and the store keeps one copy.
type TicketHandler struct{ c *Collector }

// TicketEvent is the webhook payload. Unknown fields are ignored, so a ticket
// system's full ticket object can be sent as is.
type TicketEvent struct {
	Event  string `json:"event"` // ticket.created or ticket.updated
	Ticket Ticket `json:"ticket"`
}

// Ticket is the ticket as the system sees it after the event.
type Ticket struct {
	ID          string     `json:"id"`
	Subject     string     `json:"subject,omitempty"`
	Description string     `json:"description,omitempty"`
	Requester   TicketUser `json:"requester"`
	Tags        []string   `json:"tags,omitempty"`
	Priority    string     `json:"priority,omitempty"` // informational: not stored
	Status      string     `json:"status,omitempty"`   // informational: not stored
	Channel     string     `json:"channel,omitempty"`  // how it came in; default "ticket"
	Service     string     `json:"service,omitempty"`
	Region      string     `json:"region,omitempty"`
	Language    string     `json:"language,omitempty"`
	CreatedAt   string     `json:"created_at,omitempty"` // RFC 3339
	UpdatedAt   string     `json:"updated_at,omitempty"` // RFC 3339
	// Comments are the comments this event adds (for ticket.updated, the
	// new ones only: the whole thread would count old comments again in
	// the complaint-rate detectors, although the store would deduplicate).
	Comments []TicketComment `json:"comments,omitempty"`
}

// TicketUser is a requester or comment author.
type TicketUser struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"` // never stored
	Role  string `json:"role,omitempty"` // customer (default), end-user, requester; agent, admin, system, bot are not customers
}

// TicketComment is one comment.
type TicketComment struct {
	ID        string     `json:"id"`
	Author    TicketUser `json:"author"`
	Body      string     `json:"body"`
	Public    *bool      `json:"public,omitempty"` // false: an internal note, not stored
	CreatedAt string     `json:"created_at,omitempty"`
}

const (
	ticketCreated = "ticket.created"
	ticketUpdated = "ticket.updated"
)

var customerRoles = map[string]bool{"": true, "customer": true, "end-user": true, "end_user": true, "enduser": true, "requester": true, "user": true}

func (h *TicketHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := h.c
	body, herr := c.readBody(w, r, "/api/v1/support/ticket")
	if herr == nil && c.cfg.TicketSigningSecret != "" {
		herr = verifyTicket(c.cfg.TicketSigningSecret, r.Header.Get("X-Firebreak-Signature"), body)
	}
	var ev *TicketEvent
	if herr == nil {
		ev, herr = DecodeTicket(body)
	}
	var msgs []*records.SupportMessage
	ignored := 0
	if herr == nil {
		msgs, ignored, herr = c.ticketRecords(ev)
	}
	if herr != nil {
		c.metrics.WriteError(w, SourceTicket, herr)
		return
	}
	c.ignore(SourceTicket, "not_customer", ignored)
	kinds := make([]redact.Kind, len(msgs))
	for i, m := range msgs {
		kinds[i] = c.Enrich(m)
	}
	if herr := c.publish(r.Context(), SourceTicket, msgs, kinds); herr != nil {
		c.metrics.WriteError(w, SourceTicket, herr)
		return
	}
	c.writeJSON(w, SourceTicket, http.StatusAccepted, summarize(msgs, kinds, ignored))
}

// TicketSignature is the optional X-Firebreak-Signature of a ticket webhook:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
func TicketSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func verifyTicket(secret, got string, body []byte) *ingest.HTTPError {
	if got == "" {
		return ingest.Errorf(http.StatusUnauthorized, "missing_signature", "missing X-Firebreak-Signature: this server requires signed ticket webhooks (sha256=<hex HMAC-SHA256 of the body>)")
	}
	if !hmac.Equal([]byte(got), []byte(TicketSignature(secret, body))) {
		return ingest.Errorf(http.StatusUnauthorized, "bad_signature", "X-Firebreak-Signature does not match the body signed with the configured secret")
	}
	return nil
}

// DecodeTicket parses and checks the shape of a ticket webhook.
func DecodeTicket(body []byte) (*TicketEvent, *ingest.HTTPError) {
	var ev TicketEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, jsonError(err)
	}
	switch ev.Event {
	case ticketCreated, ticketUpdated:
	case "":
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_event", "field \"event\" is required: ticket.created or ticket.updated")
	default:
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_event", "event %q is not ticket.created or ticket.updated", ev.Event)
	}
	t := &ev.Ticket
	if strings.TrimSpace(t.ID) == "" {
		return nil, ingest.Errorf(http.StatusBadRequest, "bad_id", "ticket.id is required: message ids are built from it")
	}
	if herr := checkID("ticket.id", t.ID); herr != nil {
		return nil, herr
	}
	for i, cm := range t.Comments {
		if strings.TrimSpace(cm.ID) == "" {
			return nil, ingest.Errorf(http.StatusBadRequest, "bad_id", "ticket.comments[%d].id is required: it makes re-delivery idempotent", i)
		}
		if herr := checkID(fmt.Sprintf("ticket.comments[%d].id", i), cm.ID); herr != nil {
			return nil, herr
		}
	}
	if ev.Event == ticketCreated && strings.TrimSpace(t.Subject) == "" && strings.TrimSpace(t.Description) == "" {
		return nil, ingest.Errorf(http.StatusBadRequest, "missing_text", "ticket.created needs ticket.subject or ticket.description")
	}
	return &ev, nil
}

// ticketRecords turns an event into messages (not yet enriched) and counts
// the comments that are not the customer's.
func (c *Collector) ticketRecords(ev *TicketEvent) ([]*records.SupportMessage, int, *ingest.HTTPError) {
	t := &ev.Ticket
	now := c.cfg.Now()
	channel := t.Channel
	if channel == "" {
		channel = "ticket"
	}
	if !slices.Contains(Channels, channel) {
		return nil, 0, ingest.Errorf(http.StatusBadRequest, "bad_channel", "ticket.channel %q is not one of %s", channel, strings.Join(Channels, ", "))
	}
	for _, chk := range []struct{ field, v string }{{"ticket.service", t.Service}, {"ticket.region", t.Region}} {
		if herr := checkName(chk.field, chk.v); herr != nil {
			return nil, 0, herr
		}
	}
	lang, herr := normalizeLanguage("ticket.language", t.Language)
	if herr != nil {
		return nil, 0, herr
	}
	created, herr := c.parseTime("ticket.created_at", t.CreatedAt, now)
	if herr != nil {
		return nil, 0, herr
	}
	updated := created
	if t.UpdatedAt != "" {
		if updated, herr = c.parseTime("ticket.updated_at", t.UpdatedAt, now); herr != nil {
			return nil, 0, herr
		}
	} else if ev.Event == ticketUpdated {
		updated = now.UnixMilli()
	}
	// Tags that name a category or a service count as such.
	var tagCats []string
	service := t.Service
	for _, tag := range t.Tags {
		tag = strings.ToLower(strings.TrimSpace(tag))
		if c.catNames[tag] {
			tagCats = append(tagCats, tag)
		}
		if service == "" && c.svcNames[tag] {
			service = tag
		}
	}
	requester := userID(t.Requester)
	base := func(id, text, customer string, ms int64) (*records.SupportMessage, *ingest.HTTPError) {
		if len(text) > c.cfg.MaxTextBytes {
			return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "text_too_large", "%s: text is %d bytes, limit %d", id, len(text), c.cfg.MaxTextBytes)
		}
		if herr := checkFreeText("customer", customer); herr != nil {
			return nil, herr
		}
		return &records.SupportMessage{
			ID: id, TimeMs: ms, Source: recordTicket, Channel: channel, Customer: customer,
			Service: service, Region: t.Region, Language: lang, Text: text,
			Categories: append([]string(nil), tagCats...),
		}, nil
	}
	var msgs []*records.SupportMessage
	if ev.Event == ticketCreated {
		text := strings.TrimSpace(strings.TrimSpace(t.Subject) + "\n\n" + strings.TrimSpace(t.Description))
		m, herr := base("ticket:"+t.ID, text, requester, created)
		if herr != nil {
			return nil, 0, herr
		}
		msgs = append(msgs, m)
	}
	ignored := 0
	for i, cm := range t.Comments {
		if !customerRoles[strings.ToLower(cm.Author.Role)] || cm.Public != nil && !*cm.Public {
			ignored++
			continue
		}
		if strings.TrimSpace(cm.Body) == "" {
			ignored++
			continue
		}
		ms := updated
		if cm.CreatedAt != "" {
			if ms, herr = c.parseTime(fmt.Sprintf("ticket.comments[%d].created_at", i), cm.CreatedAt, now); herr != nil {
				return nil, 0, herr
			}
		}
		customer := userID(cm.Author)
		if customer == "" {
			customer = requester
		}
		m, herr := base("ticket:"+t.ID+":comment:"+cm.ID, cm.Body, customer, ms)
		if herr != nil {
			return nil, 0, herr
		}
		msgs = append(msgs, m)
	}
	return msgs, ignored, nil
}

// userID prefers the system's id (not personal) over the e-mail address
// (which Enrich redacts).
func userID(u TicketUser) string {
	if u.ID != "" {
		return u.ID
	}
	return u.Email
}

// ensure the handlers are http.Handlers.
var (
	_ http.Handler = (*GenericHandler)(nil)
	_ http.Handler = (*SlackHandler)(nil)
	_ http.Handler = (*TicketHandler)(nil)
)
