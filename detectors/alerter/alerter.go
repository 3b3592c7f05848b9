// Package alerter decides what pages. It consumes the detectors' findings
// (topic firebreak.anomalies) as the one active member of its consumer
// group, turns them into alerts, one per problem, with hysteresis,
// timeouts and the suppression of a silent source's dependents (Engine),
// sends them to Alertmanager (package alertmanager) and publishes every
// firing and resolved transition to firebreak.alerts, where the writer
// stores it.
package alerter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Publisher writes records to Kafka and returns once they are acknowledged
// (bus.Producer is one).
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, msgs ...kafka.Message) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, msgs ...kafka.Message) error {
	return f(ctx, msgs...)
}

// Alerter runs the Engine on the anomalies topic.
type Alerter struct {
	cfg     Config
	brokers []string
	engine  *Engine
	am      *alertmanager.Client
	pub     Publisher
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	counted Counts // engine counts already added to the metrics
}

type metrics struct {
	firing      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	suppressed  *prometheus.CounterVec
	stale       prometheus.Counter
	malformed   prometheus.Counter
	records     prometheus.Counter
	publishErrs prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "firebreak_alerter_alerts_firing",
			Help: "Alerts firing now, by kind (anomaly, silence, predictive).",
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alerter_transitions_total",
			Help: "Alert transitions published and sent, by kind and state (firing, resolved); a severity escalation counts as firing.",
		}, []string{"kind", "state"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alerter_suppressed_total",
			Help: "Open events not paged because their source is silent or just resumed, or a service they depend on is failing, by kind.",
		}, []string{"kind"}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_alerter_stale_total",
			Help: "Open events older than the stale horizon (backfills, replayed history), never paged.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_alerter_malformed_total",
			Help: "Anomaly records that could not be decoded and were skipped (the writer dead-letters them).",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_alerter_records_total",
			Help: "Anomaly records read.",
		}),
		publishErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_alerter_publish_errors_total",
			Help: "Failed attempts to publish alert transitions to firebreak.alerts (retried; offsets wait).",
		}),
	}
	reg.MustRegister(m.firing, m.transitions, m.suppressed, m.stale, m.malformed, m.records, m.publishErrs)
	for _, k := range []string{records.KindAnomaly, records.KindSilence, records.KindPredictive} {
		m.firing.WithLabelValues(k)
		for _, s := range []string{records.AlertFiring, records.AlertResolved} {
			m.transitions.WithLabelValues(k, s)
		}
	}
	m.suppressed.WithLabelValues(records.KindAnomaly)
	m.suppressed.WithLabelValues(records.KindPredictive)
	return m
}

// New builds an alerter reading from brokers and publishing transitions
// with pub; metrics (its own and the Alertmanager client's) go to reg.
func New(cfg Config, brokers []string, pub Publisher, reg prometheus.Registerer, log *slog.Logger) (*Alerter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(brokers) == 0 {
		return nil, errors.New("alerter: no Kafka brokers")
	}
	if pub == nil {
		return nil, errors.New("alerter: no publisher for " + records.TopicAlerts)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	am, err := alertmanager.New(cfg.AlertmanagerURLs, cfg.Alertmanager, reg, log.With("component", "alertmanager"))
	if err != nil {
		return nil, err
	}
	return &Alerter{
		cfg:     cfg,
		brokers: brokers,
		engine:  NewEngine(cfg),
		am:      am,
		pub:     pub,
		log:     log,
		metrics: newMetrics(reg),
		now:     time.Now,
		counted: Counts{Suppressed: map[string]uint64{}},
	}, nil
}

// Run consumes until ctx is cancelled (then returns nil) or Kafka fails.
// Offsets are committed once a record's transitions were published.
func (a *Alerter) Run(ctx context.Context) error {
	if len(a.cfg.AlertmanagerURLs) == 0 {
		a.log.Warn("no Alertmanager configured: alerts are published to " + records.TopicAlerts + " but nobody is paged")
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     a.brokers,
		GroupID:     a.cfg.GroupID,
		GroupTopics: []string{records.TopicAnomalies},
		MinBytes:    1,
		MaxBytes:    4 << 20,
		MaxWait:     bus.FetchWait,
		// A new group starts at the oldest record: what is older than
		// StaleAfter is recorded but never pages.
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    time.Second, // flushed on Close
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
	})

	amCtx, stopAM := context.WithCancel(ctx)
	amDone := make(chan struct{})
	go func() {
		defer close(amDone)
		a.am.Run(amCtx)
	}()

	msgs := make(chan kafka.Message)
	fetchErr := make(chan error, 1)
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				fetchErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	tick := time.NewTicker(max(10*time.Millisecond, min(time.Second, a.cfg.ResendInterval/2)))
	defer tick.Stop()
	a.log.Info("alerter started", "group", a.cfg.GroupID, "topic", records.TopicAnomalies, "alertmanagers", a.am.URLs())

	// Run is called on the one active member (cmd/firebreak runs the
	// alerter under a Kafka lease, bus.RunAsLeader): take over what the
	// previous one left firing now, so its alerts keep being re-sent even
	// if no new finding arrives for a while.
	var err error
	if e := a.restore(ctx); e != nil && ctx.Err() == nil {
		err = e
	}
loop:
	for err == nil {
		select {
		case <-ctx.Done():
			break loop
		case e := <-fetchErr:
			if ctx.Err() == nil {
				err = fmt.Errorf("alerter: fetch %s: %w", records.TopicAnomalies, e)
			}
			break loop
		case m := <-msgs:
			if e := a.handle(ctx, m); e != nil {
				if ctx.Err() == nil {
					err = e
				}
				break loop
			}
			if e := r.CommitMessages(ctx, m); e != nil && ctx.Err() == nil {
				err = fmt.Errorf("alerter: commit: %w", e)
				break loop
			}
		case <-tick.C:
			now := a.now()
			if e := a.emit(ctx, a.engine.Tick(now), now); e != nil {
				if ctx.Err() == nil {
					err = e
				}
				break loop
			}
		}
	}
	stopAM()
	cerr := r.Close() // flushes committed offsets
	<-fetchDone
	<-amDone
	if err == nil && cerr != nil && ctx.Err() == nil {
		err = fmt.Errorf("alerter: close reader: %w", cerr)
	}
	a.log.Info("alerter stopped", "err", err)
	return err
}

