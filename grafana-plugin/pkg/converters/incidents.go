package converters

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// Frames of the incidents and incident query types. Times are UTC; a time
// that does not apply is null; durations are seconds (unit "s").

// ReportLink is the data link Grafana shows on a field: the incident's
// HTML report on the configured Firebreak, the row's id interpolated by
// Grafana (${__data.fields.id}).
func ReportLink(apiURL string) data.DataLink {
	return data.DataLink{Title: "Incident report", TargetBlank: true,
		URL: strings.TrimRight(apiURL, "/") + "/api/v1/incidents/${__data.fields.id}/report?format=html"}
}

// IncidentColumns are the incidents table's fields, in order.
var IncidentColumns = []string{"id", "title", "state", "severity", "services", "root_cause", "opened_at", "updated_at",
	"mitigated_at", "resolved_at", "mtta", "mttr", "signals", "report"}

// IncidentsTable is one row per incident, newest first as the API lists
// them; id and title link to the incident's report.
func IncidentsTable(name string, incs []firebreak.Incident, reportURL func(id string) string, apiURL string) *data.Frame {
	n := len(incs)
	ids, titles, states, sevs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	services, roots, reports := make([]string, n), make([]string, n), make([]string, n)
	opened, updated := make([]time.Time, n), make([]time.Time, n)
	mitigated, resolved := make([]*time.Time, n), make([]*time.Time, n)
	mtta, mttr := make([]*float64, n), make([]*float64, n)
	signals := make([]int64, n)
	for i, in := range incs {
		ids[i], titles[i], states[i], sevs[i] = in.ID, in.Title, in.State, in.Severity
		services[i] = strings.Join(in.Services, ", ")
		if len(in.RootCauses) > 0 {
			roots[i] = in.RootCauses[0].Service
		}
		opened[i], updated[i] = in.OpenedAt.UTC(), in.UpdatedAt.UTC()
		mitigated[i], resolved[i] = utc(in.MitigatedAt), utc(in.ResolvedAt)
		mtta[i], mttr[i] = in.MTTASeconds, in.MTTRSeconds
		signals[i] = int64(in.Signals)
		reports[i] = reportURL(in.ID)
	}
	link := &data.FieldConfig{Links: []data.DataLink{ReportLink(apiURL)}}
	seconds := func(display string) *data.FieldConfig { return &data.FieldConfig{Unit: "s", DisplayName: display} }
	frame := data.NewFrame(name,
		data.NewField("id", nil, ids).SetConfig(link),
		data.NewField("title", nil, titles).SetConfig(link),
		data.NewField("state", nil, states),
		data.NewField("severity", nil, sevs),
		data.NewField("services", nil, services),
		data.NewField("root_cause", nil, roots).SetConfig(&data.FieldConfig{DisplayName: "root cause"}),
		data.NewField("opened_at", nil, opened),
		data.NewField("updated_at", nil, updated),
		data.NewField("mitigated_at", nil, mitigated),
		data.NewField("resolved_at", nil, resolved),
		data.NewField("mtta", nil, mtta).SetConfig(seconds("MTTA")),
		data.NewField("mttr", nil, mttr).SetConfig(seconds("MTTR")),
		data.NewField("signals", nil, signals),
		data.NewField("report", nil, reports).SetConfig(&data.FieldConfig{Links: []data.DataLink{{Title: "Open report", URL: "${__value.raw}", TargetBlank: true}}}),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// IncidentAnnotations are incidents as annotation regions: from opening to
// resolution (now while not resolved), titled with the severity and title,
// tagged with severity, state and services (comma separated, as the
// annotation editor splits tags).
func IncidentAnnotations(name string, incs []firebreak.Incident, now time.Time) *data.Frame {
	n := len(incs)
	times, ends := make([]time.Time, n), make([]time.Time, n)
	titles, texts, tags, ids, sevs, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, in := range incs {
		times[i], ends[i] = in.OpenedAt.UTC(), now.UTC()
		if in.ResolvedAt != nil {
			ends[i] = in.ResolvedAt.UTC()
		}
		titles[i] = in.Severity + " " + in.Title
		text := fmt.Sprintf("%s (%s): %s", in.ID, in.State, strings.Join(in.Services, ", "))
		if len(in.RootCauses) > 0 {
			text += "; likely root cause " + in.RootCauses[0].Service
			if e := in.RootCauses[0].Explanation; e != "" {
				text += " (" + e + ")"
			}
		}
		texts[i] = text
		t := []string{in.Severity, in.State}
		for _, s := range in.Services {
			t = append(t, strings.ReplaceAll(s, ",", " "))
		}
		tags[i] = strings.Join(t, ",")
		ids[i], sevs[i], states[i] = in.ID, in.Severity, in.State
	}
	frame := data.NewFrame(name,
		data.NewField("time", nil, times),
		data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
		data.NewField("id", nil, ids),
		data.NewField("severity", nil, sevs),
		data.NewField("state", nil, states),
	)
	frame.Meta = &data.FrameMeta{DataTopic: data.DataTopicAnnotations}
	return frame
}

// Timeline is an incident's timeline as a table in time order: time, kind,
// service, title, detail, source (the row it came from, table:key).
func Timeline(name string, entries []firebreak.TimelineEntry) *data.Frame {
	entries = sortedTimeline(entries)
	n := len(entries)
	times := make([]time.Time, n)
	kinds, services, titles, details, sources := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		times[i], kinds[i], services[i], titles[i], details[i], sources[i] = e.Time.UTC(), e.Kind, e.Service, e.Title, e.Detail, e.Ref
	}
	frame := data.NewFrame(name,
		data.NewField("time", nil, times),
		data.NewField("kind", nil, kinds),
		data.NewField("service", nil, services),
		data.NewField("title", nil, titles),
		data.NewField("detail", nil, details),
		data.NewField("source", nil, sources),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// sortedTimeline orders a timeline by time; at the same time the opening
// comes first (the store sorts by kind there, which puts "anomaly" before
// "opened") and the end last.
func sortedTimeline(entries []firebreak.TimelineEntry) []firebreak.TimelineEntry {
	rank := func(kind string) int {
		switch kind {
		case "opened":
			return 0
		case "mitigated", "resolved":
			return 2
		}
		return 1
	}
	out := append([]firebreak.TimelineEntry(nil), entries...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return rank(out[i].Kind) < rank(out[j].Kind)
	})
	return out
}

// Service states in the states view, worst first.
const (
	StateSilent    = "silent"
	StateAlerting  = "alerting"
	StateAnomalous = "anomalous"
	StateOK        = "ok"
	StateResolved  = "resolved"
)

// signalKinds are the timeline kinds that are a service's own trouble.
var signalKinds = map[string]bool{"anomaly": true, "log_pattern": true, "complaint_surge": true, "predictive": true}

// serviceState follows one service through the timeline.
type serviceState struct {
	anomalous bool
	silent    bool
	alerts    map[string]bool // firing alerts by source (fingerprint)
	resolved  bool
}

func (s *serviceState) String() string {
	switch {
	case s.resolved:
		return StateResolved
	case s.silent:
		return StateSilent
	case len(s.alerts) > 0:
		return StateAlerting
	case s.anomalous:
		return StateAnomalous
	}
	return StateOK
}

// States is a frame for the state-timeline panel: a time field and one
// string field per service of the timeline (sorted), whose value is the
// service's state after the events at that time: ok until its first
// signal; anomalous after an anomaly, log pattern, complaint surge or
// prediction; alerting while one of its alerts fires; silent from "Data
// stopped" to "Data resumed"; ok again once the incident is mitigated;
// resolved when it is. One row per distinct event time, and a last row at
// end (resolution, or now) so the panel draws the final state to it.
func States(name string, entries []firebreak.TimelineEntry, end time.Time) *data.Frame {
	entries = sortedTimeline(entries)
	var services []string
	state := map[string]*serviceState{}
	for _, e := range entries {
		if e.Service != "" && state[e.Service] == nil && e.Kind != "change" && e.Kind != "note" && e.Kind != "ack" {
			state[e.Service] = &serviceState{alerts: map[string]bool{}}
			services = append(services, e.Service)
		}
	}
	sort.Strings(services)
	var times []time.Time
	cols := make([][]string, len(services))
	snapshot := func(t time.Time) {
		if k := len(times); k > 0 && times[k-1].Equal(t) {
			for i, s := range services {
				cols[i][k-1] = state[s].String()
			}
			return
		}
		times = append(times, t)
		for i, s := range services {
			cols[i] = append(cols[i], state[s].String())
		}
	}
	for _, e := range entries {
		st := state[e.Service]
		switch {
		case e.Kind == "mitigated":
			for _, s := range state {
				s.anomalous, s.alerts = false, map[string]bool{}
			}
		case e.Kind == "resolved":
			for _, s := range state {
				s.resolved = true
			}
		case e.Kind == "reopened":
			for _, s := range state {
				s.resolved = false
			}
		case st == nil:
			continue
		case signalKinds[e.Kind]:
			st.anomalous = true
		case e.Kind == "silence":
			// The correlator titles a silence "Data stopped: …" and its end
			// "Data resumed: …".
			st.silent = !strings.HasPrefix(e.Title, "Data resumed")
		case e.Kind == "alert":
			key := e.Ref
			if key == "" {
				key = strings.TrimPrefix(strings.TrimPrefix(e.Title, "Alert firing: "), "Alert resolved: ")
			}
			if strings.HasPrefix(e.Title, "Alert resolved") {
				delete(st.alerts, key)
			} else {
				st.alerts[key] = true
			}
		default:
			continue
		}
		snapshot(e.Time.UTC())
	}
	if len(times) > 0 && end.After(times[len(times)-1]) {
		snapshot(end.UTC())
	}
	fields := []*data.Field{data.NewField("time", nil, times)}
	for i, s := range services {
		fields = append(fields, data.NewField(s, nil, cols[i]).SetConfig(&data.FieldConfig{DisplayNameFromDS: s}))
	}
	frame := data.NewFrame(name, fields...)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	return frame
}

// RootCauses is the incident's ranked root-cause candidates: rank (1 is
// the likeliest), service, score, onset (the service's first signal on
// the timeline), explanation.
func RootCauses(name string, in *firebreak.Incident, entries []firebreak.TimelineEntry) *data.Frame {
	onsets := map[string]time.Time{}
	for _, e := range sortedTimeline(entries) {
		if _, seen := onsets[e.Service]; !seen && e.Service != "" && (signalKinds[e.Kind] || e.Kind == "silence" || e.Kind == "alert") {
			onsets[e.Service] = e.Time.UTC()
		}
	}
	n := len(in.RootCauses)
	ranks, scores := make([]int64, n), make([]float64, n)
	services, explanations := make([]string, n), make([]string, n)
	onset := make([]*time.Time, n)
	for i, c := range in.RootCauses {
		ranks[i], services[i], scores[i], explanations[i] = int64(i+1), c.Service, c.Score, c.Explanation
		if t, ok := onsets[c.Service]; ok {
			onset[i] = &t
		}
	}
	frame := data.NewFrame(name,
		data.NewField("rank", nil, ranks),
		data.NewField("service", nil, services),
		data.NewField("score", nil, scores).SetConfig(&data.FieldConfig{Decimals: ptrU16(2)}),
		data.NewField("onset", nil, onset),
		data.NewField("explanation", nil, explanations),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

func ptrU16(v uint16) *uint16 { return &v }

// MTTD is the time from the incident's first signal (its opening) to its
// first firing alert, or nil before any alert fired.
func MTTD(in *firebreak.Incident, entries []firebreak.TimelineEntry) *float64 {
	for _, e := range sortedTimeline(entries) {
		if e.Kind == "alert" && strings.Contains(e.Title, "firing") {
			s := math.Max(0, e.Time.Sub(in.OpenedAt).Seconds())
			return &s
		}
	}
	return nil
}

// Summary is one row: title, state, severity, services, opened, mttd,
// mtta, mttr (seconds) and the report's address (linked).
func Summary(name string, in *firebreak.Incident, entries []firebreak.TimelineEntry, reportURL string) *data.Frame {
	root := ""
	if len(in.RootCauses) > 0 {
		root = in.RootCauses[0].Service
	}
	seconds := func(display string) *data.FieldConfig { return &data.FieldConfig{Unit: "s", DisplayName: display} }
	frame := data.NewFrame(name,
		data.NewField("id", nil, []string{in.ID}),
		data.NewField("title", nil, []string{in.Title}).SetConfig(&data.FieldConfig{Links: []data.DataLink{{Title: "Incident report", URL: reportURL, TargetBlank: true}}}),
		data.NewField("state", nil, []string{in.State}),
		data.NewField("severity", nil, []string{in.Severity}),
		data.NewField("services", nil, []string{strings.Join(in.Services, ", ")}),
		data.NewField("root_cause", nil, []string{root}).SetConfig(&data.FieldConfig{DisplayName: "root cause"}),
		data.NewField("opened", nil, []time.Time{in.OpenedAt.UTC()}),
		data.NewField("mttd", nil, []*float64{MTTD(in, entries)}).SetConfig(seconds("MTTD")),
		data.NewField("mtta", nil, []*float64{in.MTTASeconds}).SetConfig(seconds("MTTA")),
		data.NewField("mttr", nil, []*float64{in.MTTRSeconds}).SetConfig(seconds("MTTR")),
		data.NewField("report", nil, []string{reportURL}).SetConfig(&data.FieldConfig{Links: []data.DataLink{{Title: "Open report", URL: reportURL, TargetBlank: true}}}),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}
