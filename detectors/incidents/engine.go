// Package incidents turns signals (metric anomalies, silences, predictive
// alerts, log-pattern surges, complaint surges, alerts, change events)
// into incidents: one per real problem, grouped by time proximity and
// distance in the service graph, with a lifecycle (open → mitigated →
// resolved), a severity from impact (P1–P4), a timeline and ranked
// root-cause candidates. Engine is a pure state machine driven by the
// caller's clock, like the alerter's.
package incidents

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/topology"
)

// Signal kinds.
const (
	SignalAnomaly        = "anomaly"
	SignalSilence        = "silence"
	SignalPredictive     = "predictive"
	SignalLogPattern     = "log_pattern"
	SignalComplaintSurge = "complaint_surge"
	SignalAlert          = "alert"
	SignalChange         = "change" // deploys, config changes, notes
)

// Signal is one thing that happened to a service.
type Signal struct {
	Kind    string
	Open    bool // false: the signal ended (resolved, resumed)
	Service string
	// Key identifies the signal's source within its kind (series id,
	// template id, alert fingerprint, change id): the first open event of
	// a key is a timeline event, its repeats only refresh the incident.
	Key    string
	TimeMs int64
	Score  float64
	Title  string
	Detail string
	// Ref points at the source row (table and key) for drill-down.
	Ref string
	// Weak signals (a single low-score anomaly) join incidents but do not
	// open one; when a strong signal opens an incident, the weak ones
	// near it in time and graph that came before are pulled in, so the
	// incident starts at the first symptom.
	Weak bool
}

// Config tunes grouping and lifecycle.
type Config struct {
	Graph *topology.Graph // nil: group by service only
	// JoinWindow: a signal joins an incident whose newest signal is at
	// most this old. Default 10m.
	JoinWindow time.Duration
	// MaxDistance: hops along a call path between the signal's service
	// and one of the incident's. Default 2.
	MaxDistance int
	// MitigatedAfter: no open signal for this long → mitigated. Default 10m.
	MitigatedAfter time.Duration
	// ResolvedAfter: mitigated this long without a new signal → resolved.
	// Default 30m.
	ResolvedAfter time.Duration
	// ChangeLookback: change events this long before an incident join it
	// as suspects. Default 1h.
	ChangeLookback time.Duration
}

// JoinWindowOrDefault is the join window in effect.
func (c Config) JoinWindowOrDefault() time.Duration { return c.withDefaults().JoinWindow }

func (c Config) withDefaults() Config {
	if c.JoinWindow <= 0 {
		c.JoinWindow = 10 * time.Minute
	}
	if c.MaxDistance <= 0 {
		c.MaxDistance = 2
	}
	if c.MitigatedAfter <= 0 {
		c.MitigatedAfter = 10 * time.Minute
	}
	if c.ResolvedAfter <= 0 {
		c.ResolvedAfter = 30 * time.Minute
	}
	if c.ChangeLookback <= 0 {
		c.ChangeLookback = time.Hour
	}
	return c
}

// Incident states.
const (
	StateOpen      = "open"
	StateMitigated = "mitigated"
	StateResolved  = "resolved"
)

// Incident is one problem as the engine sees it now.
type Incident struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	State       string   `json:"state"`
	Severity    string   `json:"severity"` // P1 … P4
	Services    []string `json:"services"`
	OpenedMs    int64    `json:"opened_ms"`
	MitigatedMs int64    `json:"mitigated_ms,omitempty"`
	ResolvedMs  int64    `json:"resolved_ms,omitempty"`
	// AckedMs is set by an acknowledgement (for MTTA).
	AckedMs int64 `json:"acked_ms,omitempty"`
	Signals int   `json:"signals"`
	// MissingData lists services whose data stopped during the incident.
	MissingData []string    `json:"missing_data,omitempty"`
	RootCauses  []Candidate `json:"root_causes"`
	// LastMs is the newest signal (open or ended), event time.
	LastMs int64 `json:"last_signal_ms"`
}

// Candidate is a suspected root cause.
type Candidate struct {
	Service     string  `json:"service"`
	Score       float64 `json:"score"`
	Explanation string  `json:"explanation"`
}

