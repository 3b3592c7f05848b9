package support

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const testPartitions = 4

// testNow is the server clock in tests.
var testNow = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)

// startBroker runs a real embedded broker with the support topic and
// returns a producer on it.
func startBroker(t *testing.T) ([]string, *bus.Producer) {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Name: records.TopicSupport, Partitions: testPartitions}}); err != nil {
		t.Fatal(err)
	}
	p := bus.NewProducer(brokers, "test")
	t.Cleanup(func() { p.Close() })
	return brokers, p
}

func newCollector(t testing.TB, sink ingest.Sink, cfg Config) (*Collector, *ingest.Metrics) {
	t.Helper()
	m := ingest.NewMetrics(prometheus.NewRegistry())
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	pub := &ingest.Publisher{Sink: sink, Partitions: func(string) int { return testPartitions }}
	c, err := New(cfg, pub, m)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func post(t testing.TB, h http.Handler, path string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// stored is one record read back from Kafka, with its raw bytes.
type stored struct {
	msg       *records.SupportMessage
	key, raw  []byte
	partition int
}

// readSupport reads every record of the support topic: each partition up
// to its high watermark, so a slow machine waits instead of missing records.
func readSupport(t *testing.T, brokers []string, want int) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []stored
	for p := 0; p < testPartitions; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], records.TopicSupport, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicSupport, Partition: p, MaxWait: 50 * time.Millisecond})
		for n := int64(0); n < last; n++ {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d, record %d of %d: %v", p, n, last, err)
			}
			m, err := records.DecodeSupport(msg.Value)
			if err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			if !bytes.Equal(msg.Key, m.Key()) {
				t.Fatalf("record of %q keyed %x, want %x", m.Service, msg.Key, m.Key())
			}
			if id, ok := records.KeyID(msg.Key); !ok || records.Partition(id, testPartitions) != p {
				t.Fatalf("service %q in partition %d", m.Service, p)
			}
			out = append(out, stored{msg: m, key: msg.Key, raw: msg.Value, partition: p})
		}
		r.Close()
	}
	if len(out) != want {
		t.Fatalf("topic holds %d support messages, want %d", len(out), want)
	}
	slices.SortFunc(out, func(a, b stored) int { return strings.Compare(a.msg.ID, b.msg.ID) })
	return out
}

func byID(t *testing.T, recs []stored, id string) *records.SupportMessage {
	t.Helper()
	for _, r := range recs {
		if r.msg.ID == id {
			return r.msg
		}
	}
	t.Fatalf("no record with id %q", id)
	return nil
}

func decodeSummary(t *testing.T, rec *httptest.ResponseRecorder) Summary {
	t.Helper()
	var s Summary
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("reply %q: %v", rec.Body, err)
	}
	return s
}

