// Package ingest holds what every collector shares: the sink records go to,
// HTTP error replies with reasons, and the collector metrics.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

// Sink takes records and returns once Kafka acknowledged them.
// *bus.Producer implements it.
type Sink interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Partitions reports a topic's current partition count, which collectors
// need to group points by partition.
type Partitions func(topic string) int

// Metrics are the collector counters, labelled by source (remote_write, …).
type Metrics struct {
	Requests *prometheus.CounterVec // source, code
	Accepted *prometheus.CounterVec // source, kind (samples, logs, messages)
	Rejected *prometheus.CounterVec // source, reason
}

// NewMetrics registers the collector metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_requests_total",
			Help: "Requests received by collectors, by source and HTTP status code.",
		}, []string{"source", "code"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_accepted_total",
			Help: "Items acknowledged by Kafka, by source and kind (samples, metadata, logs, messages).",
		}, []string{"source", "kind"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_collector_rejected_total",
			Help: "Items or requests refused, by source and reason; a refused request counts once per request.",
		}, []string{"source", "reason"}),
	}
	reg.MustRegister(m.Requests, m.Accepted, m.Rejected)
	return m
}

// HTTPError is a reply with a status and a reason the sender can act on.
type HTTPError struct {
	Status     int
	Reason     string // metric label, short snake_case
	Message    string // for the body
	RetryAfter string // seconds, for 429/503
}

func (e *HTTPError) Error() string { return e.Message }

// Errorf builds an HTTPError.
func Errorf(status int, reason, format string, args ...any) *HTTPError {
	return &HTTPError{Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is the reply when Kafka did not take the write: 503 with
// Retry-After, so remote_write and other senders retry rather than drop.
func Unavailable(err error) *HTTPError {
	return &HTTPError{Status: http.StatusServiceUnavailable, Reason: "kafka_unavailable", RetryAfter: "5",
		Message: "kafka did not acknowledge the write, retry later: " + err.Error()}
}

// PublishError maps a Sink error to the reply.
func PublishError(err error) *HTTPError {
	if errors.Is(err, context.Canceled) {
		return &HTTPError{Status: 499, Reason: "client_gone", Message: "client closed the request"}
	}
	return Unavailable(err)
}

// WriteError writes e as text/plain and counts it.
func (m *Metrics) WriteError(w http.ResponseWriter, source string, e *HTTPError) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	fmt.Fprintln(w, e.Message)
	m.Requests.WithLabelValues(source, fmt.Sprint(e.Status)).Inc()
	m.Rejected.WithLabelValues(source, e.Reason).Inc()
}

// ensure the producer satisfies Sink.
var _ Sink = (*bus.Producer)(nil)
