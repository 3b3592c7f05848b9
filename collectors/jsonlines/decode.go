package jsonlines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// UnknownService is the service of a line that names none.
const UnknownService = "unknown_service"

// maxDetails bounds how many refused lines a 400 reply names.
const maxDetails = 10

// A line's fields. Aliases let the JSON output of common loggers (slog,
// zap, logrus, pino with a service field) be sent unchanged:
//
//	time       time | timestamp | ts   RFC 3339 string, or unix time (below); absent: arrival time
//	service    service                 string; absent or empty: unknown_service
//	severity   severity | level        level name (error, WARN, …) or OTel number 0–24
//	message    message | msg           required; a non-string is kept as its JSON text
//	attributes attributes              object; values kept as strings (below)
//	labels     labels                  object of strings: stream labels, with service
//	trace_id, span_id                  strings
//
// Any other field becomes an attribute, as do the members of attributes;
// when a name repeats, the last one wins. Attribute values: strings as
// they are, numbers and booleans as their JSON text, objects and arrays as
// their JSON text, null dropped.
//
// Unix time, as a JSON number or a string of digits: the unit follows from
// the magnitude, so seconds, milliseconds, microseconds and nanoseconds all
// work for any date between 1973 and 5138: |v| < 1e11 seconds (fractions
// allowed), < 1e14 milliseconds, < 1e17 microseconds, otherwise
// nanoseconds.

// decoder turns a body of JSON lines into LogStreams, one per service and
// label set. Reused across requests (its memory stays with the pooled
// state).
type decoder struct {
	maxLineBytes int

	it      *jsoniter.Iterator
	streams []ingest.LogStream
	index   map[string]int // stream key → index in streams
	key     []byte
	attrs   []records.Label // arena for entries' attributes
	labels  []records.Label

	lines       int // non-blank lines seen
	rejected    map[string]int
	details     []string
	moreDetails int
}

func (d *decoder) reset() {
	for i := range d.streams {
		d.streams[i] = ingest.LogStream{}
	}
	d.streams = d.streams[:0]
	clear(d.index)
	clear(d.attrs)
	d.attrs = d.attrs[:0]
	d.lines = 0
	clear(d.rejected)
	d.details = d.details[:0]
	d.moreDetails = 0
}

// lineError is why one line was refused.
type lineError struct {
	reason string // metric label
	msg    string
}

func fail(reason, format string, args ...any) *lineError {
	return &lineError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) reject(lineNo int, e *lineError) {
	if d.rejected == nil {
		d.rejected = map[string]int{}
	}
	d.rejected[e.reason]++
	if len(d.details) < maxDetails {
		d.details = append(d.details, fmt.Sprintf("line %d: %s", lineNo, e.msg))
	} else {
		d.moreDetails++
	}
}

