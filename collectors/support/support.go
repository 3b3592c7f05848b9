// Package support receives customer messages from three kinds of sender
// (generic JSON, the Slack Events API, ticket-system webhooks), enriches
// each one at the edge and publishes it to the support topic:
//
//  1. personal data is redacted (package redact) from the text, the
//     customer, the region and the id, before anything else sees them;
//  2. the language is taken from the sender or detected (package language);
//  3. sentiment is scored by a sentiment.Scorer (the trained zh/en model
//     embedded in the binary by default; Config.Scorer replaces it, e.g.
//     with the lexicon baseline or a model retrained on your own messages);
//  4. complaint categories and, when the sender named none, the service are
//     found by keyword lists (package keywords), configurable per deployment.
//
// Nothing is answered 2xx before Kafka acknowledged every message of the
// request. See docs/support.md for the payloads and replies.
package support

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/support/keywords"
	"github.com/firebreak-aiops/firebreak/collectors/support/language"
	"github.com/firebreak-aiops/firebreak/collectors/support/redact"
	"github.com/firebreak-aiops/firebreak/collectors/support/sentiment"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Sources: the metrics label of each endpoint, and the name to protect it
// with in ingest.Guard.Wrap.
const (
	SourceGeneric = "support"
	SourceSlack   = "support_slack"
	SourceTicket  = "support_ticket"
)

// Record sources (records.SupportMessage.Source).
const (
	recordGeneric = "generic"
	recordSlack   = "slack"
	recordTicket  = "ticket"
)

// Collector holds what the three endpoints share.
type Collector struct {
	cfg        Config
	pub        *ingest.Publisher
	metrics    *ingest.Metrics
	own        *ownMetrics
	services   *keywords.Matcher
	categories *keywords.Matcher
	catNames   map[string]bool
	svcNames   map[string]bool
}

// New builds the collector. It fails only on a configuration error (a bad
// keyword or name).
func New(cfg Config, pub *ingest.Publisher, m *ingest.Metrics) (*Collector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	svc, err := keywords.New(cfg.Services)
	if err != nil {
		return nil, fmt.Errorf("support service keywords: %w", err)
	}
	cat, err := keywords.New(cfg.Categories)
	if err != nil {
		return nil, fmt.Errorf("support category keywords: %w", err)
	}
	c := &Collector{cfg: cfg, pub: pub, metrics: m, own: newOwnMetrics(cfg.Registerer),
		services: svc, categories: cat, catNames: map[string]bool{}, svcNames: map[string]bool{}}
	for name := range cfg.Categories {
		c.catNames[name] = true
	}
	for name := range cfg.Services {
		c.svcNames[name] = true
	}
	if cfg.SlackSigningSecret == "" {
		cfg.Logger.Warn("support: no Slack signing secret configured; the Slack endpoint refuses every request")
	}
	return c, nil
}

// Generic returns the handler of POST /api/v1/support.
func (c *Collector) Generic() *GenericHandler { return &GenericHandler{c: c} }

// Slack returns the handler of POST /api/v1/support/slack.
func (c *Collector) Slack() *SlackHandler { return &SlackHandler{c: c} }

// Ticket returns the handler of POST /api/v1/support/ticket.
func (c *Collector) Ticket() *TicketHandler { return &TicketHandler{c: c} }

// ownMetrics are the collector's counters beyond the shared ingest ones.
type ownMetrics struct {
	messages   *prometheus.CounterVec // source, language, label
	ignored    *prometheus.CounterVec // source, reason
	redactions *prometheus.CounterVec // source, kind
}

func newOwnMetrics(reg prometheus.Registerer) *ownMetrics {
	m := &ownMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_support_messages_total",
			Help: "Support messages acknowledged by Kafka, by source, language and sentiment label.",
		}, []string{"source", "language", "label"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_support_ignored_total",
			Help: "Events acknowledged but not stored (bot messages, edits, deletions, other event types, agent comments), by source and reason.",
		}, []string{"source", "reason"}),
		redactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_support_redactions_total",
			Help: "Messages in which personal data was redacted, by source and kind (email, phone, card, iban).",
		}, []string{"source", "kind"}),
	}
	if reg != nil {
		m.messages = register(reg, m.messages)
		m.ignored = register(reg, m.ignored)
		m.redactions = register(reg, m.redactions)
	}
	return m
}

// register registers c, or returns the one already registered (several
// collectors on one registry share the counters).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// Enrich prepares a message for Kafka in place: it redacts Text, Customer,
// Region and ID, sets Language (when empty), Sentiment, Label, Categories
// (adding to any already set) and Service (when empty). It returns what was
// redacted. Handlers call it on every message; it is exported for the demo
// and benchmarks.
func (c *Collector) Enrich(m *records.SupportMessage) redact.Kind {
	var kinds, k redact.Kind
	m.Text, k = redact.String(m.Text)
	kinds |= k
	m.Customer = strings.TrimSpace(m.Customer)
	if m.Customer != "" {
		m.Customer, k = c.redactCustomer(m.Customer)
		kinds |= k
	}
	if m.Region != "" {
		m.Region, k = redact.String(m.Region)
		kinds |= k
	}
	if m.ID != "" {
		if _, k = redact.String(m.ID); k != 0 {
			m.ID = pseudonymID(m.ID)
			kinds |= k
		}
	}
	if m.Language == "" {
		m.Language = language.Detect(m.Text)
	}
	r := c.cfg.Scorer.Score(m.Text, m.Language)
	m.Sentiment = sentiment.Clamp(r.Score)
	switch r.Label {
	case sentiment.Negative, sentiment.Neutral, sentiment.Positive:
		m.Label = r.Label
	default:
		m.Label = sentiment.LabelFor(m.Sentiment, sentiment.DefaultNeutralBand)
	}
	var hits [16]keywords.Hit
	for _, h := range c.categories.Match(m.Text, hits[:0]) {
		m.Categories = append(m.Categories, h.Group)
	}
	m.Categories = dedupSorted(m.Categories)
	if m.Service == "" {
		m.Service = keywords.Best(c.services.Match(m.Text, hits[:0]))
	}
	return kinds
}

