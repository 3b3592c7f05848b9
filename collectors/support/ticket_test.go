package support

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The example of docs/support.md.
const ticketCreatedExample = `{
  "event": "ticket.created",
  "ticket": {
    "id": "T-1042",
    "subject": "Charged twice for order 88231",
    "description": "Hi, my card was charged twice for the same order and the app showed an error. Please refund one payment. You can reach me at jane.doe@example.com or +44 20 7946 0958.",
    "requester": {"id": "cust-77", "email": "jane.doe@example.com", "name": "Jane Doe"},
    "tags": ["refund", "vip"],
    "priority": "high",
    "status": "new",
    "channel": "email",
    "region": "eu-west",
    "created_at": "2026-11-03T10:00:00Z",
    "updated_at": "2026-11-03T10:00:00Z"
  }
}`

const ticketUpdatedExample = `{
  "event": "ticket.updated",
  "ticket": {
    "id": "T-1042",
    "subject": "Charged twice for order 88231",
    "requester": {"id": "cust-77", "email": "jane.doe@example.com"},
    "tags": ["refund", "vip", "payment"],
    "priority": "urgent",
    "status": "open",
    "channel": "email",
    "updated_at": "2026-11-03T11:30:00Z",
    "comments": [
      {"id": "c-1", "author": {"id": "agent-5", "role": "agent"}, "body": "Sorry about that, we are checking.", "public": true, "created_at": "2026-11-03T10:20:00Z"},
      {"id": "c-2", "author": {"id": "agent-5", "role": "agent"}, "body": "Internal: duplicate capture in PSP logs", "public": false, "created_at": "2026-11-03T10:25:00Z"},
      {"id": "c-3", "author": {"email": "jane.doe@example.com", "role": "customer"}, "body": "还是没有退款，已经等了两天了，太慢了！", "public": true, "created_at": "2026-11-03T11:30:00Z"}
    ]
  }
}`

func TestTicketCreateAndUpdate(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(t, p, Config{})
	h := c.Ticket()
	var ids []string
	for _, body := range []string{ticketCreatedExample, ticketUpdatedExample, ticketUpdatedExample} { // the update is re-delivered
		rec := post(t, h, "/api/v1/support/ticket", []byte(body), nil)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		s := decodeSummary(t, rec)
		for _, ms := range s.Messages {
			ids = append(ids, ms.ID)
		}
	}
	if want := []string{"ticket:T-1042", "ticket:T-1042:comment:c-3", "ticket:T-1042:comment:c-3"}; !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	recs := readSupport(t, brokers, 3)
	created := byID(t, recs, "ticket:T-1042")
	if created.Source != "ticket" || created.Channel != "email" || created.Customer != "cust-77" || created.Region != "eu-west" ||
		created.TimeMs != time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).UnixMilli() || created.Service != "payment" || created.Label != "negative" ||
		!slices.Equal(created.Categories, []string{"outage", "payment", "refund"}) ||
		!strings.HasPrefix(created.Text, "Charged twice for order 88231\n\nHi, my card") ||
		!strings.Contains(created.Text, "[EMAIL] or [PHONE]") {
		t.Fatalf("created: %+v", created)
	}
	var comments []stored
	for _, r := range recs {
		if r.msg.ID == "ticket:T-1042:comment:c-3" {
			comments = append(comments, r)
		}
	}
	if len(comments) != 2 || string(comments[0].raw) != string(comments[1].raw) {
		t.Fatal("a re-delivered update must produce the identical record")
	}
	cm := comments[0].msg
	if cm.Customer != "[EMAIL]" || cm.Language != "zh" || cm.Label != "negative" || cm.Service != "payment" ||
		cm.TimeMs != time.Date(2026, 11, 3, 11, 30, 0, 0, time.UTC).UnixMilli() || !slices.Contains(cm.Categories, "refund") || !slices.Contains(cm.Categories, "payment") {
		t.Fatalf("comment: %+v", cm)
	}
	for _, r := range recs {
		if strings.Contains(string(r.raw), "jane.doe") || strings.Contains(string(r.raw), "Jane Doe") || strings.Contains(string(r.raw), "PSP logs") {
			t.Fatalf("personal data or an internal note reached Kafka: %s", r.raw)
		}
	}
	if got := testutil.ToFloat64(c.own.ignored.WithLabelValues(SourceTicket, "not_customer")); got != 4 {
		t.Fatalf("agent comments and notes ignored: %v, want 4", got)
	}
	if testutil.ToFloat64(m.Accepted.WithLabelValues(SourceTicket, "messages")) != 3 {
		t.Fatal("accepted counter")
	}
}

