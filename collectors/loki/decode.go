package loki

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grafana/loki/pkg/push"
	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// UnknownService is the service of a stream that has none of the labels
// service_name, service, app, job.
const UnknownService = "unknown_service"

// serviceLabels name the service, first match wins: service_name is what
// Loki itself derives and what Alloy's OTLP path sends; the others are the
// usual Promtail and Kubernetes labels.
var serviceLabels = []string{"service_name", "service", "app", "job"}

// severityLabels carry a level, in order of preference, on a stream or in
// an entry's structured metadata; an entry's own metadata wins over its
// stream's labels. detected_level is what Loki derives, so it comes last.
var severityLabels = []string{"level", "severity", "severity_text", "detected_level"}

const jsonShape = `{"streams":[{"stream":{"label":"value"},"values":[["<unix ns>","line"],["<unix ns>","line",{"metadata":"value"}]]}]}`

// maxDetails bounds how many refusals a 400 reply spells out.
const maxDetails = 10

// decoder turns one push into LogStreams. Its slices are arenas reused by
// the next request of the pooled state.
type decoder struct {
	cfg    *Config
	labels *labelCache

	req     push.PushRequest
	streams []ingest.LogStream
	entries []records.LogEntry
	attrs   []records.Label
	scratch []records.Label

	rejected    map[string]int
	details     []string
	moreDetails int
	err         error // a malformed JSON body
}

func (d *decoder) reset() {
	clear(d.req.Streams)
	d.req.Streams = d.req.Streams[:0]
	clear(d.streams)
	d.streams = d.streams[:0]
	clear(d.entries)
	d.entries = d.entries[:0]
	clear(d.attrs)
	d.attrs = d.attrs[:0]
	clear(d.rejected)
	d.details = d.details[:0]
	d.moreDetails = 0
	d.err = nil
}

// reject counts n refused lines under reason and keeps the first details.
func (d *decoder) reject(reason string, n int, format string, args ...any) {
	if n <= 0 {
		return
	}
	if d.rejected == nil {
		d.rejected = map[string]int{}
	}
	d.rejected[reason] += n
	if len(d.details) < maxDetails {
		d.details = append(d.details, fmt.Sprintf(format, args...))
	} else {
		d.moreDetails++
	}
}

// streamMeta is what a stream's labels say: validated, sorted labels, the
// service and the stream-wide severity. Shared through the label cache, so
// it is never modified after it is built.
type streamMeta struct {
	labels  []records.Label
	service string
	sevNum  uint8
	sevText string
	// reason is set when the stream is refused, with err for the reply.
	reason string
	err    string
}

// metaFromLabels validates and interprets labels (it keeps the slice).
func metaFromLabels(ls []records.Label) *streamMeta {
	m := &streamMeta{}
	// Empty values mean "no label", as in Prometheus.
	kept := ls[:0]
	for _, l := range ls {
		if l.Value != "" {
			kept = append(kept, l)
		}
	}
	ls = kept
	records.SortLabels(ls)
	if len(ls) == 0 {
		m.reason, m.err = "missing_labels", "at least one label pair is required per stream"
		return m
	}
	for i, l := range ls {
		switch {
		case l.Name == "":
			m.reason, m.err = "empty_label_name", "empty label name"
		case i > 0 && ls[i-1].Name == l.Name:
			m.reason, m.err = "duplicate_label_name", fmt.Sprintf("duplicate label name %q", l.Name)
		case !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
			m.reason, m.err = "invalid_utf8", fmt.Sprintf("label %q is not valid UTF-8", l.Name)
		}
		if m.reason != "" {
			return m
		}
	}
	m.labels = ls
	m.service = UnknownService
	for _, name := range serviceLabels {
		if v := labelValue(ls, name); v != "" {
			m.service = v
			break
		}
	}
	for _, name := range severityLabels {
		if v := labelValue(ls, name); v != "" {
			m.sevText = v
			m.sevNum = ingest.SeverityFromText(v)
			break
		}
	}
	return m
}

