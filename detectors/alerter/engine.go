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
	resumed map[string]resumed                 // source → when its silence ended
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
	ev     records.AlertEvent // labels, annotations and times as last fired
	source string
	// members: for a service's anomaly alert, its series that passed
	// hysteresis and have not resolved (id → newest open event and a
	// short description). Empty for other kinds, and for an alert taken
	// over by Restore (then any resolved series ends it).
	members map[uint64]member
	// dependents: services depending on this alert's service whose
	// events it held back (dependency suppression), listed in an
	// annotation so the page says what else hurts.
	dependents map[string]bool
	lastOpenMs int64     // newest open event time of the problem
	lastOpen   time.Time // wall time it arrived
	lastSent   time.Time // wall time Alertmanager was last sent the alert
	// resolveAt: a resolved event arrived; unless an open one follows,
	// the alert resolves then (at resolveMs, the event's time).
	resolveAt time.Time
	resolveMs int64
}

// resumed is a silence that ended: the source's service, and the event
// time it sent again.
type resumed struct {
	service string
	ms      int64
}

type member struct {
	openMs   int64
	desc     string
	resolved bool // its resolved event came; an open event brings it back
}

// activeMembers counts the series of a service's alert not yet resolved.
func activeMembers(ms map[uint64]member) int {
	n := 0
	for _, m := range ms {
		if !m.resolved {
			n++
		}
	}
	return n
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
		resumed: map[string]resumed{},
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

// suppressed reports whether the source of a series is silent (its own
// source, service and instance, or its whole service), or whether a
// service it depends on is in trouble (upstreamTrouble).
func (e *Engine) suppressed(a *records.Anomaly, src string) bool {
	if len(e.silent[src]) > 0 {
		return true
	}
	if a.Service != "" && len(e.silent[serviceSource(a.Service)]) > 0 {
		return true
	}
	if e.justResumed(a, src) {
		return true
	}
	if up := e.upstreamTrouble(a); up != nil {
		if up.dependents == nil {
			up.dependents = map[string]bool{}
		}
		if !up.dependents[a.Service] {
			up.dependents[a.Service] = true
			up.ev.Annotations = withDependents(up.ev.Annotations, up.dependents)
		}
		return true
	}
	return false
}

// justResumed: a's source, or a service a's service depends on
// (Config.Graph), sent again less than ResumeGrace before a (event time).
// The resumed source's first points are judged against a baseline that
// missed the whole gap (a rate expected where the daily cycle was before
// it), and its dependents' recover from what they learnt during it (a
// stock age dropping back to normal); an anomaly then says little. It
// still reaches the incident, which holds the silence.
func (e *Engine) justResumed(a *records.Anomaly, src string) bool {
	if a.Kind != records.KindAnomaly || len(e.resumed) == 0 {
		return false
	}
	grace := e.cfg.ResumeGrace.Milliseconds()
	found := false
	for s, r := range e.resumed {
		d := a.TimeMs - r.ms
		if d > grace {
			delete(e.resumed, s) // events come roughly in order: done with it
			continue
		}
		related := s == src || s == serviceSource(a.Service) ||
			(e.cfg.Graph != nil && a.Service != "" && r.service != "" && e.cfg.Graph.Upstream(a.Service, r.service))
		if related && d >= -grace {
			found = true
		}
	}
	return found
}

// upstreamTrouble is the firing alert of a service that a's service
// depends on (directly or not, per Config.Graph) and that explains a: a
// silence still going on, or an anomaly alert whose newest open event is
// within DependencyWindow of a in event time. Metric anomalies, forecasts
// and log patterns of a dependent are then consequences: they join the
// incident (the correlator reads every finding) but do not page again.
// Complaint surges always page (customers are hurt), and so does trouble
// in a service that does not depend on the failing one.
func (e *Engine) upstreamTrouble(a *records.Anomaly) *alert {
	if e.cfg.Graph == nil || a.Service == "" {
		return nil
	}
	switch a.Kind {
	case records.KindAnomaly, records.KindPredictive, records.KindLogPattern:
	default:
		return nil
	}
	var best *alert
	for _, fp := range slices.Sorted(maps.Keys(e.alerts)) {
		al := e.alerts[fp]
		svc := al.ev.Service
		if svc == "" || svc == a.Service || !e.cfg.Graph.Upstream(a.Service, svc) {
			continue
		}
		switch al.ev.Kind {
		case records.KindSilence:
		case records.KindAnomaly:
			if d := a.TimeMs - al.lastOpenMs; d > e.cfg.DependencyWindow.Milliseconds() || -d > e.cfg.DependencyWindow.Milliseconds() {
				continue
			}
		default:
			continue
		}
		if best == nil {
			best = al
		}
	}
	return best
}

// observeSeries handles every kind but silences: one alert per service
// for anomalies (per series without a service), per series and rule for
// forecasts, per detector key for log patterns and complaint surges.
func (e *Engine) observeSeries(a *records.Anomaly, src string, now time.Time) []records.AlertEvent {
	name := alertName(a)
	fp := seriesFingerprint(a, name)
	al := e.alerts[fp]
	if a.State == records.StateResolved {
		if a.Kind == records.KindAnomaly {
			delete(e.pending, a.SeriesID)
		}
		if al == nil {
			return nil
		}
		if len(al.members) > 0 {
			m, ok := al.members[a.SeriesID]
			if !ok || m.resolved || a.TimeMs < m.openMs {
				return nil // not one of the alert's series, already resolved, or out of order
			}
			m.resolved = true
			al.members[a.SeriesID] = m
			if activeMembers(al.members) > 0 { // the service's other series go on
				al.ev.Annotations = withMembers(al.ev.Annotations, al.members, a.Service)
				return nil
			}
		} else if a.TimeMs < al.lastOpenMs {
			return nil // older than what keeps it firing
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
		if al.members != nil {
			// A service's anomaly alert: a series joins it once it passes
			// hysteresis itself, so one noisy point elsewhere in the
			// service neither joins nor keeps the alert alive.
			// A series that was part of it and resolved comes back at once.
			if _, ok := al.members[a.SeriesID]; !ok {
				if _, fire := e.gather(a, now); !fire {
					return nil
				}
			}
			al.members[a.SeriesID] = member{openMs: max(al.members[a.SeriesID].openMs, a.TimeMs), desc: seriesDesc(a)}
		}
		al.touch(a.TimeMs, now)
		next := e.seriesEvent(a, name, fp, al.ev.StartsAtMs, now)
		if al.members != nil {
			next.Annotations = withMembers(next.Annotations, al.members, a.Service)
		}
		next.Annotations = withDependents(next.Annotations, al.dependents)
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
	ev := e.seriesEvent(a, name, fp, min(startMs, now.UnixMilli()), now)
	var members map[uint64]member
	if a.Kind == records.KindAnomaly && a.Service != "" {
		members = map[uint64]member{a.SeriesID: {openMs: a.TimeMs, desc: seriesDesc(a)}}
		ev.Annotations = withMembers(ev.Annotations, members, a.Service)
	}
	evs := e.fire(ev, src, a.TimeMs, now)
	e.alerts[fp].members = members
	return evs
}

// seriesFingerprint: anomaly alerts are one per service (its anomalous
// series are listed in the alert), or per series when the service is
// unknown; predictive alerts one per series and rule; log-pattern and
// complaint-surge alerts one per their detector's key.
func seriesFingerprint(a *records.Anomaly, name string) string {
	if a.Kind == records.KindAnomaly && a.Service != "" {
		return fingerprint(a.Kind, name, serviceSource(a.Service))
	}
	return fingerprint(a.Kind, name, strconv.FormatUint(a.SeriesID, 10), a.Rule)
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
		if len(e.resumed) < e.cfg.MaxPending {
			e.resumed[src] = resumed{service: a.Service, ms: a.TimeMs}
		}
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
		TimeMs:       stamp(now, a.TimeMs),
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
		TimeMs:       stamp(now, a.TimeMs),
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

// stamp is a transition's time: now, or the event that caused it when
// events run ahead of the wall clock (a replay at speed, such as
// firebreak demo --speed), so transitions line up with their events in
// the alerts table and on incident timelines.
func stamp(now time.Time, eventMs int64) int64 { return max(now.UnixMilli(), eventMs) }

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
	// Labels are the alert's identity: only its severity changes (a
	// service's alert keeps the labels of the series that fired it).
	labels := maps.Clone(al.ev.Labels)
	labels["severity"] = next.Severity
	al.ev = next
	al.ev.Labels = labels
	al.ev.StartsAtMs = min(al.ev.StartsAtMs, next.StartsAtMs)
	al.ev.TimeMs = max(now.UnixMilli(), next.TimeMs)
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
	ev.TimeMs = stamp(now, max(endMs, al.lastOpenMs))
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