// Event is one line of an incident's timeline.
type Event struct {
	IncidentID string `json:"incident_id"`
	TimeMs     int64  `json:"time_ms"`
	Kind       string `json:"kind"` // a signal kind, or opened, severity, mitigated, resolved, ack, note
	Service    string `json:"service,omitempty"`
	Title      string `json:"title"`
	Detail     string `json:"detail,omitempty"`
	Ref        string `json:"ref,omitempty"`
}

type incident struct {
	Incident
	onsets   map[string]int64   // service → first open signal
	strength map[string]float64 // service → strongest score
	keys     map[string]bool    // signal keys already on the timeline
	open     map[string]bool    // signal keys currently open
	changes  map[string]int64   // service → newest change before/during
	userHit  bool
	surge    bool
	anchor   string // the service of the first signal
	// strongMs: the newest signal that is not weak (open or ended). The
	// join window runs from it: background noise (weak anomalies near an
	// incident) joins it but does not keep it open for the next problem.
	strongMs int64
}

// Engine groups signals into incidents.
type Engine struct {
	cfg     Config
	active  []*incident
	changes []Signal // recent change events, oldest first
	weak    []Signal // recent weak signals no incident took, oldest first
}

// NewEngine starts with no incidents.
func NewEngine(cfg Config) *Engine { return &Engine{cfg: cfg.withDefaults()} }

// Active lists the incidents not yet resolved.
func (e *Engine) Active() []Incident {
	out := make([]Incident, len(e.active))
	for i, in := range e.active {
		out[i] = in.snapshot()
	}
	return out
}

// Observe takes one signal and returns the incidents it changed and the
// timeline events it added.
func (e *Engine) Observe(s Signal) ([]Incident, []Event) {
	if s.Kind == SignalChange {
		return e.change(s)
	}
	in := e.find(s)
	if in == nil {
		if !s.Open {
			e.dropWeak(s)
			return nil, nil // the end of something no incident holds
		}
		if s.Weak {
			e.keepWeak(s)
			return nil, nil
		}
		// The incident starts at the first symptom: weak signals near this
		// one that came before it.
		pulled := e.takeWeak(s)
		first := s
		if len(pulled) > 0 {
			first = pulled[0]
		}
		in = e.open(first)
		evs := []Event{{IncidentID: in.ID, TimeMs: first.TimeMs, Kind: "opened", Service: first.Service,
			Title: "Incident opened"}}
		evs = append(evs, e.attachChanges(in, first.Service)...)
		for _, w := range pulled {
			evs = append(evs, e.add(in, w)...)
		}
		evs = append(evs, e.add(in, s)...)
		return []Incident{in.snapshot()}, evs
	}
	evs := e.add(in, s)
	return []Incident{in.snapshot()}, evs
}

func (e *Engine) keepWeak(s Signal) {
	cut := s.TimeMs - e.cfg.JoinWindow.Milliseconds()
	keep := e.weak[:0]
	for _, w := range e.weak {
		if w.TimeMs >= cut {
			keep = append(keep, w)
		}
	}
	e.weak = append(keep, s)
}

// dropWeak forgets the weak signals of a source that ended.
func (e *Engine) dropWeak(s Signal) {
	keep := e.weak[:0]
	for _, w := range e.weak {
		if w.Kind != s.Kind || w.Key != s.Key {
			keep = append(keep, w)
		}
	}
	e.weak = keep
}

// takeWeak removes and returns the weak signals that belong with s:
// within JoinWindow before it, on its service or upstream of it within
// MaxDistance (possible causes; a caller's noise that came first must not
// become the first suspect), oldest first.
func (e *Engine) takeWeak(s Signal) []Signal {
	var took []Signal
	keep := e.weak[:0]
	for _, w := range e.weak {
		d := e.distance(w.Service, []string{s.Service})
		cause := w.Service == s.Service || (e.cfg.Graph != nil && e.cfg.Graph.Upstream(s.Service, w.Service))
		if cause && w.TimeMs <= s.TimeMs && s.TimeMs-w.TimeMs <= e.cfg.JoinWindow.Milliseconds() && d >= 0 && d <= e.cfg.MaxDistance {
			took = append(took, w)
		} else {
			keep = append(keep, w)
		}
	}
	e.weak = keep
	sort.SliceStable(took, func(i, j int) bool { return took[i].TimeMs < took[j].TimeMs })
	return took
}

