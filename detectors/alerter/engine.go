package alerter

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/alerter/alertmanager"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Alert names of the kinds that have no rule name.
const (
	NameAnomaly    = "FirebreakAnomaly"
	NameSilence    = "FirebreakSilence"
	NamePredictive = "FirebreakPredictive" // a predictive event without a rule name
	// NameLogPattern: a new or surging log template, or an error surge.
	NameLogPattern = "FirebreakLogPattern"
	// NameComplaintSurge: customers complaining far above the baseline.
	NameComplaintSurge = "FirebreakComplaintSurge"
)

// Severities.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Engine decides what pages: it turns anomaly events into alert
// transitions (one alert per problem, with hysteresis, silence
// suppression and timeouts) and keeps what Alertmanager must be sent. It
// is a pure state machine, driven by the caller's clock and not safe for
// concurrent use; the Alerter drives it from Kafka.
type Engine struct {
	cfg     Config
	alerts  map[string]*alert                  // firing, by fingerprint
	pending map[uint64]*pending                // anomaly series gathering points
	silent  map[string]map[uint64]silentSeries // silent source → its silent series
	outbox  []alertmanager.Alert               // transitions not yet taken by Notifications
	firing  map[string]int                     // by kind
	counts  Counts
}

// Counts are the Engine's running totals of events it did not page.
type Counts struct {
	// Stale: open events older than StaleAfter (history), never paged.
	Stale uint64
	// Suppressed, by kind: open events of a series whose source is silent.
	Suppressed map[string]uint64
}

type alert struct {
	ev         records.AlertEvent // labels, annotations and times as last fired
	source     string
	lastOpenMs int64     // newest open event time of the problem
	lastOpen   time.Time // wall time it arrived
	lastSent   time.Time // wall time Alertmanager was last sent the alert
	// resolveAt: a resolved event arrived; unless an open one follows,
	// the alert resolves then (at resolveMs, the event's time).
	resolveAt time.Time
	resolveMs int64
}

type silentSeries struct {
	openMs int64 // newest open event time
	metric string
	lastMs int64 // its newest point
}

type pending struct {
	times []int64 // newest distinct open event times, ascending, at most FirePoints
	seen  time.Time
}

// NewEngine returns an engine with nothing firing.
func NewEngine(cfg Config) *Engine {
	return &Engine{
		cfg:     cfg.withDefaults(),
		alerts:  map[string]*alert{},
		pending: map[uint64]*pending{},
		silent:  map[string]map[uint64]silentSeries{},
		firing:  map[string]int{},
		counts:  Counts{Suppressed: map[string]uint64{}},
	}
}

// Counts returns the running totals.
func (e *Engine) Counts() Counts {
	c := e.counts
	c.Suppressed = maps.Clone(e.counts.Suppressed)
	return c
}

// Firing is how many alerts of kind are firing.
func (e *Engine) Firing(kind string) int { return e.firing[kind] }

// Active returns the firing alerts' current events, by fingerprint order.
func (e *Engine) Active() []records.AlertEvent {
	out := make([]records.AlertEvent, 0, len(e.alerts))
	for _, fp := range slices.Sorted(maps.Keys(e.alerts)) {
		out = append(out, e.alerts[fp].ev)
	}
	return out
}

// Observe takes one anomaly event and returns the alert transitions it
// causes (firing, resolved, or a firing alert's escalation to a higher
// severity); most events cause none.
func (e *Engine) Observe(a *records.Anomaly, now time.Time) []records.AlertEvent {
	if a == nil {
		return nil
	}
	src := sourceOf(a)
	if a.Kind == records.KindSilence {
		return e.observeSilence(a, src, now)
	}
	return e.observeSeries(a, src, now)
}

func (e *Engine) stale(a *records.Anomaly, now time.Time) bool {
	if a.TimeMs < now.Add(-e.cfg.StaleAfter).UnixMilli() {
		e.counts.Stale++
		return true
	}
	return false
}

// suppressed reports whether the source of a series is silent: its own
// source (service and instance) or its whole service.
func (e *Engine) suppressed(a *records.Anomaly, src string) bool {
	if len(e.silent[src]) > 0 {
		return true
	}
	if a.Service != "" {
		return len(e.silent[serviceSource(a.Service)]) > 0
	}
	return false
}