func TestGenericSingleAndArray(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(t, p, Config{})
	h := c.Generic()

	one := `{"id":"m-1","time":"2026-11-03T10:15:00+01:00","channel":"email","customer":"cust-42",
		"text":"My card was declined twice at checkout and I was still charged!","region":"eu-west"}`
	rec := post(t, h, "/api/v1/support", []byte(one), nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	s := decodeSummary(t, rec)
	if s.Accepted != 1 || s.Messages[0].ID != "m-1" || s.Messages[0].Label != "negative" || s.Messages[0].Service != "payment" {
		t.Fatalf("summary %+v", s)
	}

	arr := `[{"channel":"chat","text":"支付成功了，谢谢客服，很满意！","service":"checkout","language":"zh-Hans-CN"},
		{"id":"m-3","time":"2026-11-03T11:00:00Z","channel":"social","text":"Where is my parcel? Tracking has not moved for 3 days"}]`
	rec = post(t, h, "/api/v1/support", []byte(arr), nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	s = decodeSummary(t, rec)
	if s.Accepted != 2 || len(s.Messages) != 2 {
		t.Fatalf("summary %+v", s)
	}
	generatedID := s.Messages[0].ID
	if !strings.HasPrefix(generatedID, "h") {
		t.Fatalf("a message without id gets a content id, got %q", generatedID)
	}

	recs := readSupport(t, brokers, 3)
	m1 := byID(t, recs, "m-1")
	if m1.Source != "generic" || m1.Channel != "email" || m1.Customer != "cust-42" || m1.Region != "eu-west" ||
		m1.TimeMs != time.Date(2026, 11, 3, 9, 15, 0, 0, time.UTC).UnixMilli() || m1.Language != "en" ||
		m1.Label != "negative" || m1.Sentiment >= 0 || m1.Service != "payment" || !slices.Contains(m1.Categories, "payment") {
		t.Fatalf("m-1: %+v", m1)
	}
	m2 := byID(t, recs, generatedID)
	if m2.TimeMs != testNow.UnixMilli() || m2.Service != "checkout" || m2.Language != "zh" || m2.Label != "positive" || m2.Channel != "chat" {
		t.Fatalf("array message without time/id: %+v", m2)
	}
	m3 := byID(t, recs, "m-3")
	if m3.Service != "delivery" || !slices.Contains(m3.Categories, "delivery") || m3.Language != "en" {
		t.Fatalf("m-3: %+v", m3)
	}
	if got := testutil.ToFloat64(m.Accepted.WithLabelValues(SourceGeneric, "messages")); got != 3 {
		t.Fatalf("accepted counter %v", got)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues(SourceGeneric, "202")); got != 2 {
		t.Fatalf("requests counter %v", got)
	}
	if got := testutil.ToFloat64(c.own.messages.WithLabelValues(SourceGeneric, "zh", "positive")); got != 1 {
		t.Fatalf("messages by label %v", got)
	}
}

func TestChineseAndEnglishComplaints(t *testing.T) {
	brokers, p := startBroker(t)
	c, _ := newCollector(t, p, Config{})
	cases := []struct {
		id, text, lang, label, service string
		categories                     []string
	}{
		{"zh-pay", "支付失败了，钱被扣了两次但是订单没有生成，太坑了，赶紧退款！", "zh", "negative", "payment", []string{"payment", "refund"}},
		{"zh-del", "快递一个星期还没到，物流信息也不更新，客服不回复", "zh", "negative", "delivery", []string{"delivery", "support"}},
		{"zh-login", "登录不了，一直提示密码错误，很着急", "zh", "negative", "gateway", []string{"login"}},
		{"en-pay", "Payment failed again and you charged my card twice. Terrible service, I want a refund!", "en", "negative", "payment", []string{"payment", "refund"}},
		{"en-outage", "The website is down and the app keeps crashing, I can't log in", "en", "negative", "gateway", []string{"login", "outage"}},
		{"en-happy", "Thanks, the delivery was fast and the driver was very friendly", "en", "positive", "delivery", []string{"delivery"}},
		{"en-question", "How can I change the email address on my account?", "en", "neutral", "", []string{"account"}},
	}
	var arr []map[string]string
	for _, c := range cases {
		arr = append(arr, map[string]string{"id": c.id, "channel": "chat", "text": c.text})
	}
	body, _ := json.Marshal(arr)
	if rec := post(t, c.Generic(), "/api/v1/support", body, nil); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	recs := readSupport(t, brokers, len(cases))
	for _, want := range cases {
		got := byID(t, recs, want.id)
		if got.Language != want.lang || got.Label != want.label || got.Service != want.service || !slices.Equal(got.Categories, want.categories) {
			t.Errorf("%s: language %s label %s (%.2f) service %q categories %v; want %s %s %q %v",
				want.id, got.Language, got.Label, got.Sentiment, got.Service, got.Categories, want.lang, want.label, want.service, want.categories)
		}
	}
}

func TestPersonalDataRedactedBeforeKafka(t *testing.T) {
	brokers, p := startBroker(t)
	c, _ := newCollector(t, p, Config{})
	const (
		email  = "jane.doe@example.com"
		phone  = "+86 138 1234 5678"
		phone2 = "13912345678"
		card   = "4111 1111 1111 1111"
	)
	msg := map[string]string{
		"id": "pii-1", "channel": "email", "customer": email,
		"text": "Hi, I'm " + email + ", call me on " + phone + " or " + phone2 + ". Card " + card + " was charged twice.",
	}
	body, _ := json.Marshal(msg)
	rec := post(t, c.Generic(), "/api/v1/support", body, nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if s := decodeSummary(t, rec); !slices.Equal(s.Messages[0].Redacted, []string{"email", "phone", "card"}) {
		t.Fatalf("summary does not say what was redacted: %+v", s.Messages[0])
	}
	recs := readSupport(t, brokers, 1)
	raw := string(recs[0].raw) + string(recs[0].key)
	for _, secret := range []string{email, "jane.doe", "example.com", phone, "1234 5678", phone2, card, "4111111111111111", "1111 1111"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("%q reached Kafka: %s", secret, raw)
		}
	}
	got := recs[0].msg
	if got.Customer != "[EMAIL]" || !strings.Contains(got.Text, "[EMAIL]") || strings.Count(got.Text, "[PHONE]") != 2 || !strings.Contains(got.Text, "[CARD]") {
		t.Fatalf("record: %+v", got)
	}
	if testutil.ToFloat64(c.own.redactions.WithLabelValues(SourceGeneric, "phone")) != 1 {
		t.Fatal("redaction not counted")
	}
}

func TestCustomerPseudonym(t *testing.T) {
	c, _ := newCollector(t, acceptSink{}, Config{CustomerKey: "k1"})
	a := &records.SupportMessage{Text: "hi", Customer: "Jane@Example.com"}
	b := &records.SupportMessage{Text: "hi", Customer: "jane@example.com "}
	c.Enrich(a)
	c.Enrich(b)
	if !strings.HasPrefix(a.Customer, "[EMAIL:") || a.Customer != b.Customer || len(a.Customer) != len("[EMAIL:]")+16 {
		t.Fatalf("pseudonyms %q %q", a.Customer, b.Customer)
	}
	other, _ := newCollector(t, acceptSink{}, Config{CustomerKey: "k2"})
	d := &records.SupportMessage{Text: "hi", Customer: "jane@example.com"}
	other.Enrich(d)
	if d.Customer == a.Customer {
		t.Fatal("the pseudonym must depend on the key")
	}
	e := &records.SupportMessage{Text: "hi", ID: "jane@example.com"}
	c.Enrich(e)
	if strings.Contains(e.ID, "jane") || !strings.HasPrefix(e.ID, "r") || len(e.ID) != 17 || strings.ContainsAny(e.ID, "0123456789") {
		t.Fatalf("an id holding an address must be replaced by a stable hash in letters: %q", e.ID)
	}
	again := &records.SupportMessage{Text: "hi", ID: "jane@example.com"}
	c.Enrich(again)
	if again.ID != e.ID {
		t.Fatalf("the replacement id %q is not stable (%q before): a re-delivery would not deduplicate", again.ID, e.ID)
	}
}

// failingSink stands for a broker that is down.
type failingSink struct{}

func (failingSink) Publish(context.Context, ...kafka.Message) error {
	return errors.New("dial tcp 127.0.0.1:1: connection refused")
}

type acceptSink struct{}

func (acceptSink) Publish(context.Context, ...kafka.Message) error { return nil }

func TestGenericBadInputGetsClear4xx(t *testing.T) {
	c, m := newCollector(t, failingSink{}, Config{MaxBodyBytes: 4096, MaxMessages: 3, MaxTextBytes: 100})
	h := c.Generic()
	cases := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		reason string
		text   string
	}{
		{"empty", "", nil, 400, "empty", "empty body"},
		{"not json", "hello", nil, 400, "bad_json", "JSON object or an array"},
		{"broken json", `{"channel":"chat","text":"x"`, nil, 400, "bad_json", "ends too early"},
		{"trailing data", `{"channel":"chat","text":"x"} {}`, nil, 400, "bad_json", "after the JSON value"},
		{"unknown field", `{"channel":"chat","txt":"x"}`, nil, 400, "bad_json", `unknown field "txt"`},
		{"unknown field holding a card number", `{"channel":"chat","4111111111111111":"x"}`, nil, 400, "bad_json", `unknown field "[CARD]"`},
		{"wrong type", `{"channel":"chat","text":42}`, nil, 400, "bad_json", `field "text" must be a string`},
		{"missing text", `{"channel":"chat"}`, nil, 400, "missing_text", "text is required"},
		{"blank text", `{"channel":"chat","text":"  "}`, nil, 400, "missing_text", "text is required"},
		{"missing channel", `{"text":"x"}`, nil, 400, "bad_channel", "channel is required"},
		{"bad channel at index", `[{"channel":"chat","text":"x"},{"channel":"fax","text":"y"}]`, nil, 400, "bad_channel", `message 1: channel "fax"`},
		{"unknown field at index", `[{"channel":"chat","text":"x"},{"chanel":"chat","text":"y"}]`, nil, 400, "bad_json", `message 1: unknown field "chanel"`},
		{"array of non-objects", `[1,2]`, nil, 400, "bad_json", "message 0: not a JSON object"},
		{"empty array", `[]`, nil, 400, "empty", "at least one"},
		{"bad time", `{"channel":"chat","text":"x","time":"yesterday"}`, nil, 400, "bad_time", "RFC 3339"},
		{"future time", `{"channel":"chat","text":"x","time":"2027-01-01T00:00:00Z"}`, nil, 400, "bad_time", "out of range"},
		{"ancient time", `{"channel":"chat","text":"x","time":"1970-01-01T00:00:00Z"}`, nil, 400, "bad_time", "out of range"},
		{"bad service", `{"channel":"chat","text":"x","service":"pay ment"}`, nil, 400, "bad_field", "service"},
		{"bad language", `{"channel":"chat","text":"x","language":"chinese!"}`, nil, 400, "bad_field", "BCP 47"},
		{"control chars in id", "{\"channel\":\"chat\",\"text\":\"x\",\"id\":\"a\\u0000b\"}", nil, 400, "bad_id", "control"},
		{"too many", `[{"channel":"chat","text":"a"},{"channel":"chat","text":"b"},{"channel":"chat","text":"c"},{"channel":"chat","text":"d"}]`, nil, 413, "too_many_messages", "limit 3"},
		{"text too large", `{"channel":"chat","text":"` + strings.Repeat("x", 101) + `"}`, nil, 413, "text_too_large", "limit 100"},
		{"body too large", `{"channel":"chat","text":"` + strings.Repeat("x", 5000) + `"}`, nil, 413, "body_too_large", "larger than 4096"},
		{"content type", `{"channel":"chat","text":"x"}`, map[string]string{"Content-Type": "text/plain"}, 415, "content_type", "application/json"},
		{"content encoding", `{"channel":"chat","text":"x"}`, map[string]string{"Content-Encoding": "gzip"}, 415, "content_encoding", "uncompressed"},
		{"broker down", `{"channel":"chat","text":"x"}`, nil, 503, "kafka_unavailable", "retry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.Rejected.WithLabelValues(SourceGeneric, tc.reason))
			rec := post(t, h, "/api/v1/support", []byte(tc.body), tc.hdr)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.text) {
				t.Fatalf("reply %q does not mention %q", rec.Body, tc.text)
			}
			if tc.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceGeneric, tc.reason)) != before+1 {
				t.Fatalf("rejection not counted under reason %s", tc.reason)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/support", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d", rec.Code)
	}
	if testutil.ToFloat64(m.Accepted.WithLabelValues(SourceGeneric, "messages")) != 0 {
		t.Fatal("nothing may count as accepted when Kafka did not acknowledge")
	}
}

