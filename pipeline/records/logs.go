package records

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// TopicLogs carries LogBatch records: log entries of one or more streams
// that share a partition. A stream is a service plus its stream labels
// (OTLP resource attributes, Loki stream labels, syslog host/app).
const TopicLogs = "firebreak.logs"

// A LogBatch record (topic firebreak.logs). Layout, integers little-endian:
//
//	magic 0xFB, kind 'L', version 1
//	uvarint stream count
//	per stream:
//	  uint64 stream id, string service,
//	  uvarint label count, then name/value strings (sorted by name)
//	  uvarint entry count, per entry:
//	    uint64 entry id, int64 unix ns, uint8 severity number (OTel 0–24),
//	    string severity text, string body, string trace id, string span id,
//	    uvarint attribute count, then name/value strings
//
// Strings are uvarint length + bytes. The entry id is the content key the
// store deduplicates on (see EntryIDs).
const (
	kindLogs    = 'L'
	logsVersion = 1
)

// LogEntry is one log line.
type LogEntry struct {
	TimeNs         int64
	SeverityNumber uint8 // OpenTelemetry severity number, 0 = unspecified
	SeverityText   string
	Body           string
	TraceID        string // hex, empty when absent
	SpanID         string
	Attributes     []Label
}

// StreamID identifies a log stream: xxhash64 of the service and the sorted
// stream labels, separated as in SeriesID.
func StreamID(service string, labels []Label) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(service)
	d.Write(labelSep)
	for _, l := range labels {
		d.WriteString(l.Name)
		d.Write(labelSep)
		d.WriteString(l.Value)
		d.Write(labelSep)
	}
	return d.Sum64()
}

// EntryIDs gives each entry of one request its content key: a hash of the
// stream, time, severity, body, trace context and attributes, plus how many
// identical entries came before it in the same request. A sender that
// retries the request produces the same ids (so the store keeps one copy),
// while the same line logged twice in one request keeps both copies. Reset
// it for every request; the zero value is ready.
type EntryIDs struct {
	seen map[uint64]uint32
}

// Reset forgets the previous request.
func (e *EntryIDs) Reset() { clear(e.seen) }

// Next returns the id of entry x of stream.
func (e *EntryIDs) Next(stream uint64, x *LogEntry) uint64 {
	var d xxhash.Digest
	d.Reset()
	var num [17]byte
	binary.LittleEndian.PutUint64(num[0:], stream)
	binary.LittleEndian.PutUint64(num[8:], uint64(x.TimeNs))
	num[16] = x.SeverityNumber
	d.Write(num[:])
	for _, s := range []string{x.SeverityText, x.Body, x.TraceID, x.SpanID} {
		d.WriteString(s)
		d.Write(labelSep)
	}
	for _, a := range x.Attributes {
		d.WriteString(a.Name)
		d.Write(labelSep)
		d.WriteString(a.Value)
		d.Write(labelSep)
	}
	base := d.Sum64()
	if e.seen == nil {
		e.seen = map[uint64]uint32{}
	}
	n := e.seen[base]
	e.seen[base] = n + 1
	if n == 0 {
		return base
	}
	var occ [12]byte
	binary.LittleEndian.PutUint64(occ[0:], base)
	binary.LittleEndian.PutUint32(occ[8:], n)
	return xxhash.Sum64(occ[:])
}

// LogBatchBuilder appends streams to one LogBatch record.
type LogBatchBuilder struct {
	body    []byte
	streams int
	entries int
	firstID uint64
}

// Reset empties the builder, keeping its memory.
func (b *LogBatchBuilder) Reset() {
	b.body = b.body[:0]
	b.streams, b.entries, b.firstID = 0, 0, 0
}

// Add appends one stream with its entries; ids[i] is entries[i]'s EntryIDs
// id. Labels must be sorted; id must be StreamID(service, labels).
func (b *LogBatchBuilder) Add(id uint64, service string, labels []Label, entries []LogEntry, ids []uint64) {
	if b.streams == 0 {
		b.firstID = id
	}
	b.streams++
	b.entries += len(entries)
	b.body = binary.LittleEndian.AppendUint64(b.body, id)
	b.body = appendString(b.body, service)
	b.body = appendLabels(b.body, labels)
	b.body = binary.AppendUvarint(b.body, uint64(len(entries)))
	for i := range entries {
		x := &entries[i]
		b.body = binary.LittleEndian.AppendUint64(b.body, ids[i])
		b.body = binary.LittleEndian.AppendUint64(b.body, uint64(x.TimeNs))
		b.body = append(b.body, x.SeverityNumber)
		b.body = appendString(b.body, x.SeverityText)
		b.body = appendString(b.body, x.Body)
		b.body = appendString(b.body, x.TraceID)
		b.body = appendString(b.body, x.SpanID)
		b.body = appendLabels(b.body, x.Attributes)
	}
}

