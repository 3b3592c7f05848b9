package support

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Every payload decoder is fuzzed through its full handler (decode,
// validate, enrich, publish to a sink that accepts): no panics, no 5xx for
// any client input, and nothing a client sends reaches the sink unredacted
// (a Luhn-valid card number in a text is the marker checked).

func fuzzCollector() *Collector {
	c, _ := newCollector(&testing.T{}, acceptSink{}, Config{SlackSigningSecret: testSlackSecret, MaxBodyBytes: 64 << 10})
	return c
}

var leakedCard = regexp.MustCompile(`(^|[^0-9])4111111111111111([^0-9]|$)`)

func checkReply(t *testing.T, code int, body string) {
	t.Helper()
	if code/100 == 5 {
		t.Fatalf("5xx for client input: %d %s", code, body)
	}
	// The seeds' card number, standing alone: inside a longer run of
	// digits it is not a card number (no longer Luhn-valid), and the
	// redactor rightly keeps order and tracking numbers.
	if leakedCard.MatchString(body) {
		t.Fatalf("a card number came back in the reply: %s", body)
	}
}

func FuzzGeneric(f *testing.F) {
	f.Add(`{"channel":"chat","text":"card 4111111111111111 declined"}`)
	f.Add(`[{"id":"1","time":"2026-11-03T10:00:00Z","channel":"email","customer":"a@b.co","text":"支付失败","service":"payment","region":"eu","language":"zh-CN"}]`)
	f.Add(`[{},null,1]`)
	f.Add(`{"text":null}`)
	c := fuzzCollector()
	h := c.Generic()
	f.Fuzz(func(t *testing.T, body string) {
		rec := post(t, h, "/api/v1/support", []byte(body), nil)
		checkReply(t, rec.Code, rec.Body.String())
		if rec.Code == http.StatusAccepted {
			s := decodeSummary(t, rec)
			for _, m := range s.Messages {
				if m.Sentiment < -1 || m.Sentiment > 1 {
					t.Fatalf("sentiment %v", m.Sentiment)
				}
			}
		}
	})
}

func FuzzSlack(f *testing.F) {
	f.Add(slackMessage("Ev1", "c1", "", "U1", "", "card 4111111111111111 <mailto:a@b.co|a@b.co> 退款"))
	f.Add(`{"type":"url_verification","challenge":"abc"}`)
	f.Add(`{"type":"event_callback","event":null}`)
	f.Add(`{"type":"event_callback","event":{"type":"message","user":"U1","text":"<<<>>>&amp;","ts":"99999999999999.9"}}`)
	c := fuzzCollector()
	h := c.Slack()
	f.Fuzz(func(t *testing.T, body string) {
		// Signed, so that the fuzzer reaches the decoder.
		rec := post(t, h, "/api/v1/support/slack", []byte(body), signed(testSlackSecret, testNow, body))
		checkReply(t, rec.Code, rec.Body.String())
		SlackText(body)
		slackTime(body)
	})
}

func FuzzTicket(f *testing.F) {
	f.Add(ticketCreatedExample)
	f.Add(ticketUpdatedExample)
	f.Add(`{"event":"ticket.updated","ticket":{"id":"x","comments":[{"id":"1","body":"4111111111111111","public":true}]}}`)
	c := fuzzCollector()
	h := c.Ticket()
	f.Fuzz(func(t *testing.T, body string) {
		rec := post(t, h, "/api/v1/support/ticket", []byte(body), nil)
		checkReply(t, rec.Code, rec.Body.String())
	})
}

// FuzzEnrich: whatever the fields, the enriched record holds no run of
// 13–19 digits that passes Luhn in any field that reaches Kafka, and a valid
// sentiment.
func FuzzEnrich(f *testing.F) {
	f.Add("card 4111 1111 1111 1111 支付失败", "4111111111111111", "eu 4111111111111111", "4111111111111111")
	c := fuzzCollector()
	f.Fuzz(func(t *testing.T, text, customer, region, id string) {
		m := &records.SupportMessage{Text: text, Customer: customer, Region: region, ID: id}
		c.Enrich(m)
		for _, field := range []string{m.Text, m.Customer, m.Region, m.ID} {
			if run := luhnRun(field); run != "" {
				t.Fatalf("card-like run %s survives in %q", run, field)
			}
		}
		if m.Sentiment < -1 || m.Sentiment > 1 || m.Label == "" || m.Language == "" {
			t.Fatalf("%+v", m)
		}
	})
}

// luhnRun returns a run of 13–19 digits (ASCII or full-width) in s that
// passes the Luhn check, or "".
func luhnRun(s string) string {
	var run []int
	check := func() string {
		if len(run) < 13 || len(run) > 19 {
			return ""
		}
		sum := 0
		for k := range run {
			v := run[len(run)-1-k]
			if k%2 == 1 {
				if v *= 2; v > 9 {
					v -= 9
				}
			}
			sum += v
		}
		if sum%10 == 0 {
			return fmt.Sprint(run)
		}
		return ""
	}
	for _, r := range s {
		switch {
		case '0' <= r && r <= '9':
			run = append(run, int(r-'0'))
		case '０' <= r && r <= '９':
			run = append(run, int(r-'０'))
		default:
			if found := check(); found != "" {
				return found
			}
			run = run[:0]
		}
	}
	return check()
}
