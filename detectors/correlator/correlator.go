// Package correlator is the incident stage: it reads every detector
// finding (firebreak.anomalies), every alert transition (firebreak.alerts)
// and what people and other systems report (firebreak.events: changes,
// external alerts, incident actions), groups them into incidents with
// incidents.Engine and publishes incident snapshots and timeline events
// for the writer.
//
// It keeps no checkpoint: incident ids are content hashes of their first
// signal, so on start it replays the last Lookback of its inputs, rebuilds
// the same incidents, and what it re-publishes collapses in ClickHouse
// (ReplacingMergeTree keys). Then it follows the topics live.
package correlator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/incidents"
	"github.com/firebreak-aiops/firebreak/detectors/topology"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Config tunes the stage.
type Config struct {
	Brokers   []string
	Incidents incidents.Config
	// Lookback is how much input a start replays. Default 2h.
	Lookback time.Duration
	// TickEvery drives lifecycle transitions. Default 5s.
	TickEvery time.Duration
}

// Publisher sends records and returns once Kafka acknowledged them.
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Correlator is the incident stage.
type Correlator struct {
	cfg    Config
	pub    Publisher
	log    *slog.Logger
	engine *incidents.Engine

	clockMs   int64 // newest input event time
	clockWall time.Time

	mu       sync.Mutex
	leadLag  *topology.LeadLag // learned from incidents' service onsets
	onsetsOf map[string]bool   // incident id + service already fed to leadLag

	open      prometheus.Gauge
	published *prometheus.CounterVec
	inputs    *prometheus.CounterVec
}

// New builds the stage.
func New(cfg Config, pub Publisher, reg prometheus.Registerer, log *slog.Logger) *Correlator {
	if cfg.Lookback <= 0 {
		cfg.Lookback = 2 * time.Hour
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 5 * time.Second
	}
	c := &Correlator{cfg: cfg, pub: pub, log: log, engine: incidents.NewEngine(cfg.Incidents),
		leadLag: topology.NewLeadLag(cfg.Incidents.JoinWindowOrDefault().Milliseconds()), onsetsOf: map[string]bool{},
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "firebreak_incidents_active",
			Help: "Incidents open or mitigated."}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_incident_records_total",
			Help: "Incident snapshots and timeline events published, by topic."}, []string{"topic"}),
		inputs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_correlator_inputs_total",
			Help: "Records the correlator read, by topic and outcome (used, skipped, malformed)."}, []string{"topic", "outcome"}),
	}
	reg.MustRegister(c.open, c.published, c.inputs)
	return c
}

var inputTopics = []string{records.TopicAnomalies, records.TopicAlerts, records.TopicEvents}

type input struct {
	topic string
	msg   kafka.Message
	ms    int64
}

// Run replays the last Lookback, then follows the inputs until ctx ends.
func (c *Correlator) Run(ctx context.Context) error {
	start := time.Now()
	backlog, ends, err := c.replayWindow(ctx, start.Add(-c.cfg.Lookback))
	if err != nil {
		return err
	}
	sort.SliceStable(backlog, func(i, j int) bool { return backlog[i].ms < backlog[j].ms })
	for _, in := range backlog {
		if err := c.handle(ctx, in); err != nil {
			return err
		}
	}
	c.log.Info("correlator caught up", "replayed", len(backlog), "active_incidents", len(c.engine.Active()),
		"took", time.Since(start).Round(time.Millisecond))

	live := make(chan input)
	errc := make(chan error, len(inputTopics))
	for _, topic := range inputTopics {
		go c.follow(ctx, topic, ends[topic], live, errc)
	}
	tick := time.NewTicker(c.cfg.TickEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case in := <-live:
			if err := c.handle(ctx, in); err != nil {
				return err
			}
		case <-tick.C:
			incs, evs := c.engine.Tick(c.now())
			if err := c.publish(ctx, incs, evs); err != nil {
				return err
			}
		}
	}
}

// now is the event-time clock: the newest input, run on by the wall clock
// when inputs are live.
func (c *Correlator) now() int64 {
	if c.clockMs == 0 {
		return time.Now().UnixMilli()
	}
	if c.clockWall.UnixMilli()-c.clockMs < 5*time.Minute.Milliseconds() {
		return c.clockMs + time.Since(c.clockWall).Milliseconds()
	}
	return c.clockMs
}