// find is the active incident s belongs to: close in time and in the
// graph, nearest first.
func (e *Engine) find(s Signal) *incident {
	var best *incident
	bestDist := 1 << 30
	for _, in := range e.active {
		if in.State == StateResolved {
			continue
		}
		if !s.Open {
			if in.open[s.Kind+"/"+s.Key] {
				return in
			}
			continue
		}
		if s.TimeMs-in.strongMs > e.cfg.JoinWindow.Milliseconds() || in.OpenedMs-s.TimeMs > e.cfg.JoinWindow.Milliseconds() {
			continue
		}
		// Related to where the incident started, along a call path: a
		// service that only neighbours one of its symptoms (inventory, also
		// called by a failing checkout) is a problem of its own.
		d := e.distance(s.Service, []string{in.anchor})
		if d >= 0 && d <= e.cfg.MaxDistance && d < bestDist {
			best, bestDist = in, d
		}
	}
	return best
}

func (e *Engine) distance(service string, services []string) int {
	best := -1
	for _, o := range services {
		d := -1
		switch {
		case o == service:
			d = 0
		case e.cfg.Graph != nil:
			// Along call paths only: services that merely share a caller
			// are two problems, not one.
			d = e.cfg.Graph.CallDistance(service, o)
		}
		if d >= 0 && (best < 0 || d < best) {
			best = d
		}
	}
	return best
}

func (e *Engine) open(s Signal) *incident {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s", s.Service, s.TimeMs, s.Kind, s.Key)
	in := &incident{
		Incident: Incident{ID: fmt.Sprintf("inc-%s-%08x", time.UnixMilli(s.TimeMs).UTC().Format("20060102-1504"), h.Sum64()&0xffffffff),
			State: StateOpen, OpenedMs: s.TimeMs, LastMs: s.TimeMs},
		anchor: s.Service, strongMs: s.TimeMs,
		onsets: map[string]int64{}, strength: map[string]float64{}, keys: map[string]bool{},
		open: map[string]bool{}, changes: map[string]int64{},
	}
	e.active = append(e.active, in)
	return in
}

// add puts s into in and re-evaluates severity and root causes.
func (e *Engine) add(in *incident, s Signal) []Event {
	var evs []Event
	k := s.Kind + "/" + s.Key
	if !s.Weak {
		in.strongMs = max(in.strongMs, s.TimeMs)
	}
	if !s.Open {
		delete(in.open, k)
		in.LastMs = max(in.LastMs, s.TimeMs)
		if s.Kind == SignalSilence || s.Kind == SignalAlert || s.Kind == SignalPredictive {
			evs = append(evs, Event{IncidentID: in.ID, TimeMs: s.TimeMs, Kind: s.Kind, Service: s.Service,
				Title: s.Title, Detail: s.Detail, Ref: s.Ref})
		}
		return evs
	}
	if in.State == StateMitigated { // it came back
		in.State, in.MitigatedMs = StateOpen, 0
		evs = append(evs, Event{IncidentID: in.ID, TimeMs: s.TimeMs, Kind: "reopened", Service: s.Service,
			Title: "Incident active again"})
	}
	in.open[k] = true
	in.Signals++
	in.LastMs = max(in.LastMs, s.TimeMs)
	if _, ok := in.onsets[s.Service]; !ok {
		in.onsets[s.Service] = s.TimeMs
		in.Services = append(in.Services, s.Service)
		sort.Strings(in.Services)
	}
	in.strength[s.Service] = max(in.strength[s.Service], s.Score)
	if e.cfg.Graph != nil && e.cfg.Graph.UserFacing(s.Service) {
		in.userHit = true
	}
	if s.Kind == SignalComplaintSurge {
		in.surge, in.userHit = true, true
	}
	if s.Kind == SignalSilence && !slices.Contains(in.MissingData, s.Service) {
		in.MissingData = append(in.MissingData, s.Service)
	}
	if !in.keys[k] {
		in.keys[k] = true
		ev := Event{IncidentID: in.ID, TimeMs: s.TimeMs, Kind: s.Kind, Service: s.Service, Title: s.Title,
			Detail: s.Detail, Ref: s.Ref}
		// A silent service's own alert (the page about the silence) is not
		// a consequence of it: only what depends on a silent service is.
		own := s.Kind == SignalAlert && slices.Contains(in.MissingData, s.Service)
		if s.Kind != SignalSilence && !own && e.silentUpstream(in, s.Service) {
			ev.Detail = strings.TrimSpace(ev.Detail + " (data from an upstream source is missing: this may be a consequence, not a cause)")
		}
		evs = append(evs, ev)
	}
	if sev := e.severity(in); sev != in.Severity {
		if in.Severity != "" {
			evs = append(evs, Event{IncidentID: in.ID, TimeMs: s.TimeMs, Kind: "severity",
				Title: fmt.Sprintf("Severity %s → %s", in.Severity, sev)})
		}
		in.Severity = sev
	}
	in.RootCauses = e.rank(in)
	in.Title = e.title(in)
	return evs
}