// observeSeries handles anomaly and predictive events: one alert per series
// (and rule).
func (e *Engine) observeSeries(a *records.Anomaly, src string, now time.Time) []records.AlertEvent {
	name := alertName(a)
	fp := fingerprint(a.Kind, name, strconv.FormatUint(a.SeriesID, 10), a.Rule)
	al := e.alerts[fp]
	if a.State == records.StateResolved {
		if a.Kind == records.KindAnomaly {
			delete(e.pending, a.SeriesID)
		}
		if al == nil || a.TimeMs < al.lastOpenMs {
			return nil // nothing firing, or older than what keeps it firing
		}
		if a.Kind == records.KindAnomaly && e.cfg.ResolveHold > 0 {
			al.resolveAt, al.resolveMs = now.Add(e.cfg.ResolveHold), a.TimeMs
			return nil
		}
		return e.resolve(al, a.TimeMs, now)
	}
	if e.stale(a, now) {
		return nil
	}
	if e.suppressed(a, src) {
		e.counts.Suppressed[a.Kind]++
		if al != nil { // the problem goes on: keep it alive, but do not re-fire
			al.touch(a.TimeMs, now)
		}
		return nil
	}
	if al != nil {
		al.touch(a.TimeMs, now)
		next := e.seriesEvent(a, name, fp, al.ev.StartsAtMs, now)
		return e.update(al, next, now)
	}
	startMs := a.TimeMs
	if a.Kind == records.KindAnomaly {
		first, ok := e.gather(a, now)
		if !ok {
			return nil
		}
		startMs = first
	}
	return e.fire(e.seriesEvent(a, name, fp, min(startMs, now.UnixMilli()), now), src, a.TimeMs, now)
}

// gather adds an open anomaly point to its series' window and reports
// whether the series now fires, with the event time its problem started.
func (e *Engine) gather(a *records.Anomaly, now time.Time) (startMs int64, fire bool) {
	p := e.pending[a.SeriesID]
	if p == nil {
		if len(e.pending) >= e.cfg.MaxPending && a.Score < e.cfg.FireScore {
			return 0, false
		}
		p = &pending{}
		e.pending[a.SeriesID] = p
	}
	p.seen = now
	if i, found := slices.BinarySearch(p.times, a.TimeMs); !found {
		p.times = slices.Insert(p.times, i, a.TimeMs) // a replayed point counts once
	}
	newest := p.times[len(p.times)-1]
	cut := newest - e.cfg.FireWindow.Milliseconds()
	i := 0
	for i < len(p.times) && p.times[i] < cut {
		i++
	}
	p.times = p.times[i:]
	if len(p.times) > e.cfg.FirePoints {
		p.times = p.times[len(p.times)-e.cfg.FirePoints:]
	}
	if len(p.times) == 0 { // the point itself was older than the window
		delete(e.pending, a.SeriesID)
		return 0, false
	}
	if len(p.times) >= e.cfg.FirePoints || a.Score >= e.cfg.FireScore {
		start := min(p.times[0], a.TimeMs)
		delete(e.pending, a.SeriesID)
		return start, true
	}
	return 0, false
}

func (e *Engine) observeSilence(a *records.Anomaly, src string, now time.Time) []records.AlertEvent {
	fp := fingerprint(records.KindSilence, NameSilence, src, "")
	al := e.alerts[fp]
	set := e.silent[src]
	if a.State == records.StateResolved {
		if s, ok := set[a.SeriesID]; ok && a.TimeMs >= s.openMs {
			delete(set, a.SeriesID)
		}
		if len(set) > 0 {
			if al != nil {
				al.ev.Annotations = e.silenceAnnotations(a, set)
			}
			return nil
		}
		delete(e.silent, src)
		if al == nil {
			return nil
		}
		return e.resolve(al, a.TimeMs, now)
	}
	if e.stale(a, now) {
		return nil
	}
	if set == nil {
		set = map[uint64]silentSeries{}
		e.silent[src] = set
	}
	s := set[a.SeriesID]
	set[a.SeriesID] = silentSeries{openMs: max(s.openMs, a.TimeMs), metric: a.Metric, lastMs: max(s.lastMs, a.LastSeenMs)}
	if al != nil {
		al.touch(a.TimeMs, now)
		next := al.ev
		next.Annotations = e.silenceAnnotations(a, set)
		return e.update(al, next, now)
	}
	ev := records.AlertEvent{
		Fingerprint:  fp,
		Name:         NameSilence,
		Kind:         records.KindSilence,
		Severity:     SeverityWarning,
		Service:      a.Service,
		State:        records.AlertFiring,
		StartsAtMs:   min(a.TimeMs, now.UnixMilli()),
		TimeMs:       now.UnixMilli(),
		Labels:       e.labels(a, NameSilence, SeverityWarning, true),
		Annotations:  e.silenceAnnotations(a, set),
		GeneratorURL: e.generatorURL(a),
	}
	return e.fire(ev, src, a.TimeMs, now)
}