func TestConfigAndKeywordFile(t *testing.T) {
	var cfg Config
	err := cfg.LoadKeywords([]byte(`
services:
  search: [search*, 搜索]
  inventory: []
categories:
  refund: [refund*, 退款, money back, 退钱]
slack_channel_services:
  C0PAY: payment
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Services["inventory"]; ok {
		t.Fatal("an empty list removes the service")
	}
	if cfg.Services["payment"] == nil || cfg.Services["search"] == nil || cfg.SlackChannelServices["C0PAY"] != "payment" {
		t.Fatalf("%v", cfg.Services)
	}
	c, _ := newCollector(t, acceptSink{}, cfg)
	m := &records.SupportMessage{Text: "search results are empty, out of stock everywhere"}
	c.Enrich(m)
	if m.Service != "search" {
		t.Fatalf("service %q", m.Service)
	}
	for _, bad := range []string{"services: [a, b]", "unknown: {}", "services:\n  'bad name': [x]", "categories:\n  x: ['']"} {
		var cfg Config
		if err := cfg.LoadKeywords([]byte(bad)); err == nil {
			if _, err := New(cfg, nil, nil); err == nil {
				t.Errorf("keyword file %q accepted", bad)
			}
		}
	}
	if err := new(Config).LoadKeywords(nil); err != nil {
		t.Fatalf("an empty file keeps the defaults: %v", err)
	}
	if _, err := New(Config{Services: map[string][]string{"x": {""}}}, nil, nil); err == nil {
		t.Fatal("empty keyword accepted")
	}
}