// replayWindow reads each input from its first record at or after since
// up to its current end; ends are the offsets live reading starts from.
func (c *Correlator) replayWindow(ctx context.Context, since time.Time) ([]input, map[string]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range inputTopics {
		req.Topics[t] = []kafka.OffsetRequest{kafka.TimeOffsetOf(0, since), kafka.LastOffsetOf(0)}
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("correlator: list offsets: %w", err)
	}
	var backlog []input
	ends := map[string]int64{}
	for _, t := range inputTopics {
		var from, end int64 = -1, 0
		for _, po := range resp.Topics[t] {
			if po.Error != nil {
				return nil, nil, fmt.Errorf("correlator: offsets of %s: %w", t, po.Error)
			}
			end = po.LastOffset
			for off := range po.Offsets {
				from = off // the first offset at or after since
			}
		}
		ends[t] = end
		if from < 0 || from >= end {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.cfg.Brokers, Topic: t, Partition: 0, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: bus.FetchWait})
		if err := r.SetOffset(from); err != nil {
			r.Close()
			return nil, nil, err
		}
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				return nil, nil, fmt.Errorf("correlator: replay %s: %w", t, err)
			}
			backlog = append(backlog, input{topic: t, msg: m, ms: eventTime(t, m)})
			if m.Offset >= end-1 {
				break
			}
		}
		r.Close()
	}
	return backlog, ends, nil
}

func (c *Correlator) follow(ctx context.Context, topic string, from int64, out chan<- input, errc chan<- error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.cfg.Brokers, Topic: topic, Partition: 0, MinBytes: 1,
		MaxBytes: 8 << 20, MaxWait: bus.FetchWait, ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: time.Second})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		errc <- err
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				errc <- fmt.Errorf("correlator: follow %s: %w", topic, err)
			}
			return
		}
		select {
		case out <- input{topic: topic, msg: m, ms: eventTime(topic, m)}:
		case <-ctx.Done():
			return
		}
	}
}

// eventTime orders the replay; undecodable records sort by Kafka time.
func eventTime(topic string, m kafka.Message) int64 {
	switch topic {
	case records.TopicAnomalies:
		if a, err := records.DecodeAnomaly(m.Value); err == nil {
			return a.TimeMs
		}
	case records.TopicAlerts:
		if e, err := records.DecodeAlertEvent(m.Value); err == nil {
			return e.TimeMs
		}
	case records.TopicEvents:
		if e, err := records.DecodeEvent(m.Value); err == nil {
			return e.TimeMs
		}
	}
	return m.Time.UnixMilli()
}

// handle turns one input into signals, actions and published changes.
func (c *Correlator) handle(ctx context.Context, in input) error {
	var incs []incidents.Incident
	var evs []incidents.Event
	outcome := "used"
	switch in.topic {
	case records.TopicAnomalies:
		a, err := records.DecodeAnomaly(in.msg.Value)
		if err != nil {
			outcome = "malformed"
			break
		}
		incs, evs = c.engine.Observe(signalOfAnomaly(a))
	case records.TopicAlerts:
		e, err := records.DecodeAlertEvent(in.msg.Value)
		if err != nil {
			outcome = "malformed"
			break
		}
		// A log-pattern alert (often one new line) is evidence, not an
		// incident by itself: it joins one near it or waits for more.
		incs, evs = c.engine.Observe(incidents.Signal{Kind: incidents.SignalAlert, Open: e.State == records.AlertFiring,
			Service: e.Service, Key: e.Fingerprint, TimeMs: e.TimeMs, Score: 1, Weak: e.Kind == records.KindLogPattern,
			Title: "Alert " + e.State + ": " + e.Name, Detail: e.Annotations["summary"], Ref: "alerts:" + e.Fingerprint})
	case records.TopicEvents:
		e, err := records.DecodeEvent(in.msg.Value)
		if err != nil {
			outcome = "malformed"
			break
		}
		var aerr error
		incs, evs, aerr = c.event(e)
		if aerr != nil {
			outcome = "skipped"
			c.log.Warn("incident action not applied", "event", e.ID, "err", aerr)
		}
	}
	c.inputs.WithLabelValues(in.topic, outcome).Inc()
	if in.ms > c.clockMs {
		c.clockMs, c.clockWall = in.ms, time.Now()
	}
	return c.publish(ctx, incs, evs)
}