// seriesEvent is the firing event of an anomaly or predictive problem as
// a's values describe it.
func (e *Engine) seriesEvent(a *records.Anomaly, name, fp string, startMs int64, now time.Time) records.AlertEvent {
	sev := e.severity(a)
	return records.AlertEvent{
		Fingerprint:  fp,
		Name:         name,
		Kind:         a.Kind,
		Severity:     sev,
		Service:      a.Service,
		State:        records.AlertFiring,
		StartsAtMs:   startMs,
		TimeMs:       now.UnixMilli(),
		Labels:       e.labels(a, name, sev, false),
		Annotations:  e.seriesAnnotations(a),
		GeneratorURL: e.generatorURL(a),
	}
}

func (e *Engine) severity(a *records.Anomaly) string {
	switch a.Kind {
	case records.KindAnomaly:
		if a.Score >= e.cfg.CriticalScore {
			return SeverityCritical
		}
		return SeverityWarning
	case records.KindPredictive, records.KindLogPattern, records.KindComplaintSurge:
		if a.Severity != "" {
			return a.Severity
		}
	}
	return SeverityWarning
}

// severityRank orders severities; unknown ones rank with warning.
func severityRank(s string) int {
	switch s {
	case "info", "none":
		return 0
	case SeverityCritical, "page", "error":
		return 2
	}
	return 1
}

func (a *alert) touch(timeMs int64, now time.Time) {
	a.lastOpenMs = max(a.lastOpenMs, timeMs)
	a.lastOpen = now
	a.resolveAt = time.Time{} // it goes on: no pending resolution
}

// Restore takes back an alert transition recorded in firebreak.alerts by
// an earlier alerter (this process before a restart, or the member that
// was active before a takeover), oldest first. What is still firing
// becomes firing again without a new transition, and is re-sent to
// Alertmanager at once; later events of its problem then resolve or
// update it instead of paging it anew. A silence comes back without its
// set of silent series, so the first series that resumes resolves it.
func (e *Engine) Restore(ev records.AlertEvent, now time.Time) {
	old, had := e.alerts[ev.Fingerprint]
	if had {
		delete(e.alerts, ev.Fingerprint)
		e.firing[old.ev.Kind]--
	}
	if ev.State != records.AlertFiring {
		return
	}
	src := ""
	switch inst := ev.Labels["instance"]; {
	case ev.Service != "" && inst != "":
		src = "service=" + ev.Service + "\x00instance=" + inst
	case ev.Service != "":
		src = serviceSource(ev.Service)
	}
	e.alerts[ev.Fingerprint] = &alert{ev: ev, source: src, lastOpenMs: ev.TimeMs, lastOpen: now}
	e.firing[ev.Kind]++
}

// fire starts an alert: a transition, and a notification at once.
func (e *Engine) fire(ev records.AlertEvent, src string, openMs int64, now time.Time) []records.AlertEvent {
	al := &alert{ev: ev, source: src, lastOpenMs: openMs, lastOpen: now, lastSent: now}
	e.alerts[ev.Fingerprint] = al
	e.firing[ev.Kind]++
	e.outbox = append(e.outbox, e.firingAlert(al, now))
	return []records.AlertEvent{ev}
}

// update takes a firing alert's newer description. Annotations change
// quietly (the next re-send carries them); a higher severity is a
// transition: Alertmanager is told at once, and since labels are an
// alert's identity there, the alert under the old labels is ended.
func (e *Engine) update(al *alert, next records.AlertEvent, now time.Time) []records.AlertEvent {
	if severityRank(next.Severity) <= severityRank(al.ev.Severity) {
		al.ev.Annotations = next.Annotations
		return nil
	}
	old := e.firingAlert(al, now)
	old.EndsAt = now
	al.ev = next
	al.ev.StartsAtMs = min(al.ev.StartsAtMs, next.StartsAtMs)
	al.ev.TimeMs = now.UnixMilli()
	al.lastSent = now
	e.outbox = append(e.outbox, old, e.firingAlert(al, now))
	return []records.AlertEvent{al.ev}
}