// decode reads every line of body; now is the arrival time given to lines
// without a time. Valid lines end up in d.streams, refused ones in
// d.rejected and d.details.
func (d *decoder) decode(body []byte, now time.Time) {
	if d.it == nil {
		d.it = jsoniter.NewIterator(jsoniter.ConfigDefault)
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	nowNs := now.UnixNano()
	for lineNo := 1; len(body) > 0; lineNo++ {
		raw := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		d.lines++
		if len(raw) > d.maxLineBytes {
			d.reject(lineNo, fail("line_too_long", "%d bytes, the limit is %d", len(raw), d.maxLineBytes))
			continue
		}
		if err := d.line(raw, nowNs); err != nil {
			d.reject(lineNo, err)
		}
	}
}

// line decodes one JSON object and files the entry under its stream.
func (d *decoder) line(raw []byte, nowNs int64) *lineError {
	if err := ingest.CheckJSONStrings(raw); err != nil {
		return fail("bad_json", "%v", err)
	}
	it := d.it.ResetBytes(raw)
	it.Error = nil // ResetBytes keeps the previous line's (io.EOF at least)
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return fail("bad_json", "not a JSON object")
	}
	var (
		x          = records.LogEntry{TimeNs: nowNs}
		service    string
		hasMessage bool
		err        *lineError
	)
	attrStart := len(d.attrs)
	d.labels = d.labels[:0]
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		switch key {
		case "time", "timestamp", "ts":
			x.TimeNs, err = readTime(it, key)
		case "service":
			service, err = readString(it, key)
		case "severity", "level":
			x.SeverityNumber, x.SeverityText, err = readSeverity(it, key)
		case "message", "msg":
			switch it.WhatIsNext() {
			case jsoniter.StringValue:
				x.Body, hasMessage = it.ReadString(), true
			case jsoniter.NilValue:
				it.Skip()
			default:
				x.Body, hasMessage = rawText(it), true
			}
		case "trace_id":
			x.TraceID, err = readString(it, key)
		case "span_id":
			x.SpanID, err = readString(it, key)
		case "attributes":
			switch it.WhatIsNext() {
			case jsoniter.ObjectValue:
				it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
					d.attribute(it, name)
					return true
				})
			case jsoniter.NilValue:
				it.Skip()
			default:
				err = fail("bad_field", "attributes must be an object")
			}
		case "labels":
			err = d.readLabels(it)
		default:
			d.attribute(it, key)
		}
		// io.EOF after a number that ends the input: let ReadObjectCB report the missing }.
		return err == nil && (it.Error == nil || it.Error == io.EOF)
	})
	if err == nil && it.Error != nil && it.Error != io.EOF {
		err = fail("bad_json", "%s", jsonError(it.Error))
	}
	if err == nil {
		// Only whitespace may follow: reading on must reach the end.
		it.WhatIsNext()
		if it.Error != io.EOF {
			err = fail("bad_json", "data after the JSON object")
		}
	}
	if err == nil && !hasMessage {
		err = fail("missing_message", `no "message" (or "msg") field`)
	}
	if err != nil {
		clear(d.attrs[attrStart:])
		d.attrs = d.attrs[:attrStart]
		return err
	}
	if len(d.attrs) > attrStart {
		x.Attributes = dedupe(d.attrs[attrStart:len(d.attrs):len(d.attrs)])
	}
	if service == "" {
		service = UnknownService
	}
	s := d.stream(service)
	s.Entries = append(s.Entries, x)
	return nil
}

// stream finds or creates the stream of service and d.labels.
func (d *decoder) stream(service string) *ingest.LogStream {
	key := append(d.key[:0], service...)
	if len(d.labels) > 0 {
		d.labels = dedupe(d.labels)
		for _, l := range d.labels {
			key = append(key, 0xff)
			key = append(key, l.Name...)
			key = append(key, 0xff)
			key = append(key, l.Value...)
		}
	}
	d.key = key
	if i, ok := d.index[string(key)]; ok {
		return &d.streams[i]
	}
	d.index[string(key)] = len(d.streams)
	d.streams = append(d.streams, ingest.LogStream{Service: service, Labels: slices.Clone(d.labels)})
	return &d.streams[len(d.streams)-1]
}

func (d *decoder) readLabels(it *jsoniter.Iterator) *lineError {
	switch it.WhatIsNext() {
	case jsoniter.ObjectValue:
	case jsoniter.NilValue:
		it.Skip()
		return nil
	default:
		return fail("bad_field", "labels must be an object of strings")
	}
	var err *lineError
	it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
		if it.WhatIsNext() != jsoniter.StringValue {
			err = fail("bad_field", "label %q must be a string", name)
			return false
		}
		v := it.ReadString()
		if name == "" {
			err = fail("bad_field", "empty label name")
			return false
		}
		if v != "" { // an empty value means no label, as in Prometheus
			d.labels = append(d.labels, records.Label{Name: name, Value: v})
		}
		return true
	})
	return err
}

// attribute appends one attribute, stringified as the package doc says.
func (d *decoder) attribute(it *jsoniter.Iterator, name string) {
	var v string
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		v = it.ReadString()
	case jsoniter.NilValue:
		it.Skip()
		return
	default:
		v = rawText(it)
	}
	d.attrs = append(d.attrs, records.Label{Name: name, Value: v})
}

// rawText returns the next value as its JSON text.
func rawText(it *jsoniter.Iterator) string {
	return strings.TrimSpace(string(it.SkipAndReturnBytes()))
}

// dedupe sorts ls by name and keeps the last of repeated names.
func dedupe(ls []records.Label) []records.Label {
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

func readString(it *jsoniter.Iterator, key string) (string, *lineError) {
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		return it.ReadString(), nil
	case jsoniter.NilValue:
		it.Skip()
		return "", nil
	}
	return "", fail("bad_field", "%s must be a string", key)
}