func labelValue(ls []records.Label, name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// labelCache remembers parsed protobuf label strings: a sender repeats the
// same few streams in every push, and parsing `{a="b", …}` with the PromQL
// parser costs more than the lines it labels.
type labelCache struct {
	mu sync.Mutex
	m  map[string]*streamMeta
}

const labelCacheSize = 1 << 14

func (c *labelCache) get(s string) *streamMeta {
	c.mu.Lock()
	m, ok := c.m[s]
	c.mu.Unlock()
	if ok {
		return m
	}
	m = parseLabelString(s)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= labelCacheSize {
		c.m = make(map[string]*streamMeta, 64) // simplest bound: start over
	}
	c.m[s] = m
	c.mu.Unlock()
	return m
}

var promql = parser.NewParser(parser.Options{})

// parseLabelString reads a stream's labels in Prometheus text form,
// {name="value", …}, as Loki's own distributor does.
func parseLabelString(s string) *streamMeta {
	ls, err := promql.ParseMetric(s)
	if err != nil {
		return &streamMeta{reason: "bad_labels", err: fmt.Sprintf("stream labels %q: %v", truncate(s, 120), err)}
	}
	out := make([]records.Label, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, records.Label{Name: l.Name, Value: l.Value}) })
	return metaFromLabels(out)
}

// decodeProto reads a logproto.PushRequest with Loki's own generated types.
func (d *decoder) decodeProto(raw []byte) error {
	if err := d.req.Unmarshal(raw); err != nil {
		return err
	}
	for i := range d.req.Streams {
		s := &d.req.Streams[i]
		meta := d.labels.get(s.Labels)
		if meta.reason != "" {
			d.reject(meta.reason, len(s.Entries), "stream %d: %s", i, meta.err)
			continue
		}
		start := len(d.entries)
		for j := range s.Entries {
			e := &s.Entries[j]
			sec := e.Timestamp.Unix()
			if sec <= math.MinInt64/1_000_000_000 || sec >= math.MaxInt64/1_000_000_000 {
				d.reject("timestamp_out_of_range", 1, "stream %d entry %d: timestamp %s outside 1678–2262", i, j, e.Timestamp.Format("2006-01-02"))
				continue
			}
			d.scratch = d.scratch[:0]
			for _, md := range e.StructuredMetadata {
				d.scratch = append(d.scratch, records.Label{Name: md.Name, Value: md.Value})
			}
			d.addEntry(i, j, e.Timestamp.UnixNano(), e.Line, d.scratch)
		}
		d.finishStream(meta, start)
	}
	return nil
}

// addEntry validates one line and appends it to the entry arena, with its
// structured metadata as attributes (trace_id and span_id become the
// entry's trace context; a level in the metadata its severity).
func (d *decoder) addEntry(stream, entry int, tsNs int64, line string, md []records.Label) {
	if len(line) > d.cfg.MaxLineBytes {
		d.reject("line_too_long", 1, "stream %d entry %d: line of %d bytes exceeds the limit of %d", stream, entry, len(line), d.cfg.MaxLineBytes)
		return
	}
	x := records.LogEntry{TimeNs: tsNs, Body: line}
	start := len(d.attrs)
	sevRank := len(severityLabels)
	for _, a := range md {
		switch a.Name {
		case "trace_id":
			x.TraceID = a.Value
			continue
		case "span_id":
			x.SpanID = a.Value
			continue
		case "severity_number":
			if n, err := strconv.ParseUint(a.Value, 10, 8); err == nil && n <= 24 {
				x.SeverityNumber = uint8(n)
				sevRank = -1
			}
		default:
			for rank, name := range severityLabels {
				if a.Name == name && rank < sevRank && a.Value != "" {
					sevRank = rank
					x.SeverityText = a.Value
				}
			}
		}
		d.attrs = append(d.attrs, a)
	}
	if x.SeverityText != "" && x.SeverityNumber == 0 {
		x.SeverityNumber = ingest.SeverityFromText(x.SeverityText)
	}
	if len(d.attrs) > start {
		x.Attributes = d.attrs[start:len(d.attrs):len(d.attrs)]
		records.SortLabels(x.Attributes)
	}
	d.entries = append(d.entries, x)
}

