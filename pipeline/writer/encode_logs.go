package writer

import (
	"unsafe"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// logsEncoder fills the logs table. Per line it allocates nothing once its
// columns have grown: text is copied into an append-only arena, stream
// labels are built once per stream, and lines without attributes share the
// empty map.
type logsEncoder struct {
	timeNs   []int64
	service  []string
	streamID []uint64
	entryID  []uint64
	sevNum   []uint8
	severity []string
	body     []string
	traceID  []string
	spanID   []string
	labels   []map[string]string
	attrs    []map[string]string
	scratch  records.LogScratch
	text     arena
	interned map[string]string
	// streams caches each stream's service and labels (a stream id is a
	// hash of both); the maps are shared by rows and batches, read-only.
	streams   map[uint64]logStream
	curSvc    string
	curStream uint64
	curLabels map[string]string
}

type logStream struct {
	service string
	labels  map[string]string
}

func newLogsEncoder() *logsEncoder {
	return &logsEncoder{interned: map[string]string{}, streams: map[uint64]logStream{}}
}

// Add decodes in one pass and, if the record turns out malformed part way,
// drops the rows it had appended for it.
func (e *logsEncoder) Add(value []byte) error {
	n := len(e.entryID)
	if err := records.DecodeLogs(value, e, &e.scratch); err != nil {
		e.truncate(n)
		return err
	}
	return nil
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
	st, ok := e.streams[id]
	if !ok || st.service != string(service) {
		st = logStream{service: e.intern(service), labels: pairsMap(labels, e.intern)}
		if len(e.streams) >= 100_000 {
			clear(e.streams)
		}
		e.streams[id] = st
	}
	e.curStream, e.curSvc, e.curLabels = id, st.service, st.labels
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
	e.body = append(e.body, e.text.string(x.Body))
	e.traceID = append(e.traceID, e.text.string(x.TraceID))
	e.spanID = append(e.spanID, e.text.string(x.SpanID))
	e.labels = append(e.labels, e.curLabels) // shared by the stream's entries, read-only
	var attrs map[string]string              // nil: no attributes, no map
	if len(x.Attributes) > 0 {
		attrs = pairsMap(x.Attributes, e.intern)
	}
	e.attrs = append(e.attrs, attrs)
}

func pairsMap(pairs [][]byte, intern func([]byte) string) map[string]string {
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[intern(pairs[i])] = string(pairs[i+1])
	}
	return m
}

// arena copies byte slices into large append-only chunks and returns
// strings that point into them: one allocation per chunk instead of one per
// string. A chunk is never written again once a string points into it, so
// the strings stay valid (and the chunk alive) as long as they are held.
type arena struct{ buf []byte }

const arenaChunk = 256 << 10

func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaChunk/8 {
		return string(b)
	}
	if len(a.buf)+len(b) > cap(a.buf) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[off], len(b))
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
	e.truncate(0)
	// The next batch starts a fresh chunk: the stored batch's strings (and
	// their chunks) are released with it.
	e.text.buf = nil
	if len(e.interned) >= 100_000 {
		clear(e.interned)
	}
}

// truncate drops the rows from n on, and their references to strings and
// maps.
func (e *logsEncoder) truncate(n int) {
	clear(e.body[n:])
	clear(e.traceID[n:])
	clear(e.spanID[n:])
	clear(e.labels[n:])
	clear(e.attrs[n:])
	e.timeNs, e.service, e.streamID, e.entryID = e.timeNs[:n], e.service[:n], e.streamID[:n], e.entryID[:n]
	e.sevNum, e.severity, e.body, e.traceID, e.spanID = e.sevNum[:n], e.severity[:n], e.body[:n], e.traceID[:n], e.spanID[:n]
	e.labels, e.attrs = e.labels[:n], e.attrs[:n]
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
