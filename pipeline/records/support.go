package records

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// TopicSupport carries SupportMessage records, keyed by service so each
// service's messages (and its complaint-surge state) live in one partition.
const TopicSupport = "firebreak.support"

// supportVersion is the "v" of every SupportMessage record. Support traffic
// is thousands, not millions, a second: JSON keeps the records readable
// with kcat at no real cost.
const supportVersion = 1

// SupportMessage is one customer message after the edge: language
// detected, sentiment scored, personal data already redacted.
type SupportMessage struct {
	Version    int      `json:"v"`
	ID         string   `json:"id"`
	TimeMs     int64    `json:"time_ms"`
	Source     string   `json:"source"`  // generic, slack, ticket
	Channel    string   `json:"channel"` // chat, email, ticket, phone, social
	Customer   string   `json:"customer,omitempty"`
	Service    string   `json:"service,omitempty"`
	Region     string   `json:"region,omitempty"`
	Language   string   `json:"language,omitempty"`
	Sentiment  float64  `json:"sentiment"` // -1 (angry) … 1 (happy)
	Label      string   `json:"label"`     // negative, neutral, positive
	Categories []string `json:"categories,omitempty"`
	Text       string   `json:"text"` // redacted
}

// Key is the record key: the service (or "unattributed"), hashed as the
// partition function expects.
func (m *SupportMessage) Key() []byte {
	svc := m.Service
	if svc == "" {
		svc = "unattributed"
	}
	return appendKey(nil, xxhash.Sum64String(svc))
}

// EnsureID gives a message without a source id a content id, so a
// re-delivered message is stored once.
func (m *SupportMessage) EnsureID() {
	if m.ID != "" {
		return
	}
	h := xxhash.New()
	fmt.Fprintf(h, "%s\xff%d\xff%s\xff%s\xff%s", m.Source, m.TimeMs, m.Channel, m.Customer, m.Text)
	m.ID = fmt.Sprintf("h%016x", h.Sum64())
}

// EncodeSupport renders a record value.
func EncodeSupport(m *SupportMessage) ([]byte, error) {
	m.Version = supportVersion
	return json.Marshal(m)
}

// DecodeSupport parses and validates a record value.
func DecodeSupport(rec []byte) (*SupportMessage, error) {
	var m SupportMessage
	if err := decodeStrictJSON(rec, &m, "support message"); err != nil {
		return nil, err
	}
	if m.Version != supportVersion {
		return nil, fmt.Errorf("%w: support message version %d not supported (this build reads %d)", ErrMalformed, m.Version, supportVersion)
	}
	if strings.TrimSpace(m.ID) == "" || m.TimeMs == 0 {
		return nil, fmt.Errorf("%w: support message without id or time", ErrMalformed)
	}
	return &m, nil
}

func appendKey(dst []byte, id uint64) []byte {
	return append(dst, byte(id>>56), byte(id>>48), byte(id>>40), byte(id>>32), byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}