func readSeverity(it *jsoniter.Iterator, key string) (uint8, string, *lineError) {
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		text := it.ReadString()
		return ingest.SeverityFromText(text), text, nil
	case jsoniter.NumberValue:
		n, valid := readNumber(it)
		if !valid {
			return 0, "", fail("bad_json", "invalid JSON number %q", truncate(n, 40))
		}
		v, err := strconv.ParseUint(n, 10, 8)
		if err != nil || v > 24 {
			return 0, "", fail("bad_severity", "%s %s is not an OpenTelemetry severity number (0–24) or a level name", key, n)
		}
		return uint8(v), "", nil
	case jsoniter.NilValue:
		it.Skip()
		return 0, "", nil
	}
	return 0, "", fail("bad_severity", "%s must be a level name or a number 0–24", key)
}

func readTime(it *jsoniter.Iterator, key string) (int64, *lineError) {
	var text string
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		text = it.ReadString()
		if ns, ok := parseRFC3339(text); ok {
			return ns, nil
		}
	case jsoniter.NumberValue:
		var valid bool
		if text, valid = readNumber(it); !valid {
			return 0, fail("bad_json", "invalid JSON number %q", truncate(text, 40))
		}
	default:
		return 0, fail("bad_time", "%s must be an RFC 3339 string or a unix time number", key)
	}
	ns, ok := unixNumber(text)
	if !ok {
		return 0, fail("bad_time", "%s %q is neither RFC 3339 (2026-11-02T10:00:00.123Z) nor a unix time in s, ms, µs or ns", key, truncate(text, 40))
	}
	return ns, nil
}

// readNumber reads a number strictly: json-iterator's ReadNumber takes any
// run of number characters ("00", "1-2"), JSON does not.
func readNumber(it *jsoniter.Iterator) (string, bool) {
	n := it.ReadNumber()
	return string(n), json.Valid([]byte(n))
}

func parseRFC3339(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return toNs(t)
}

func toNs(t time.Time) (int64, bool) {
	sec := t.Unix()
	if sec <= math.MinInt64/1_000_000_000 || sec >= math.MaxInt64/1_000_000_000 {
		return 0, false // not representable in int64 nanoseconds (1678–2262)
	}
	return t.UnixNano(), true
}

// unixNumber reads a unix time whose unit follows from its magnitude (see
// the package rules above).
func unixNumber(s string) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		a := v
		if a < 0 {
			a = -a
		}
		switch {
		case a < 1e11:
			return v * 1e9, true
		case a < 1e14:
			return v * 1e6, true
		case a < 1e17:
			return v * 1e3, true
		default:
			return v, true
		}
	}
	if ns, ok := unixDecimal(s); ok {
		return ns, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	a := math.Abs(f)
	switch {
	case a < 1e11:
		f *= 1e9
	case a < 1e14:
		f *= 1e6
	case a < 1e17:
		f *= 1e3
	}
	if f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// unixDecimal reads a plain decimal (digits, a point, digits) exactly, so
// 1793613600.25 is 250 ms past the second, not a float's approximation.
func unixDecimal(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	intPart, frac, ok := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !ok || intPart == "" || frac == "" || len(intPart) > 18 || strings.Trim(intPart+frac, "0123456789") != "" {
		return 0, false
	}
	whole, _ := strconv.ParseInt(intPart, 10, 64)
	var unitDigits int // digits of the fraction that are whole nanoseconds
	var scale int64
	switch {
	case whole < 1e11:
		unitDigits, scale = 9, 1e9
	case whole < 1e14:
		unitDigits, scale = 6, 1e6
	case whole < 1e17:
		unitDigits, scale = 3, 1e3
	default:
		unitDigits, scale = 0, 1
	}
	frac = (frac + "000000000")[:unitDigits]
	f, _ := strconv.ParseInt("0"+frac, 10, 64)
	if whole > (math.MaxInt64-f)/scale {
		return 0, false
	}
	ns := whole*scale + f
	if neg {
		ns = -ns
	}
	return ns, true
}

func jsonError(err error) string {
	s := err.Error()
	// json-iterator appends ~100 bytes of context; the line number is
	// context enough for the sender.
	if i := strings.Index(s, ", error found in"); i > 0 {
		s = s[:i]
	}
	return "invalid JSON: " + s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
