package writer

import (
	"strconv"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// logTemplatesEncoder fills log_templates from LogTemplateBatch records
// without allocating per row (the service string is interned per group).
type logTemplatesEncoder struct {
	timeNs     []int64
	service    []string
	entryID    []uint64
	templateID []uint64
	cur        string
	interned   map[string]string
}

func (e *logTemplatesEncoder) Add(value []byte) error {
	n := len(e.timeNs)
	if err := records.DecodeLogTemplates(value, e); err != nil {
		e.timeNs, e.service, e.entryID, e.templateID = e.timeNs[:n], e.service[:n], e.entryID[:n], e.templateID[:n]
		return err
	}
	return nil
}

func (e *logTemplatesEncoder) TemplateService(service []byte) error {
	s, ok := e.interned[string(service)]
	if !ok {
		if e.interned == nil {
			e.interned = map[string]string{}
		}
		s = string(service)
		e.interned[s] = s
	}
	e.cur = s
	return nil
}

func (e *logTemplatesEncoder) TemplateLine(entryID uint64, timeNs int64, templateID uint64) {
	e.timeNs = append(e.timeNs, timeNs)
	e.service = append(e.service, e.cur)
	e.entryID = append(e.entryID, entryID)
	e.templateID = append(e.templateID, templateID)
}

func (e *logTemplatesEncoder) Rows() int { return len(e.timeNs) }

func (e *logTemplatesEncoder) Blocks() []*store.Block {
	if len(e.timeNs) == 0 {
		return nil
	}
	return []*store.Block{{Table: "log_templates", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(9, 'UTC')", Data: e.timeNs},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "entry_id", Type: "UInt64", Data: e.entryID},
		{Name: "template_id", Type: "UInt64", Data: e.templateID},
	}}}
}

func (e *logTemplatesEncoder) Reset() {
	e.timeNs, e.service, e.entryID, e.templateID = e.timeNs[:0], e.service[:0], e.entryID[:0], e.templateID[:0]
	if len(e.interned) > 10_000 {
		e.interned = nil
	}
}

// patternsEncoder fills patterns from Pattern records.
type patternsEncoder struct {
	timeMs, firstSeenMs                            []int64
	kind, service, template, severity, sample      []string
	templateID, count, errors, warnings, sampleIDs []uint64
	partition                                      []uint32
	prevIDs                                        [][]string
}

func (e *patternsEncoder) Add(value []byte) error {
	p, err := records.DecodePattern(value)
	if err != nil {
		return err
	}
	prev := make([]string, len(p.PrevIDs))
	for i, id := range p.PrevIDs {
		prev[i] = strconv.FormatUint(id, 10)
	}
	e.timeMs = append(e.timeMs, p.TimeMs)
	e.kind = append(e.kind, p.Kind)
	e.service = append(e.service, p.Service)
	e.templateID = append(e.templateID, p.TemplateID)
	e.partition = append(e.partition, uint32(max(p.Partition, 0)))
	e.template = append(e.template, p.Template)
	e.count = append(e.count, uint64(max(p.Count, 0)))
	e.errors = append(e.errors, uint64(max(p.Errors, 0)))
	e.warnings = append(e.warnings, uint64(max(p.Warnings, 0)))
	e.firstSeenMs = append(e.firstSeenMs, p.FirstSeenMs)
	e.severity = append(e.severity, p.Severity)
	e.sample = append(e.sample, p.Sample)
	e.sampleIDs = append(e.sampleIDs, p.SampleEntryID)
	e.prevIDs = append(e.prevIDs, prev)
	return nil
}

func (e *patternsEncoder) Rows() int { return len(e.timeMs) }

func (e *patternsEncoder) Blocks() []*store.Block {
	if len(e.timeMs) == 0 {
		return nil
	}
	return []*store.Block{{Table: "patterns", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "kind", Type: "LowCardinality(String)", Data: e.kind},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "template_id", Type: "UInt64", Data: e.templateID},
		{Name: "partition", Type: "UInt32", Data: e.partition},
		{Name: "template", Type: "String", Data: e.template},
		{Name: "count", Type: "UInt64", Data: e.count},
		{Name: "errors", Type: "UInt64", Data: e.errors},
		{Name: "warnings", Type: "UInt64", Data: e.warnings},
		{Name: "first_seen", Type: "DateTime64(3, 'UTC')", Data: e.firstSeenMs},
		{Name: "severity", Type: "LowCardinality(String)", Data: e.severity},
		{Name: "sample", Type: "String", Data: e.sample},
		{Name: "sample_entry_id", Type: "UInt64", Data: e.sampleIDs},
		{Name: "prev_ids", Type: "Array(String)", Data: e.prevIDs},
	}}}
}

func (e *patternsEncoder) Reset() { *e = patternsEncoder{} }