func (c *Correlator) event(e *records.Event) ([]incidents.Incident, []incidents.Event, error) {
	switch e.Kind {
	case records.EventChange:
		incs, evs := c.engine.Observe(incidents.Signal{Kind: incidents.SignalChange, Open: true, Service: e.Service,
			Key: e.ID, TimeMs: e.TimeMs, Title: e.Title, Detail: e.Detail, Ref: "events:" + e.ID})
		return incs, evs, nil
	case records.EventAlert:
		incs, evs := c.engine.Observe(incidents.Signal{Kind: incidents.SignalAlert, Open: e.State != "resolved",
			Service: e.Service, Key: "am:" + e.Fingerprint, TimeMs: e.TimeMs, Score: 1, Title: e.Title,
			Detail: e.Detail, Ref: "events:" + e.ID})
		return incs, evs, nil
	case records.EventAction:
		who := e.Author
		if who == "" {
			who = "someone"
		}
		switch e.Type {
		case "ack":
			inc, evs, err := c.engine.Ack(e.Incident, who, e.TimeMs)
			return one(inc), evs, err
		case "resolve":
			inc, evs, err := c.engine.Resolve(e.Incident, who, e.TimeMs)
			return one(inc), evs, err
		default: // a note
			return nil, []incidents.Event{{IncidentID: e.Incident, TimeMs: e.TimeMs, Kind: "note",
				Title: who + ": " + e.Title, Detail: e.Detail, Ref: "events:" + e.ID}}, nil
		}
	}
	return nil, nil, errors.New("unknown event kind " + e.Kind)
}

func one(in *incidents.Incident) []incidents.Incident {
	if in == nil {
		return nil
	}
	return []incidents.Incident{*in}
}

// strongScore: an anomaly this surprising opens an incident by itself
// (the alerter pages on it at once too).
const strongScore = 0.9

// signalOfAnomaly maps a detector finding to a signal.
func signalOfAnomaly(a *records.Anomaly) incidents.Signal {
	s := incidents.Signal{Open: a.State == records.StateOpen, Service: a.Service, TimeMs: a.TimeMs, Score: a.Score,
		Key: strconv.FormatUint(a.SeriesID, 10), Ref: fmt.Sprintf("anomalies:%d@%d", a.SeriesID, a.TimeMs)}
	if s.Service == "" {
		s.Service = a.Metric
	}
	inst := a.Labels["instance"]
	where := a.Metric
	if inst != "" {
		where += " on " + inst
	}
	switch a.Kind {
	case records.KindSilence:
		s.Kind = incidents.SignalSilence
		s.Title = "Data stopped: " + where
		if !s.Open {
			s.Title = "Data resumed: " + where
		}
	case records.KindPredictive:
		s.Kind = incidents.SignalPredictive
		s.Key = a.Rule + "/" + s.Key
		s.Title = fmt.Sprintf("%s predicted: %s to cross %g", a.Rule, where, a.Threshold)
		if a.PredictedBreachMs != 0 {
			s.Detail = "expected at " + time.UnixMilli(a.PredictedBreachMs).UTC().Format(time.RFC3339)
		}
	case records.KindComplaintSurge:
		s.Kind = incidents.SignalComplaintSurge
		s.Key = a.Labels["channel"]
		s.Title = fmt.Sprintf("Complaint surge on %s: %.0f negative messages a minute (usually %.1f)", a.Labels["channel"], a.Value, a.Expected)
		s.Detail = a.Labels["sample_1"]
		if !s.Open {
			s.Title = "Complaints back to normal on " + a.Labels["channel"]
		}
	case records.KindLogPattern:
		s.Kind = incidents.SignalLogPattern
		s.Key = a.Rule
		// A template that is merely new is weak; a surge is not.
		s.Weak = a.Labels["reason"] == "new_template"
		s.Title = "Log pattern: " + firstNonEmpty(a.Labels["template"], a.Rule)
		s.Detail = a.Labels["sample"]
	default:
		s.Kind = incidents.SignalAnomaly
		// A single moderately surprising point is evidence, not an
		// incident: it joins one, or waits for a strong signal near it.
		s.Weak = a.Score < strongScore
		s.Title = fmt.Sprintf("%s %s: %.4g (expected %.4g)", where, directionWord(a.Direction), a.Value, a.Expected)
	}
	return s
}

