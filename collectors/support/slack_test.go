package support

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testSlackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// signed returns Slack's headers for body sent at t.
func signed(secret string, t time.Time, body string) map[string]string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return map[string]string{
		"X-Slack-Request-Timestamp": ts,
		"X-Slack-Signature":         SlackSignature(secret, ts, []byte(body)),
	}
}

func slackMessage(eventID, clientMsgID, subtype, user, botID, text string) string {
	ev := fmt.Sprintf(`{"type":"message","channel":"C0PAY","user":%q,"text":%q,"ts":"1762171200.000200","event_ts":"1762171200.000200","channel_type":"channel"`, user, text)
	if clientMsgID != "" {
		ev += fmt.Sprintf(`,"client_msg_id":%q`, clientMsgID)
	}
	if subtype != "" {
		ev += fmt.Sprintf(`,"subtype":%q`, subtype)
	}
	if botID != "" {
		ev += fmt.Sprintf(`,"bot_id":%q`, botID)
	}
	ev += "}"
	return fmt.Sprintf(`{"token":"legacy","team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":%q,"event_time":1762171200,"authorizations":[{"team_id":"T1"}],"event":%s}`, eventID, ev)
}

func TestSlackEvents(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(t, p, Config{
		SlackSigningSecret:   testSlackSecret,
		SlackChannelServices: map[string]string{"C0PAY": "payment"},
	})
	h := c.Slack()
	send := func(body string, hdr map[string]string) (int, string) {
		rec := post(t, h, "/api/v1/support/slack", []byte(body), hdr)
		return rec.Code, rec.Body.String()
	}

	// url_verification: answered with the challenge, nothing stored.
	challenge := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	if code, body := send(challenge, signed(testSlackSecret, testNow, challenge)); code != 200 || body != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("url_verification: %d %q", code, body)
	}

	// A valid message, and Slack's retry of it (same ids).
	msg := slackMessage("Ev01", "4b1a-uuid", "", "U024BE7LH", "", "<@U0BOT> payment failed again, card declined 😡 my mail is <mailto:bob@example.com|bob@example.com>")
	for i := 0; i < 2; i++ {
		if code, body := send(msg, signed(testSlackSecret, testNow.Add(-time.Duration(i)*time.Minute), msg)); code != 200 {
			t.Fatalf("valid message: %d %s", code, body)
		}
	}
	// Ignored: bot, edit, delete, other event type, other envelope.
	ignored := []struct{ body, reason string }{
		{slackMessage("Ev02", "", "bot_message", "", "B01", "deploy finished"), "bot"},
		{slackMessage("Ev03", "", "", "U1", "B02", "I am an app"), "bot"},
		{slackMessage("Ev04", "", "message_changed", "", "", ""), "edit"},
		{slackMessage("Ev05", "", "message_deleted", "", "", ""), "delete"},
		{slackMessage("Ev06", "", "channel_join", "U2", "", "<@U2> has joined the channel"), "subtype"},
		{`{"type":"event_callback","event_id":"Ev07","event":{"type":"reaction_added","user":"U1","reaction":"thumbsup"}}`, "event_type"},
		{`{"type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820}`, "envelope_type"},
	}
	for _, ig := range ignored {
		before := testutil.ToFloat64(c.own.ignored.WithLabelValues(SourceSlack, ig.reason))
		if code, body := send(ig.body, signed(testSlackSecret, testNow, ig.body)); code != 200 {
			t.Fatalf("ignored event (%s): %d %s", ig.reason, code, body)
		}
		if testutil.ToFloat64(c.own.ignored.WithLabelValues(SourceSlack, ig.reason)) != before+1 {
			t.Fatalf("ignored event not counted under %s", ig.reason)
		}
	}

	// Refused: bad signature, stale or future timestamp, missing headers.
	refusals := []struct {
		name   string
		hdr    map[string]string
		reason string
		text   string
	}{
		{"wrong secret", signed("another-secret", testNow, msg), "bad_signature", "does not match"},
		{"tampered body", signed(testSlackSecret, testNow, msg+" "), "bad_signature", "does not match"},
		{"stale", signed(testSlackSecret, testNow.Add(-6*time.Minute), msg), "stale_timestamp", "replay window"},
		{"future", signed(testSlackSecret, testNow.Add(6*time.Minute), msg), "stale_timestamp", "replay window"},
		{"no headers", nil, "missing_signature", "X-Slack-Signature"},
		{"bad timestamp", map[string]string{"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=00"}, "bad_timestamp", "Unix time"},
	}
	for _, rf := range refusals {
		t.Run(rf.name, func(t *testing.T) {
			code, body := send(msg, rf.hdr)
			if code != http.StatusUnauthorized || !strings.Contains(body, rf.text) {
				t.Fatalf("%d %q, want 401 mentioning %q", code, body, rf.text)
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceSlack, rf.reason)) < 1 {
				t.Fatalf("not counted under %s", rf.reason)
			}
		})
	}
	// A signed body that is not an Events API request.
	if code, _ := send(`{"hello":1}`, signed(testSlackSecret, testNow, `{"hello":1}`)); code != 400 {
		t.Fatalf("signed garbage: %d", code)
	}

	recs := readSupport(t, brokers, 2) // the message and its retry: same id, one row in the store
	for _, r := range recs {
		got := r.msg
		if got.ID != "4b1a-uuid" || got.Source != "slack" || got.Channel != "chat" || got.Customer != "U024BE7LH" ||
			got.Service != "payment" || got.TimeMs != 1762171200000 || got.Label != "negative" ||
			got.Language != "en" || !strings.HasPrefix(got.Text, "@U0BOT payment failed") || strings.Contains(string(r.raw), "bob@example.com") {
			t.Fatalf("slack record: %+v", got)
		}
	}
	if testutil.ToFloat64(m.Accepted.WithLabelValues(SourceSlack, "messages")) != 2 {
		t.Fatal("accepted counter")
	}
}

