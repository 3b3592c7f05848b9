package writer

import (
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// logsEncoder fills the logs table.
type logsEncoder struct {
	timeNs    []int64
	service   []string
	streamID  []uint64
	entryID   []uint64
	sevNum    []uint8
	severity  []string
	body      []string
	traceID   []string
	spanID    []string
	labels    []map[string]string
	attrs     []map[string]string
	scratch   records.LogScratch
	check     logValidator
	interned  map[string]string
	curSvc    string
	curStream uint64
	curLabels map[string]string
}

func newLogsEncoder() *logsEncoder { return &logsEncoder{interned: map[string]string{}} }

type logValidator struct{}

func (logValidator) Stream(uint64, []byte, [][]byte) error { return nil }
func (logValidator) Entry(*records.LogEntryRef)            {}

func (e *logsEncoder) Add(value []byte) error {
	if err := records.DecodeLogs(value, e.check, &e.scratch); err != nil {
		return err
	}
	return records.DecodeLogs(value, e, &e.scratch)
}

func (e *logsEncoder) intern(b []byte) string {
	if s, ok := e.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(e.interned) < 100_000 {
		e.interned[s] = s
	}
	return s
}

// Stream implements records.LogVisitor.
func (e *logsEncoder) Stream(id uint64, service []byte, labels [][]byte) error {
	e.curStream, e.curSvc = id, e.intern(service)
	e.curLabels = pairsMap(labels, e.intern)
	return nil
}

// Entry implements records.LogVisitor.
func (e *logsEncoder) Entry(x *records.LogEntryRef) {
	e.timeNs = append(e.timeNs, x.TimeNs)
	e.service = append(e.service, e.curSvc)
	e.streamID = append(e.streamID, e.curStream)
	e.entryID = append(e.entryID, x.ID)
	e.sevNum = append(e.sevNum, x.SeverityNumber)
	e.severity = append(e.severity, e.intern(x.SeverityText))
	e.body = append(e.body, string(x.Body))
	e.traceID = append(e.traceID, string(x.TraceID))
	e.spanID = append(e.spanID, string(x.SpanID))
	e.labels = append(e.labels, e.curLabels) // shared by the stream's entries, read-only
	e.attrs = append(e.attrs, pairsMap(x.Attributes, e.intern))
}

func pairsMap(pairs [][]byte, intern func([]byte) string) map[string]string {
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[intern(pairs[i])] = string(pairs[i+1])
	}
	return m
}

func (e *logsEncoder) Rows() int { return len(e.entryID) }

func (e *logsEncoder) Blocks() []*store.Block {
	if len(e.entryID) == 0 {
		return nil
	}
	return []*store.Block{{Table: "logs", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(9, 'UTC')", Data: e.timeNs},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "stream_id", Type: "UInt64", Data: e.streamID},
		{Name: "entry_id", Type: "UInt64", Data: e.entryID},
		{Name: "severity_number", Type: "UInt8", Data: e.sevNum},
		{Name: "severity", Type: "LowCardinality(String)", Data: e.severity},
		{Name: "body", Type: "String", Data: e.body},
		{Name: "trace_id", Type: "String", Data: e.traceID},
		{Name: "span_id", Type: "String", Data: e.spanID},
		{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: e.labels},
		{Name: "attributes", Type: "Map(LowCardinality(String), String)", Data: e.attrs},
	}}}
}

func (e *logsEncoder) Reset() {
	e.timeNs, e.service, e.streamID, e.entryID = e.timeNs[:0], e.service[:0], e.streamID[:0], e.entryID[:0]
	e.sevNum, e.severity, e.body, e.traceID, e.spanID = e.sevNum[:0], e.severity[:0], e.body[:0], e.traceID[:0], e.spanID[:0]
	clear(e.labels)
	clear(e.attrs)
	e.labels, e.attrs = e.labels[:0], e.attrs[:0]
}

// supportEncoder fills support_messages.
type supportEncoder struct {
	timeMs     []int64
	id         []string
	source     []string
	channel    []string
	customer   []string
	service    []string
	region     []string
	language   []string
	sentiment  []float64
	label      []string
	categories [][]string
	text       []string
}

func (e *supportEncoder) Add(value []byte) error {
	m, err := records.DecodeSupport(value)
	if err != nil {
		return err
	}
	e.timeMs = append(e.timeMs, m.TimeMs)
	e.id = append(e.id, m.ID)
	e.source = append(e.source, m.Source)
	e.channel = append(e.channel, m.Channel)
	e.customer = append(e.customer, m.Customer)
	e.service = append(e.service, m.Service)
	e.region = append(e.region, m.Region)
	e.language = append(e.language, m.Language)
	e.sentiment = append(e.sentiment, m.Sentiment)
	e.label = append(e.label, m.Label)
	e.categories = append(e.categories, m.Categories)
	e.text = append(e.text, m.Text)
	return nil
}

func (e *supportEncoder) Rows() int { return len(e.id) }

func (e *supportEncoder) Blocks() []*store.Block {
	if len(e.id) == 0 {
		return nil
	}
	return []*store.Block{{Table: "support_messages", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "message_id", Type: "String", Data: e.id},
		{Name: "source", Type: "LowCardinality(String)", Data: e.source},
		{Name: "channel", Type: "LowCardinality(String)", Data: e.channel},
		{Name: "customer", Type: "String", Data: e.customer},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "region", Type: "LowCardinality(String)", Data: e.region},
		{Name: "language", Type: "LowCardinality(String)", Data: e.language},
		{Name: "sentiment", Type: "Float64", Data: e.sentiment},
		{Name: "label", Type: "LowCardinality(String)", Data: e.label},
		{Name: "categories", Type: "Array(LowCardinality(String))", Data: e.categories},
		{Name: "text", Type: "String", Data: e.text},
	}}}
}

func (e *supportEncoder) Reset() { *e = supportEncoder{} }
