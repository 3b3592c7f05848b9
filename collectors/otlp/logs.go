package otlp

import (
	"context"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Entry attributes the mapping adds from the scope and the record.
const (
	attrScopeName    = "otel.scope.name"
	attrScopeVersion = "otel.scope.version"
	attrEventName    = "event.name"
)

// maxAttrDepth bounds how deep nested map attributes are flattened into
// dotted names; deeper maps stay one JSON-encoded value.
const maxAttrDepth = 8

// logState is one request's scratch memory, pooled. Streams point into the
// arenas until PublishLogs returns.
type logState struct {
	streams []ingest.LogStream
	entries []records.LogEntry
	attrs   []records.Label
	labels  []records.Label
	names   labelNames
	nowNs   int64
	// Trace and span ids are hex-encoded into one buffer and become
	// substrings of one string per request (see fixIDs), not two
	// allocations per record.
	ids    []byte
	idRefs []idRef
}

// idRef locates an entry's hex trace and span ids in logState.ids.
type idRef struct {
	entry                int
	trace, span, spanEnd int32
}

func (st *logState) reset() {
	// Drop references to the last request's strings.
	clear(st.streams)
	st.streams = st.streams[:0]
	clear(st.entries)
	st.entries = st.entries[:0]
	clear(st.attrs)
	st.attrs = st.attrs[:0]
	clear(st.labels)
	st.labels = st.labels[:0]
	st.ids = st.ids[:0]
	st.idRefs = st.idRefs[:0]
	st.names.reset()
	st.nowNs = time.Now().UnixNano()
}

// pooled reports whether the state is small enough to keep for the next
// request.
func (st *logState) pooled() bool { return cap(st.entries) <= 1<<16 && cap(st.attrs) <= 1<<20 }

// exportLogs maps ld onto log streams, publishes them and returns once
// Kafka acknowledged. Refused records are counted in the outcome.
func (c *Collector) exportLogs(ctx context.Context, ld plog.Logs, source string) (outcome, *ingest.HTTPError) {
	st, _ := c.logStates.Get().(*logState)
	if st == nil {
		st = &logState{}
	}
	st.reset()
	defer func() {
		if st.pooled() {
			c.logStates.Put(st)
		}
	}()

	var res outcome
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		service, labels, reason := c.streamLabels(st, rl.Resource().Attributes())
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			lrs := sl.LogRecords()
			res.items += lrs.Len()
			if reason != "" {
				res.reject(reason, lrs.Len())
				continue
			}
			start := len(st.entries)
			for k := 0; k < lrs.Len(); k++ {
				if reason := c.logEntry(st, sl.Scope(), lrs.At(k)); reason != "" {
					res.reject(reason, 1)
				}
			}
			if end := len(st.entries); end > start {
				st.streams = append(st.streams, ingest.LogStream{
					Service: service,
					Labels:  labels,
					Entries: st.entries[start:end:end],
				})
			}
		}
	}
	st.fixIDs()
	if len(st.streams) > 0 {
		n, err := c.pub.PublishLogs(ctx, st.streams)
		if err != nil {
			return res, publishError(ctx, err)
		}
		res.accepted = n
	}
	return c.finish(res, source, "logs", "log records")
}

// streamLabels maps a resource: service.name is the stream's service
// (unknown_service when absent); every other attribute is a stream label
// under its sanitized name. It returns a rejection reason for the
// resource's records, or "".
func (c *Collector) streamLabels(st *logState, attrs pcommon.Map) (service string, labels []records.Label, reason string) {
	service = unknownService
	start := len(st.labels)
	attrs.Range(func(k string, v pcommon.Value) bool {
		if k == "service.name" {
			if s := v.AsString(); s != "" {
				service = validUTF8(s)
			}
			return true
		}
		name, ok := st.names.get(k)
		if !ok {
			reason = "invalid_label_name"
			return false
		}
		st.labels = addLabel(st.labels, start, name, validUTF8(v.AsString()))
		return true
	})
	if reason == "" && len(st.labels)-start > c.cfg.MaxLabels {
		reason = "too_many_labels"
	}
	end := len(st.labels)
	labels = st.labels[start:end:end]
	sortLabels(labels)
	return service, labels, reason
}