func TestSlackWithoutSecretRefusesEverything(t *testing.T) {
	c, m := newCollector(t, acceptSink{}, Config{})
	body := `{"type":"url_verification","challenge":"x"}`
	rec := post(t, c.Slack(), "/api/v1/support/slack", []byte(body), signed("", testNow, body))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "no Slack signing secret") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceSlack, "slack_not_configured")) != 1 {
		t.Fatal("not counted")
	}
}

func TestSlackIDsAndTimes(t *testing.T) {
	c, _ := newCollector(t, acceptSink{}, Config{SlackSigningSecret: "s"})
	env, ev, herr := DecodeSlack([]byte(slackMessage("Ev9", "", "", "U1", "", "hello")))
	if herr != nil {
		t.Fatal(herr)
	}
	m, herr := c.slackRecord(env, ev)
	if herr != nil || m.ID != "Ev9" {
		t.Fatalf("without client_msg_id the id is the event_id: %+v %v", m, herr)
	}
	ev.TS, env.EventID = "bad", ""
	ev.Channel = "C1"
	m, herr = c.slackRecord(env, ev)
	if herr != nil || m.TimeMs != 1762171200000 || m.ID != "C1:bad" {
		t.Fatalf("fallbacks: %+v %v", m, herr)
	}
	for ts, want := range map[string]int64{"1355517523.000005": 1355517523000, "1355517523.9": 1355517523900, "1355517523": 1355517523000} {
		if got, ok := slackTime(ts); !ok || got.UnixMilli() != want {
			t.Errorf("slackTime(%q) = %v", ts, got.UnixMilli())
		}
	}
	for _, bad := range []string{"", "x.1", "-5.0", "1.-1", "1.x"} {
		if _, ok := slackTime(bad); ok {
			t.Errorf("slackTime(%q) accepted", bad)
		}
	}
}

func TestSlackText(t *testing.T) {
	cases := map[string]string{
		"plain":               "plain",
		"<@U123> hi":          "@U123 hi",
		"see <#C123|general>": "see #general",
		"<https://shop.example.com/o/1|my order> &amp; more": "my order & more",
		"<https://x.y>":               "https://x.y",
		"<mailto:a@b.com|a@b.com>":    "a@b.com",
		"<!here> &lt;3":               "@here <3",
		"<!subteam^S1|@support> help": "@support help",
		"unclosed <@U1":               "unclosed <@U1",
	}
	for in, want := range cases {
		if got := SlackText(in); got != want {
			t.Errorf("SlackText(%q) = %q, want %q", in, got, want)
		}
	}
}