// silentUpstream: one of the incident's silent services is service itself
// or upstream of it.
func (e *Engine) silentUpstream(in *incident, service string) bool {
	for _, m := range in.MissingData {
		if m == service || (e.cfg.Graph != nil && e.cfg.Graph.Upstream(service, m)) {
			return true
		}
	}
	return false
}

// severity from impact: P1 users affected broadly or complaining; P2
// users affected, or three services or more; P3 a service with alerts or
// several signals; P4 the rest.
func (e *Engine) severity(in *incident) string {
	switch {
	case in.surge || (in.userHit && len(in.Services) >= 3):
		return "P1"
	case in.userHit || len(in.Services) >= 3:
		return "P2"
	case in.Signals >= 3 || in.hasOpenKind(SignalAlert) || in.hasOpenKind(SignalPredictive):
		return "P3"
	}
	return "P4"
}

func (in *incident) hasOpenKind(kind string) bool {
	for k := range in.open {
		if strings.HasPrefix(k, kind+"/") {
			return true
		}
	}
	return false
}

// rank orders the incident's services as root-cause candidates: earlier
// onset, further upstream of the others, stronger, and changed shortly
// before, each with its share of the score and a one-line explanation.
func (e *Engine) rank(in *incident) []Candidate {
	first := in.OpenedMs
	out := make([]Candidate, 0, len(in.Services))
	for _, svc := range in.Services {
		var why []string
		score := 0.0
		// Minutes after the first signal. A service's onset can precede the
		// opening (a weak signal pulled in later, a late point): it is then
		// as early as can be, not a negative lag (1/(1+lag) would blow up).
		lag := max(0, float64(in.onsets[svc]-first)/60_000)
		onsetScore := 1 / (1 + lag)
		score += onsetScore
		if lag < 0.5 {
			why = append(why, "first to show trouble")
		} else {
			why = append(why, fmt.Sprintf("trouble %.0f min after the first signal", lag))
		}
		if e.cfg.Graph != nil {
			up := 0
			for _, other := range in.Services {
				if other != svc && e.cfg.Graph.Upstream(other, svc) {
					up++
				}
			}
			if up > 0 {
				score += float64(up) / float64(len(in.Services))
				why = append(why, fmt.Sprintf("upstream of %d affected service(s)", up))
			}
		}
		score += 0.5 * in.strength[svc]
		if at, ok := in.changes[svc]; ok {
			score += 1
			why = append(why, fmt.Sprintf("changed %.0f min before its onset", float64(in.onsets[svc]-at)/60_000))
		}
		out = append(out, Candidate{Service: svc, Score: score, Explanation: strings.Join(why, "; ")})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

func (e *Engine) title(in *incident) string {
	top := in.Services[0]
	if len(in.RootCauses) > 0 {
		top = in.RootCauses[0].Service
	}
	if len(in.Services) == 1 {
		return "Trouble in " + top
	}
	return fmt.Sprintf("Trouble in %s affecting %d services", top, len(in.Services))
}

// change records a change event; it joins incidents of its service (or
// near it) that opened within ChangeLookback after it.
func (e *Engine) change(s Signal) ([]Incident, []Event) {
	e.changes = append(e.changes, s)
	cut := s.TimeMs - e.cfg.ChangeLookback.Milliseconds()
	for len(e.changes) > 0 && e.changes[0].TimeMs < cut {
		e.changes = e.changes[1:]
	}
	var incs []Incident
	var evs []Event
	for _, in := range e.active {
		if in.State == StateResolved || e.distance(s.Service, in.Services) < 0 || e.distance(s.Service, in.Services) > e.cfg.MaxDistance {
			continue
		}
		in.changes[s.Service] = s.TimeMs
		evs = append(evs, Event{IncidentID: in.ID, TimeMs: s.TimeMs, Kind: SignalChange, Service: s.Service,
			Title: s.Title, Detail: s.Detail, Ref: s.Ref})
		in.RootCauses = e.rank(in)
		incs = append(incs, in.snapshot())
	}
	return incs, evs
}

// attachChanges joins recent changes near a new incident's first service.
func (e *Engine) attachChanges(in *incident, service string) []Event {
	var evs []Event
	for _, c := range e.changes {
		if in.OpenedMs-c.TimeMs > e.cfg.ChangeLookback.Milliseconds() || c.TimeMs > in.OpenedMs {
			continue
		}
		if d := e.distance(c.Service, []string{service}); d < 0 || d > e.cfg.MaxDistance {
			continue
		}
		in.changes[c.Service] = c.TimeMs
		evs = append(evs, Event{IncidentID: in.ID, TimeMs: c.TimeMs, Kind: SignalChange, Service: c.Service,
			Title: c.Title, Detail: c.Detail, Ref: c.Ref})
	}
	return evs
}

// Ack records an acknowledgement (MTTA).
func (e *Engine) Ack(id, who string, ms int64) (*Incident, []Event, error) {
	for _, in := range e.active {
		if in.ID == id {
			if in.AckedMs == 0 {
				in.AckedMs = ms
			}
			s := in.snapshot()
			return &s, []Event{{IncidentID: id, TimeMs: ms, Kind: "ack", Title: "Acknowledged by " + who}}, nil
		}
	}
	return nil, nil, fmt.Errorf("incident %s is not active", id)
}

// Tick moves incidents along their lifecycle: mitigated after
// MitigatedAfter without an open signal, resolved after ResolvedAfter
// mitigated. nowMs is the event-time clock.
func (e *Engine) Tick(nowMs int64) ([]Incident, []Event) {
	var incs []Incident
	var evs []Event
	keep := e.active[:0]
	for _, in := range e.active {
		switch {
		case in.State == StateOpen && len(in.open) == 0 && nowMs-in.LastMs >= e.cfg.MitigatedAfter.Milliseconds():
			in.State, in.MitigatedMs = StateMitigated, nowMs
			evs = append(evs, Event{IncidentID: in.ID, TimeMs: nowMs, Kind: "mitigated", Title: "No open signal: mitigated"})
			incs = append(incs, in.snapshot())
		case in.State == StateMitigated && nowMs-in.MitigatedMs >= e.cfg.ResolvedAfter.Milliseconds():
			in.State, in.ResolvedMs = StateResolved, nowMs
			evs = append(evs, Event{IncidentID: in.ID, TimeMs: nowMs, Kind: "resolved", Title: "Resolved"})
			incs = append(incs, in.snapshot())
			continue // forget it
		}
		keep = append(keep, in)
	}
	e.active = keep
	return incs, evs
}

// Resolve resolves an incident by hand.
func (e *Engine) Resolve(id, who string, ms int64) (*Incident, []Event, error) {
	for i, in := range e.active {
		if in.ID == id {
			in.State, in.ResolvedMs = StateResolved, ms
			if in.MitigatedMs == 0 {
				in.MitigatedMs = ms
			}
			e.active = append(e.active[:i], e.active[i+1:]...)
			s := in.snapshot()
			return &s, []Event{{IncidentID: id, TimeMs: ms, Kind: "resolved", Title: "Resolved by " + who}}, nil
		}
	}
	return nil, nil, fmt.Errorf("incident %s is not active", id)
}

func (in *incident) snapshot() Incident {
	s := in.Incident
	s.Services = slices.Clone(in.Services)
	s.MissingData = slices.Clone(in.MissingData)
	s.RootCauses = slices.Clone(in.RootCauses)
	return s
}
