package writer

import (
	"encoding/json"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// eventsEncoder fills the events table (changes, external alerts,
// incident actions).
type eventsEncoder struct {
	timeMs                                []int64
	id, kind, typ, service, title, detail []string
	author, incident, state, fingerprint  []string
	labels                                []map[string]string
}

func (e *eventsEncoder) Add(value []byte) error {
	ev, err := records.DecodeEvent(value)
	if err != nil {
		return err
	}
	e.timeMs = append(e.timeMs, ev.TimeMs)
	e.id = append(e.id, ev.ID)
	e.kind = append(e.kind, ev.Kind)
	e.typ = append(e.typ, ev.Type)
	e.service = append(e.service, ev.Service)
	e.title = append(e.title, ev.Title)
	e.detail = append(e.detail, ev.Detail)
	e.author = append(e.author, ev.Author)
	e.incident = append(e.incident, ev.Incident)
	e.state = append(e.state, ev.State)
	e.fingerprint = append(e.fingerprint, ev.Fingerprint)
	e.labels = append(e.labels, ev.Labels)
	return nil
}

func (e *eventsEncoder) Rows() int { return len(e.timeMs) }

func (e *eventsEncoder) Blocks() []*store.Block {
	if len(e.timeMs) == 0 {
		return nil
	}
	return []*store.Block{{Table: "events", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "id", Type: "String", Data: e.id},
		{Name: "kind", Type: "LowCardinality(String)", Data: e.kind},
		{Name: "type", Type: "LowCardinality(String)", Data: e.typ},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "title", Type: "String", Data: e.title},
		{Name: "detail", Type: "String", Data: e.detail},
		{Name: "author", Type: "String", Data: e.author},
		{Name: "incident_id", Type: "String", Data: e.incident},
		{Name: "state", Type: "LowCardinality(String)", Data: e.state},
		{Name: "fingerprint", Type: "String", Data: e.fingerprint},
		{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: e.labels},
	}}}
}

func (e *eventsEncoder) Reset() { *e = eventsEncoder{} }

// incidentsEncoder fills the incidents table: one row per snapshot, the
// newest updated_at wins.
type incidentsEncoder struct {
	id, title, state, severity, rootCauses      []string
	services, missing                           [][]string
	opened, acked, mitigated, resolved, updated []int64
	signals                                     []uint32
}

func (e *incidentsEncoder) Add(value []byte) error {
	in, err := records.DecodeIncident(value)
	if err != nil {
		return err
	}
	rc, err := json.Marshal(in.RootCauses)
	if err != nil {
		return err
	}
	e.id = append(e.id, in.ID)
	e.title = append(e.title, in.Title)
	e.state = append(e.state, in.State)
	e.severity = append(e.severity, in.Severity)
	e.services = append(e.services, in.Services)
	e.opened = append(e.opened, in.OpenedMs)
	e.acked = append(e.acked, in.AckedMs)
	e.mitigated = append(e.mitigated, in.MitigatedMs)
	e.resolved = append(e.resolved, in.ResolvedMs)
	e.updated = append(e.updated, in.UpdatedMs)
	e.signals = append(e.signals, uint32(min(in.Signals, 1<<31)))
	e.missing = append(e.missing, in.MissingData)
	e.rootCauses = append(e.rootCauses, string(rc))
	return nil
}

func (e *incidentsEncoder) Rows() int { return len(e.id) }

func (e *incidentsEncoder) Blocks() []*store.Block {
	if len(e.id) == 0 {
		return nil
	}
	return []*store.Block{{Table: "incidents", Columns: []store.ColumnData{
		{Name: "id", Type: "String", Data: e.id},
		{Name: "title", Type: "String", Data: e.title},
		{Name: "state", Type: "LowCardinality(String)", Data: e.state},
		{Name: "severity", Type: "LowCardinality(String)", Data: e.severity},
		{Name: "services", Type: "Array(LowCardinality(String))", Data: e.services},
		{Name: "opened_at", Type: "DateTime64(3, 'UTC')", Data: e.opened},
		{Name: "acked_at", Type: "DateTime64(3, 'UTC')", Data: e.acked},
		{Name: "mitigated_at", Type: "DateTime64(3, 'UTC')", Data: e.mitigated},
		{Name: "resolved_at", Type: "DateTime64(3, 'UTC')", Data: e.resolved},
		{Name: "updated_at", Type: "DateTime64(3, 'UTC')", Data: e.updated},
		{Name: "signals", Type: "UInt32", Data: e.signals},
		{Name: "missing_data", Type: "Array(String)", Data: e.missing},
		{Name: "root_causes", Type: "String", Data: e.rootCauses},
	}}}
}

func (e *incidentsEncoder) Reset() { *e = incidentsEncoder{} }

// timelineEncoder fills incident_events.
type timelineEncoder struct {
	incident, kind, service, title, detail, ref []string
	timeMs                                      []int64
}

func (e *timelineEncoder) Add(value []byte) error {
	ev, err := records.DecodeTimelineEvent(value)
	if err != nil {
		return err
	}
	e.incident = append(e.incident, ev.IncidentID)
	e.timeMs = append(e.timeMs, ev.TimeMs)
	e.kind = append(e.kind, ev.Kind)
	e.service = append(e.service, ev.Service)
	e.title = append(e.title, ev.Title)
	e.detail = append(e.detail, ev.Detail)
	e.ref = append(e.ref, ev.Ref)
	return nil
}

func (e *timelineEncoder) Rows() int { return len(e.incident) }

func (e *timelineEncoder) Blocks() []*store.Block {
	if len(e.incident) == 0 {
		return nil
	}
	return []*store.Block{{Table: "incident_events", Columns: []store.ColumnData{
		{Name: "incident_id", Type: "String", Data: e.incident},
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "kind", Type: "LowCardinality(String)", Data: e.kind},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "title", Type: "String", Data: e.title},
		{Name: "detail", Type: "String", Data: e.detail},
		{Name: "ref", Type: "String", Data: e.ref},
	}}}
}

func (e *timelineEncoder) Reset() { *e = timelineEncoder{} }