// finishStream publishes the entries appended since start as one stream;
// entries without a severity of their own take the stream's.
func (d *decoder) finishStream(meta *streamMeta, start int) {
	if len(d.entries) == start {
		return
	}
	entries := d.entries[start:len(d.entries):len(d.entries)]
	if meta.sevText != "" {
		for i := range entries {
			if entries[i].SeverityText == "" && entries[i].SeverityNumber == 0 {
				entries[i].SeverityText, entries[i].SeverityNumber = meta.sevText, meta.sevNum
			}
		}
	}
	d.streams = append(d.streams, ingest.LogStream{Service: meta.service, Labels: meta.labels, Entries: entries})
}

// decodeJSON reads Loki's JSON push, {"streams":[{"stream":{…},
// "values":[[ts, line(, metadata)], …]}]}, with json-iterator (what Loki's
// own JSON decoder uses). A structural error refuses the whole push, as
// Loki does; per-line problems refuse only those lines.
func (d *decoder) decodeJSON(body []byte) error {
	if err := ingest.CheckJSONStrings(body); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	it := jsoniter.ConfigDefault.BorrowIterator(body)
	defer jsoniter.ConfigDefault.ReturnIterator(it)
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return errors.New("the body must be a JSON object")
	}
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		if key != "streams" {
			it.Skip()
			return true
		}
		switch it.WhatIsNext() {
		case jsoniter.ArrayValue:
		case jsoniter.NilValue:
			it.Skip()
			return true
		default:
			d.err = errors.New(`"streams" must be an array`)
			return false
		}
		i := 0
		return it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			ok := d.jsonStream(it, i)
			i++
			return ok
		})
	})
	if d.err != nil {
		return d.err
	}
	if it.Error != nil && it.Error != io.EOF {
		return it.Error
	}
	// Only whitespace may follow: reading on must reach the end.
	if it.WhatIsNext(); it.Error != io.EOF {
		return errors.New("data after the top-level object")
	}
	return nil
}

func (d *decoder) jsonStream(it *jsoniter.Iterator, i int) bool {
	if it.WhatIsNext() != jsoniter.ObjectValue {
		d.err = fmt.Errorf("streams[%d] must be an object", i)
		return false
	}
	var ls []records.Label
	start := len(d.entries)
	entries := 0 // lines in the stream, valid or not
	ok := it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		switch key {
		case "stream":
			switch it.WhatIsNext() {
			case jsoniter.ObjectValue:
			case jsoniter.NilValue:
				it.Skip()
				return true
			default:
				d.err = fmt.Errorf("streams[%d].stream must be an object of label names to values", i)
				return false
			}
			return it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
				if it.WhatIsNext() != jsoniter.StringValue {
					d.err = fmt.Errorf("streams[%d].stream: label %q must have a string value", i, name)
					return false
				}
				ls = append(ls, records.Label{Name: name, Value: it.ReadString()})
				return true
			})
		case "values":
			switch it.WhatIsNext() {
			case jsoniter.ArrayValue:
			case jsoniter.NilValue:
				it.Skip()
				return true
			default:
				d.err = fmt.Errorf("streams[%d].values must be an array", i)
				return false
			}
			return it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				ok := d.jsonEntry(it, i, entries)
				entries++
				return ok
			})
		default:
			it.Skip()
			return true
		}
	})
	if !ok || d.err != nil || (it.Error != nil && it.Error != io.EOF) {
		if d.err == nil {
			d.err = it.Error
		}
		return false
	}
	meta := metaFromLabels(lastWins(ls))
	if meta.reason != "" {
		valid := len(d.entries) - start
		clear(d.entries[start:])
		d.entries = d.entries[:start]
		d.reject(meta.reason, valid, "stream %d: %s", i, meta.err)
		return true
	}
	d.finishStream(meta, start)
	return true
}