func directionWord(d string) string {
	if d == "down" {
		return "dropped"
	}
	return "rose"
}

// publish sends what changed, retrying until Kafka takes it.
func (c *Correlator) publish(ctx context.Context, incs []incidents.Incident, evs []incidents.Event) error {
	if len(incs) == 0 && len(evs) == 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	var msgs []kafka.Message
	c.learnOnsets(evs)
	for i := range incs {
		in := &incs[i]
		rec := &records.IncidentRecord{ID: in.ID, Title: in.Title, State: in.State, Severity: in.Severity,
			Services: in.Services, OpenedMs: in.OpenedMs, AckedMs: in.AckedMs, MitigatedMs: in.MitigatedMs,
			ResolvedMs: in.ResolvedMs, UpdatedMs: max(now, in.LastMs), Signals: in.Signals, MissingData: in.MissingData}
		for _, rc := range in.RootCauses {
			rec.RootCauses = append(rec.RootCauses, records.RootCause{Service: rc.Service, Score: rc.Score, Explanation: rc.Explanation})
		}
		v, err := records.EncodeIncident(rec)
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicIncidents, Key: []byte(in.ID), Value: v})
	}
	for i := range evs {
		e := &evs[i]
		v, err := records.EncodeTimelineEvent(&records.TimelineEvent{IncidentID: e.IncidentID, TimeMs: e.TimeMs,
			Kind: e.Kind, Service: e.Service, Title: e.Title, Detail: e.Detail, Ref: e.Ref})
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicIncidentEvents, Key: []byte(e.IncidentID), Value: v})
	}
	for attempt := 0; ; attempt++ {
		err := c.pub.Publish(ctx, msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("correlator could not publish, retrying", "err", err, "attempt", attempt)
		time.Sleep(min(100*time.Millisecond<<min(attempt, 6), 5*time.Second))
	}
	c.published.WithLabelValues(records.TopicIncidents).Add(float64(len(incs)))
	c.published.WithLabelValues(records.TopicIncidentEvents).Add(float64(len(evs)))
	c.open.Set(float64(len(c.engine.Active())))
	return nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// learnOnsets feeds the first signal of each service in each incident to
// the lead-lag learner: which services' trouble tends to come first.
func (c *Correlator) learnOnsets(evs []incidents.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range evs {
		switch e.Kind {
		case incidents.SignalAnomaly, incidents.SignalSilence, incidents.SignalPredictive, incidents.SignalLogPattern,
			incidents.SignalComplaintSurge, incidents.SignalAlert:
		default:
			continue
		}
		if e.Service == "" || c.onsetsOf[e.IncidentID+"\x00"+e.Service] {
			continue
		}
		c.onsetsOf[e.IncidentID+"\x00"+e.Service] = true
		c.leadLag.Onset(e.Service, e.TimeMs)
	}
	if len(c.onsetsOf) > 100_000 {
		clear(c.onsetsOf)
	}
}

// TopologyHandler serves GET /api/v1/topology: the declared graph's
// services with blast radius and single points of failure (key nodes),
// and the dependencies learned from which service's trouble comes first.
func (c *Correlator) TopologyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := struct {
			Declared bool                    `json:"declared"`
			Nodes    []topology.Node         `json:"nodes"`
			Observed []topology.ObservedEdge `json:"observed"`
		}{Nodes: []topology.Node{}}
		if g := c.cfg.Incidents.Graph; g != nil {
			out.Declared, out.Nodes = true, g.Nodes()
		}
		c.mu.Lock()
		out.Observed = c.leadLag.Edges(2)
		c.mu.Unlock()
		if out.Observed == nil {
			out.Observed = []topology.ObservedEdge{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}