func TestTicketSignatureAndBadInput(t *testing.T) {
	c, m := newCollector(t, acceptSink{}, Config{TicketSigningSecret: "whsec"})
	h := c.Ticket()
	ok := post(t, h, "/api/v1/support/ticket", []byte(ticketCreatedExample),
		map[string]string{"X-Firebreak-Signature": TicketSignature("whsec", []byte(ticketCreatedExample))})
	if ok.Code != http.StatusAccepted {
		t.Fatalf("signed: %d %s", ok.Code, ok.Body)
	}
	sig := func(body string) map[string]string {
		return map[string]string{"X-Firebreak-Signature": TicketSignature("whsec", []byte(body))}
	}
	cases := []struct {
		name, body string
		hdr        map[string]string
		status     int
		reason     string
		text       string
	}{
		{"unsigned", ticketCreatedExample, nil, 401, "missing_signature", "X-Firebreak-Signature"},
		{"wrong signature", ticketCreatedExample, map[string]string{"X-Firebreak-Signature": TicketSignature("other", []byte(ticketCreatedExample))}, 401, "bad_signature", "does not match"},
		{"not json", "nope", sig("nope"), 400, "bad_json", "JSON"},
		{"no event", `{"ticket":{"id":"1"}}`, sig(`{"ticket":{"id":"1"}}`), 400, "bad_event", "event"},
		{"unknown event", `{"event":"ticket.merged","ticket":{"id":"1"}}`, sig(`{"event":"ticket.merged","ticket":{"id":"1"}}`), 400, "bad_event", "ticket.merged"},
		{"no ticket id", `{"event":"ticket.created","ticket":{"subject":"x"}}`, sig(`{"event":"ticket.created","ticket":{"subject":"x"}}`), 400, "bad_id", "ticket.id"},
		{"no text", `{"event":"ticket.created","ticket":{"id":"1"}}`, sig(`{"event":"ticket.created","ticket":{"id":"1"}}`), 400, "missing_text", "subject"},
		{"comment without id", `{"event":"ticket.updated","ticket":{"id":"1","comments":[{"body":"x"}]}}`, sig(`{"event":"ticket.updated","ticket":{"id":"1","comments":[{"body":"x"}]}}`), 400, "bad_id", "comments[0].id"},
		{"bad channel", `{"event":"ticket.created","ticket":{"id":"1","subject":"x","channel":"fax"}}`, sig(`{"event":"ticket.created","ticket":{"id":"1","subject":"x","channel":"fax"}}`), 400, "bad_channel", "fax"},
		{"bad time", `{"event":"ticket.created","ticket":{"id":"1","subject":"x","created_at":"now"}}`, sig(`{"event":"ticket.created","ticket":{"id":"1","subject":"x","created_at":"now"}}`), 400, "bad_time", "ticket.created_at"},
		{"tags not a list", `{"event":"ticket.created","ticket":{"id":"1","subject":"x","tags":"a"}}`, sig(`{"event":"ticket.created","ticket":{"id":"1","subject":"x","tags":"a"}}`), 400, "bad_json", "ticket.tags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, "/api/v1/support/ticket", []byte(tc.body), tc.hdr)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.text) {
				t.Fatalf("%d %q, want %d mentioning %q", rec.Code, rec.Body, tc.status, tc.text)
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceTicket, tc.reason)) < 1 {
				t.Fatalf("not counted under %s", tc.reason)
			}
		})
	}
	// An update with no new customer text is acknowledged, with nothing stored.
	body := `{"event":"ticket.updated","ticket":{"id":"1","status":"solved"}}`
	rec := post(t, h, "/api/v1/support/ticket", []byte(body), sig(body))
	if rec.Code != http.StatusAccepted || decodeSummary(t, rec).Accepted != 0 {
		t.Fatalf("status-only update: %d %s", rec.Code, rec.Body)
	}
}