func appendLabels(dst []byte, ls []Label) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ls)))
	for _, l := range ls {
		dst = appendString(dst, l.Name)
		dst = appendString(dst, l.Value)
	}
	return dst
}

// Streams, Entries and Size report what the builder holds.
func (b *LogBatchBuilder) Streams() int { return b.streams }
func (b *LogBatchBuilder) Entries() int { return b.entries }
func (b *LogBatchBuilder) Size() int    { return len(b.body) + 13 }

// Key is the record key: the first stream's id, big-endian.
func (b *LogBatchBuilder) Key() []byte { return binary.BigEndian.AppendUint64(nil, b.firstID) }

// AppendRecord appends the finished record value to dst.
func (b *LogBatchBuilder) AppendRecord(dst []byte) []byte {
	dst = append(dst, recordMagic, kindLogs, logsVersion)
	dst = binary.AppendUvarint(dst, uint64(b.streams))
	return append(dst, b.body...)
}

// LogVisitor receives a decoded LogBatch. Byte slices point into the record
// and are valid only during the call.
type LogVisitor interface {
	Stream(id uint64, service []byte, labels [][]byte) error
	Entry(e *LogEntryRef)
}

// LogEntryRef is a decoded entry whose fields point into the record.
type LogEntryRef struct {
	ID             uint64
	TimeNs         int64
	SeverityNumber uint8
	SeverityText   []byte
	Body           []byte
	TraceID        []byte
	SpanID         []byte
	Attributes     [][]byte // name/value alternately
}

// DecodeLogs walks one LogBatch record, validating its whole structure; it
// never panics on bad input.
func DecodeLogs(rec []byte, v LogVisitor, scratch *LogScratch) error {
	if len(rec) < 3 || rec[0] != recordMagic || rec[1] != kindLogs {
		return fmt.Errorf("%w: not a log batch (bad magic)", ErrMalformed)
	}
	if rec[2] != logsVersion {
		return fmt.Errorf("%w: log batch version %d not supported (this build reads %d)", ErrMalformed, rec[2], logsVersion)
	}
	r := reader{buf: rec[3:]}
	nStreams, ok := r.uvarint()
	if !ok || nStreams > uint64(len(r.buf)) {
		return fmt.Errorf("%w: bad stream count", ErrMalformed)
	}
	for s := uint64(0); s < nStreams; s++ {
		id, ok := r.uint64()
		if !ok {
			return fmt.Errorf("%w: stream %d: truncated id", ErrMalformed, s)
		}
		service, ok := r.bytes()
		if !ok {
			return fmt.Errorf("%w: stream %d: truncated service", ErrMalformed, s)
		}
		if scratch.labels, ok = r.pairs(scratch.labels[:0]); !ok {
			return fmt.Errorf("%w: stream %d: bad labels", ErrMalformed, s)
		}
		nEntries, ok := r.uvarint()
		if !ok || nEntries > uint64(len(r.buf)) {
			return fmt.Errorf("%w: stream %d: bad entry count", ErrMalformed, s)
		}
		if err := v.Stream(id, service, scratch.labels); err != nil {
			return err
		}
		e := &scratch.entry
		for i := uint64(0); i < nEntries; i++ {
			var ts uint64
			if e.ID, ok = r.uint64(); !ok {
				return fmt.Errorf("%w: stream %d entry %d: truncated", ErrMalformed, s, i)
			}
			if ts, ok = r.uint64(); !ok || len(r.buf) < 1 {
				return fmt.Errorf("%w: stream %d entry %d: truncated", ErrMalformed, s, i)
			}
			e.TimeNs = int64(ts)
			e.SeverityNumber = r.buf[0]
			r.buf = r.buf[1:]
			for _, f := range []*[]byte{&e.SeverityText, &e.Body, &e.TraceID, &e.SpanID} {
				if *f, ok = r.bytes(); !ok {
					return fmt.Errorf("%w: stream %d entry %d: truncated field", ErrMalformed, s, i)
				}
			}
			if e.Attributes, ok = r.pairs(e.Attributes[:0]); !ok {
				return fmt.Errorf("%w: stream %d entry %d: bad attributes", ErrMalformed, s, i)
			}
			v.Entry(e)
		}
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return nil
}

// LogScratch is reusable decoding memory.
type LogScratch struct {
	labels [][]byte
	entry  LogEntryRef
}

func (r *reader) pairs(dst [][]byte) ([][]byte, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.buf)) {
		return dst, false
	}
	for i := uint64(0); i < 2*n; i++ {
		b, ok := r.bytes()
		if !ok {
			return dst, false
		}
		dst = append(dst, b)
	}
	return dst, true
}