// restore replays firebreak.alerts into the engine (see Engine.Restore).
func (a *Alerter) restore(ctx context.Context) error {
	now := a.now()
	n := 0
	err := bus.ReadToEnd(ctx, a.brokers, records.TopicAlerts, 0, func(m kafka.Message) error {
		if ev, err := records.DecodeAlertEvent(m.Value); err == nil {
			a.engine.Restore(*ev, now)
			n++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alerter: take over %s: %w", records.TopicAlerts, err)
	}
	a.updateMetrics()
	a.log.Info("alerter took over the recorded alert state", "transitions", n,
		"firing", a.engine.Firing(records.KindAnomaly)+a.engine.Firing(records.KindSilence)+a.engine.Firing(records.KindPredictive))
	return nil
}

// handle runs one record through the engine.
func (a *Alerter) handle(ctx context.Context, m kafka.Message) error {
	a.metrics.records.Inc()
	an, err := records.DecodeAnomaly(m.Value)
	if err != nil {
		a.metrics.malformed.Inc()
		a.log.Warn("skipping malformed anomaly record", "partition", m.Partition, "offset", m.Offset, "err", err)
		return nil
	}
	now := a.now()
	return a.emit(ctx, a.engine.Observe(an, now), now)
}

// emit hands Alertmanager what is due, publishes the transitions and
// brings the metrics up to date.
func (a *Alerter) emit(ctx context.Context, events []records.AlertEvent, now time.Time) error {
	a.am.Send(a.engine.Notifications(now)...)
	a.updateMetrics()
	if len(events) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(events))
	for i := range events {
		ev := &events[i]
		val, err := records.EncodeAlertEvent(ev)
		if err != nil {
			return fmt.Errorf("alerter: encode alert event: %w", err)
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicAlerts, Key: []byte(ev.Fingerprint), Value: val})
		a.metrics.transitions.WithLabelValues(ev.Kind, ev.State).Inc()
		a.log.Info("alert "+ev.State, "fingerprint", ev.Fingerprint, "alertname", ev.Name, "kind", ev.Kind,
			"severity", ev.Severity, "service", ev.Service, "summary", ev.Annotations["summary"])
	}
	return a.publish(ctx, msgs)
}

// publish retries until Kafka takes the transitions or ctx ends: they must
// reach firebreak.alerts before the record that caused them is committed.
func (a *Alerter) publish(ctx context.Context, msgs []kafka.Message) error {
	wait := 100 * time.Millisecond
	for {
		err := a.pub.Publish(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.metrics.publishErrs.Inc()
		a.log.Warn("publish alert transitions failed; retrying", "topic", records.TopicAlerts, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (a *Alerter) updateMetrics() {
	c := a.engine.Counts()
	if d := c.Stale - a.counted.Stale; d > 0 {
		a.metrics.stale.Add(float64(d))
	}
	for k, v := range c.Suppressed {
		if d := v - a.counted.Suppressed[k]; d > 0 {
			a.metrics.suppressed.WithLabelValues(k).Add(float64(d))
		}
	}
	a.counted = c
	for _, k := range []string{records.KindAnomaly, records.KindSilence, records.KindPredictive} {
		a.metrics.firing.WithLabelValues(k).Set(float64(a.engine.Firing(k)))
	}
}