// resolve ends an alert at endMs (clamped to its start and now) and
// forgets it.
func (e *Engine) resolve(al *alert, endMs int64, now time.Time) []records.AlertEvent {
	ev := al.ev
	ev.State = records.AlertResolved
	ev.EndsAtMs = min(max(endMs, ev.StartsAtMs), now.UnixMilli())
	ev.TimeMs = now.UnixMilli()
	delete(e.alerts, ev.Fingerprint)
	e.firing[ev.Kind]--
	e.outbox = append(e.outbox, toAlertmanager(ev, time.UnixMilli(ev.EndsAtMs)))
	return []records.AlertEvent{ev}
}

// Tick resolves anomaly alerts that had no open event for ResolveAfter and
// forgets series that stopped gathering points. Call it every few seconds.
func (e *Engine) Tick(now time.Time) []records.AlertEvent {
	var out []records.AlertEvent
	for _, fp := range slices.Sorted(maps.Keys(e.alerts)) {
		al := e.alerts[fp]
		if !al.resolveAt.IsZero() && !now.Before(al.resolveAt) {
			out = append(out, e.resolve(al, al.resolveMs, now)...)
			continue
		}
		// Problems that end when their events stop (no resolved event is
		// promised): anomalies, log patterns and complaint surges.
		if al.ev.Kind != records.KindSilence && al.ev.Kind != records.KindPredictive && now.Sub(al.lastOpen) >= e.cfg.ResolveAfter {
			out = append(out, e.resolve(al, now.UnixMilli(), now)...)
		}
	}
	for id, p := range e.pending {
		if now.Sub(p.seen) > e.cfg.FireWindow {
			delete(e.pending, id)
		}
	}
	return out
}

// Notifications returns what Alertmanager must be sent now: every
// transition since the last call, and a re-send of each firing alert last
// sent ResendInterval ago or more (endsAt = now + 4 × ResendInterval).
func (e *Engine) Notifications(now time.Time) []alertmanager.Alert {
	out := e.outbox
	e.outbox = nil
	for _, fp := range slices.Sorted(maps.Keys(e.alerts)) {
		al := e.alerts[fp]
		if now.Sub(al.lastSent) >= e.cfg.ResendInterval {
			al.lastSent = now
			out = append(out, e.firingAlert(al, now))
		}
	}
	return out
}

func (e *Engine) firingAlert(al *alert, now time.Time) alertmanager.Alert {
	return toAlertmanager(al.ev, now.Add(4*e.cfg.ResendInterval))
}

func toAlertmanager(ev records.AlertEvent, endsAt time.Time) alertmanager.Alert {
	return alertmanager.Alert{
		Labels:       maps.Clone(ev.Labels),
		Annotations:  maps.Clone(ev.Annotations),
		StartsAt:     time.UnixMilli(ev.StartsAtMs).UTC(),
		EndsAt:       endsAt.UTC(),
		GeneratorURL: ev.GeneratorURL,
	}
}

func alertName(a *records.Anomaly) string {
	switch a.Kind {
	case records.KindPredictive:
		if a.Rule != "" {
			return a.Rule
		}
		return NamePredictive
	case records.KindSilence:
		return NameSilence
	case records.KindLogPattern:
		return NameLogPattern
	case records.KindComplaintSurge:
		return NameComplaintSurge
	}
	return NameAnomaly
}

// sourceOf is what a silence is about: the service and instance when the
// series has both, else the service, else the series itself.
func sourceOf(a *records.Anomaly) string {
	switch inst := a.Labels["instance"]; {
	case a.Service != "" && inst != "":
		return "service=" + a.Service + "\x00instance=" + inst
	case a.Service != "":
		return serviceSource(a.Service)
	}
	return "series=" + strconv.FormatUint(a.SeriesID, 10)
}

func serviceSource(service string) string { return "service=" + service }

// fingerprint is the stable id of a problem: 16 hex digits of FNV-1a over
// its parts.
func fingerprint(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