func (c *Collector) redactCustomer(s string) (string, redact.Kind) {
	out, k := redact.String(s)
	if k == 0 || c.cfg.CustomerKey == "" {
		return out, k
	}
	// A customer that is exactly one address or number gets a pseudonym.
	switch out {
	case redact.TagEmail, redact.TagPhone, redact.TagCard, redact.TagIBAN:
		mac := hmac.New(sha256.New, []byte(c.cfg.CustomerKey))
		mac.Write([]byte(strings.ToLower(s)))
		return strings.TrimSuffix(out, "]") + ":" + hex.EncodeToString(mac.Sum(nil)[:8]) + "]", k
	}
	return out, k
}

func dedupSorted(s []string) []string {
	if len(s) < 2 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// ---- request plumbing shared by the handlers ----

// readBody checks method, media type and encoding and reads the body
// within the limit.
func (c *Collector) readBody(w http.ResponseWriter, r *http.Request, what string) ([]byte, *ingest.HTTPError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, ingest.Errorf(http.StatusMethodNotAllowed, "method", "%s takes POST, not %s", what, r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, ingest.Errorf(http.StatusUnsupportedMediaType, "content_type",
				"Content-Type %q not supported: %s takes application/json", ct, what)
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, ingest.Errorf(http.StatusUnsupportedMediaType, "content_encoding",
			"Content-Encoding %q not supported: send the JSON uncompressed", ce)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, ingest.Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"body larger than %d bytes: send fewer or shorter messages per request", c.cfg.MaxBodyBytes)
		}
		return nil, ingest.Errorf(http.StatusBadRequest, "read_error", "reading body: %v", err)
	}
	return b, nil
}

// publish sends msgs and counts them; nothing is counted as accepted unless
// Kafka acknowledged.
func (c *Collector) publish(ctx context.Context, source string, msgs []*records.SupportMessage, kinds []redact.Kind) *ingest.HTTPError {
	if len(msgs) == 0 {
		return nil
	}
	if err := c.pub.PublishSupport(ctx, msgs); err != nil {
		return ingest.PublishError(err)
	}
	c.metrics.Accepted.WithLabelValues(source, "messages").Add(float64(len(msgs)))
	for i, m := range msgs {
		c.own.messages.WithLabelValues(source, m.Language, m.Label).Inc()
		for _, k := range kinds[i].Names() {
			c.own.redactions.WithLabelValues(source, k).Inc()
		}
	}
	return nil
}

// Summary is the JSON reply of the generic and ticket endpoints.
type Summary struct {
	Accepted int              `json:"accepted"`
	Ignored  int              `json:"ignored,omitempty"`
	Messages []MessageSummary `json:"messages"`
}

// MessageSummary is what the collector made of one message.
type MessageSummary struct {
	ID         string   `json:"id"`
	Time       string   `json:"time"`
	Service    string   `json:"service,omitempty"`
	Language   string   `json:"language"`
	Sentiment  float64  `json:"sentiment"`
	Label      string   `json:"label"`
	Categories []string `json:"categories"`
	Redacted   []string `json:"redacted,omitempty"`
}

func summarize(msgs []*records.SupportMessage, kinds []redact.Kind, ignored int) Summary {
	s := Summary{Accepted: len(msgs), Ignored: ignored, Messages: make([]MessageSummary, len(msgs))}
	for i, m := range msgs {
		cats := m.Categories
		if cats == nil {
			cats = []string{}
		}
		s.Messages[i] = MessageSummary{
			ID: m.ID, Time: time.UnixMilli(m.TimeMs).UTC().Format(time.RFC3339Nano), Service: m.Service,
			Language: m.Language, Sentiment: round3(m.Sentiment), Label: m.Label, Categories: cats,
			Redacted: kinds[i].Names(),
		}
	}
	return s
}

func round3(x float64) float64 {
	if x < 0 {
		return -float64(int64(-x*1000+0.5)) / 1000
	}
	return float64(int64(x*1000+0.5)) / 1000
}

// writeJSON answers status with v and counts the request.
func (c *Collector) writeJSON(w http.ResponseWriter, source string, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	c.metrics.Requests.WithLabelValues(source, fmt.Sprint(status)).Inc()
}

func (c *Collector) ignore(source, reason string, n int) {
	if n > 0 {
		c.own.ignored.WithLabelValues(source, reason).Add(float64(n))
	}
}

// pseudonymID replaces a message id that holds personal data: "r" and a
// hash of it, stable so a re-delivery still deduplicates, written with
// the letters a–p for the hex digits 0–f. Hex digits could line up into
// a run of 13 or more decimal digits that passes Luhn (fuzzing found
// one): a card number to every scanner downstream.
func pseudonymID(id string) string {
	h := xxhash.Sum64String(id)
	b := make([]byte, 17)
	b[0] = 'r'
	for i := len(b) - 1; i > 0; i-- {
		b[i] = 'a' + byte(h&0xf)
		h >>= 4
	}
	return string(b)
}