// jsonEntry reads one [ts, line] or [ts, line, {metadata}] value.
func (d *decoder) jsonEntry(it *jsoniter.Iterator, stream, entry int) bool {
	if it.WhatIsNext() != jsoniter.ArrayValue {
		d.err = fmt.Errorf(`streams[%d].values[%d] must be an array ["<unix ns>", "line"]`, stream, entry)
		return false
	}
	var (
		ts   int64
		line string
		n    int
	)
	d.scratch = d.scratch[:0]
	ok := it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		defer func() { n++ }()
		switch n {
		case 0:
			var s string
			switch it.WhatIsNext() {
			case jsoniter.StringValue:
				s = it.ReadString()
			case jsoniter.NumberValue:
				// json-iterator takes any run of number characters; JSON does not.
				if s = string(it.ReadNumber()); !json.Valid([]byte(s)) {
					d.err = fmt.Errorf("streams[%d].values[%d][0]: invalid JSON number %q", stream, entry, truncate(s, 40))
					return false
				}
			default:
				d.err = fmt.Errorf("streams[%d].values[%d][0]: the timestamp must be a string of unix nanoseconds", stream, entry)
				return false
			}
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				d.err = fmt.Errorf("streams[%d].values[%d][0]: timestamp %q is not unix nanoseconds", stream, entry, truncate(s, 40))
				return false
			}
			ts = v
		case 1:
			if it.WhatIsNext() != jsoniter.StringValue {
				d.err = fmt.Errorf("streams[%d].values[%d][1]: the line must be a string", stream, entry)
				return false
			}
			line = it.ReadString()
		case 2:
			switch it.WhatIsNext() {
			case jsoniter.ObjectValue:
			case jsoniter.NilValue:
				it.Skip()
				return true
			default:
				d.err = fmt.Errorf("streams[%d].values[%d][2]: structured metadata must be an object", stream, entry)
				return false
			}
			return it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
				var v string
				switch it.WhatIsNext() {
				case jsoniter.StringValue:
					v = it.ReadString()
				case jsoniter.NumberValue, jsoniter.BoolValue:
					v = string(it.SkipAndReturnBytes())
				case jsoniter.NilValue:
					it.Skip()
					return true
				default:
					d.err = fmt.Errorf("streams[%d].values[%d][2]: metadata %q must be a string", stream, entry, name)
					return false
				}
				d.scratch = append(d.scratch, records.Label{Name: name, Value: v})
				return true
			})
		default:
			d.err = fmt.Errorf("streams[%d].values[%d]: more than 3 elements", stream, entry)
			return false
		}
		return true
	})
	if !ok || d.err != nil || (it.Error != nil && it.Error != io.EOF) {
		if d.err == nil {
			d.err = it.Error
		}
		return false
	}
	if n < 2 {
		d.err = fmt.Errorf(`streams[%d].values[%d]: want ["<unix ns>", "line"], got %d elements`, stream, entry, n)
		return false
	}
	d.addEntry(stream, entry, ts, line, d.scratch)
	return true
}

// lastWins sorts labels by name keeping the last of a repeated name, as a
// JSON object's repeated key is read (the protobuf label string has no such
// rule: a repeated name there is refused, as Loki does).
func lastWins(ls []records.Label) []records.Label {
	if len(ls) < 2 {
		return ls
	}
	slices.SortStableFunc(ls, func(a, b records.Label) int { return strings.Compare(a.Name, b.Name) })
	out := ls[:0]
	for i, l := range ls {
		if i+1 < len(ls) && ls[i+1].Name == l.Name {
			continue
		}
		out = append(out, l)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