// logEntry appends one record's entry to st, or returns why it is refused.
func (c *Collector) logEntry(st *logState, scope pcommon.InstrumentationScope, lr plog.LogRecord) (reason string) {
	body := bodyString(lr.Body())
	if len(body) > c.cfg.MaxLogBodyBytes {
		return "log_body_too_large"
	}
	ts := lr.Timestamp()
	if ts == 0 || ts > math.MaxInt64 {
		ts = lr.ObservedTimestamp()
	}
	tsNs := int64(ts)
	if ts == 0 || ts > math.MaxInt64 {
		tsNs = st.nowNs
	}
	sev := lr.SeverityNumber()
	if sev < plog.SeverityNumberUnspecified || sev > plog.SeverityNumberFatal4 {
		sev = plog.SeverityNumberUnspecified
	}
	e := records.LogEntry{
		TimeNs:         tsNs,
		SeverityNumber: uint8(sev),
		SeverityText:   validUTF8(lr.SeverityText()),
		Body:           validUTF8(body),
	}
	if tid, sid := lr.TraceID(), lr.SpanID(); !tid.IsEmpty() || !sid.IsEmpty() {
		ref := idRef{entry: len(st.entries), trace: int32(len(st.ids))}
		if !tid.IsEmpty() {
			st.ids = hex.AppendEncode(st.ids, tid[:])
		}
		ref.span = int32(len(st.ids))
		if !sid.IsEmpty() {
			st.ids = hex.AppendEncode(st.ids, sid[:])
		}
		ref.spanEnd = int32(len(st.ids))
		st.idRefs = append(st.idRefs, ref)
	}
	start := len(st.attrs)
	st.flatten("", lr.Attributes(), 0)
	if n := scope.Name(); n != "" {
		st.attrs = append(st.attrs, records.Label{Name: attrScopeName, Value: validUTF8(n)})
	}
	if v := scope.Version(); v != "" {
		st.attrs = append(st.attrs, records.Label{Name: attrScopeVersion, Value: validUTF8(v)})
	}
	if n := lr.EventName(); n != "" {
		st.attrs = append(st.attrs, records.Label{Name: attrEventName, Value: validUTF8(n)})
	}
	if end := len(st.attrs); end > start {
		attrs := st.attrs[start:end]
		sortLabels(attrs)
		attrs = joinDuplicates(attrs)
		st.attrs = st.attrs[:start+len(attrs)]
		e.Attributes = attrs[:len(attrs):len(attrs)]
	}
	st.entries = append(st.entries, e)
	return ""
}

// fixIDs gives the entries their trace and span ids.
func (st *logState) fixIDs() {
	if len(st.idRefs) == 0 {
		return
	}
	all := string(st.ids)
	for _, r := range st.idRefs {
		e := &st.entries[r.entry]
		e.TraceID = all[r.trace:r.span]
		e.SpanID = all[r.span:r.spanEnd]
	}
}

func sortLabels(ls []records.Label) {
	byName := func(a, b records.Label) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(ls, byName) {
		slices.SortStableFunc(ls, byName)
	}
}

// joinDuplicates merges sorted attributes of the same name (a flattened
// map {"a":{"b":1}} beside an attribute "a.b"), joining values with ";".
func joinDuplicates(ls []records.Label) []records.Label {
	out := ls[:0]
	for i, l := range ls {
		if i > 0 && l.Name == out[len(out)-1].Name {
			out[len(out)-1].Value += ";" + l.Value
			continue
		}
		out = append(out, l)
	}
	return out
}

// flatten appends attributes as strings: nested maps become dotted names
// (http.request.method), slices JSON, bytes base64, numbers and booleans
// their JSON text.
func (st *logState) flatten(prefix string, m pcommon.Map, depth int) {
	m.Range(func(k string, v pcommon.Value) bool {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if v.Type() == pcommon.ValueTypeMap && depth < maxAttrDepth {
			st.flatten(name, v.Map(), depth+1)
			return true
		}
		st.attrs = append(st.attrs, records.Label{Name: validUTF8(name), Value: validUTF8(v.AsString())})
		return true
	})
}

// bodyString renders a log body: strings as they are, maps and slices as
// JSON, bytes base64, numbers and booleans as their JSON text.
func bodyString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	}
	return v.AsString()
}

// validUTF8 replaces invalid UTF-8 (pdata does not check it) with U+FFFD:
// log text is kept rather than refused.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
