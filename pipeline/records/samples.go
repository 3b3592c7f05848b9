package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// A SampleBatch record (topic firebreak.metrics) holds the points of one or
// more series that share a partition. Layout, all integers little-endian:
//
//	magic 0xFB, kind 'S', version 1
//	uvarint series count
//	per series:
//	  uint64 series id
//	  uvarint label count, then per label: uvarint len, name, uvarint len, value
//	    (sorted by name; __name__ is the metric name)
//	  uvarint point count, then per point: int64 unix ms, float64 bits
//
// Labels travel with every record so the writer needs no lookup to fill the
// series table and a record is self-describing in the dead-letter topic.
const (
	recordMagic    = 0xFB
	kindSamples    = 'S'
	samplesVersion = 1
)

// MetricNameLabel is Prometheus' label for the metric name.
const MetricNameLabel = "__name__"

// Label is one name/value pair.
type Label struct {
	Name, Value string
}

// Point is one sample.
type Point struct {
	TimestampMs int64
	Value       float64
}

// SortLabels sorts labels by name in place unless they already are, which is
// the common case for Prometheus senders.
func SortLabels(ls []Label) {
	if sort.SliceIsSorted(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name }) {
		return
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
}

// LabelBytes is a label whose name and value point into a decoded request,
// for collectors' hot paths that must not allocate per label.
type LabelBytes struct {
	Name, Value []byte
}

// SortLabelBytes sorts by name in place unless already sorted.
func SortLabelBytes(ls []LabelBytes) {
	less := func(i, j int) bool { return string(ls[i].Name) < string(ls[j].Name) }
	if sort.SliceIsSorted(ls, less) {
		return
	}
	sort.Slice(ls, less)
}

// SeriesID is the identity of a series: the xxhash64 of its sorted label
// set, each name and value followed by 0xFF (a byte that cannot occur in
// valid UTF-8, so "a=bc" and "ab=c" differ). Labels must be sorted.
func SeriesID(ls []Label) uint64 {
	var d xxhash.Digest
	d.Reset()
	for _, l := range ls {
		d.WriteString(l.Name)
		d.Write(labelSep)
		d.WriteString(l.Value)
		d.Write(labelSep)
	}
	return d.Sum64()
}

// SeriesIDBytes is SeriesID for LabelBytes; both give the same id.
func SeriesIDBytes(ls []LabelBytes) uint64 {
	var d xxhash.Digest
	d.Reset()
	for _, l := range ls {
		d.Write(l.Name)
		d.Write(labelSep)
		d.Write(l.Value)
		d.Write(labelSep)
	}
	return d.Sum64()
}

var labelSep = []byte{0xFF}

// SampleBatchBuilder appends series to one SampleBatch record. The zero
// value is ready; Reset reuses its buffer.
type SampleBatchBuilder struct {
	body    []byte
	series  int
	points  int
	firstID uint64
}

// Reset empties the builder, keeping its memory.
func (b *SampleBatchBuilder) Reset() {
	b.body = b.body[:0]
	b.series, b.points, b.firstID = 0, 0, 0
}

// Add appends one series with its points. Labels must be sorted and id must
// be SeriesID(labels).
func (b *SampleBatchBuilder) Add(id uint64, labels []Label, points []Point) {
	b.startSeries(id, len(labels))
	for _, l := range labels {
		b.body = appendString(b.body, l.Name)
		b.body = appendString(b.body, l.Value)
	}
	b.appendPoints(points)
}

// AddBytes is Add for LabelBytes (id = SeriesIDBytes(labels)).
func (b *SampleBatchBuilder) AddBytes(id uint64, labels []LabelBytes, points []Point) {
	b.startSeries(id, len(labels))
	for _, l := range labels {
		b.body = appendBytes(b.body, l.Name)
		b.body = appendBytes(b.body, l.Value)
	}
	b.appendPoints(points)
}

func (b *SampleBatchBuilder) startSeries(id uint64, nLabels int) {
	if b.series == 0 {
		b.firstID = id
	}
	b.series++
	b.body = binary.LittleEndian.AppendUint64(b.body, id)
	b.body = binary.AppendUvarint(b.body, uint64(nLabels))
}

func (b *SampleBatchBuilder) appendPoints(points []Point) {
	b.points += len(points)
	b.body = binary.AppendUvarint(b.body, uint64(len(points)))
	for _, p := range points {
		b.body = binary.LittleEndian.AppendUint64(b.body, uint64(p.TimestampMs))
		b.body = binary.LittleEndian.AppendUint64(b.body, math.Float64bits(p.Value))
	}
}

// Size is the record's current size in bytes, near enough.
func (b *SampleBatchBuilder) Size() int { return len(b.body) + 13 }

// Series and Points report what the builder holds.
func (b *SampleBatchBuilder) Series() int { return b.series }
func (b *SampleBatchBuilder) Points() int { return b.points }

// Key is the record key: the first series' id, big-endian, so the
// producer's balancer places the record in Partition(firstID).
func (b *SampleBatchBuilder) Key() []byte {
	return binary.BigEndian.AppendUint64(nil, b.firstID)
}

// AppendRecord appends the finished record value to dst.
func (b *SampleBatchBuilder) AppendRecord(dst []byte) []byte {
	dst = append(dst, recordMagic, kindSamples, samplesVersion)
	dst = binary.AppendUvarint(dst, uint64(b.series))
	return append(dst, b.body...)
}

// KeyID returns the series id a record key carries.
func KeyID(key []byte) (uint64, bool) {
	if len(key) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(key), true
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed record")

// SampleVisitor receives a decoded SampleBatch. Label and name byte slices
// point into the record and are valid only during the call; copy what you
// keep. Returning an error stops decoding.
type SampleVisitor interface {
	// Series starts a series; labels holds name/value pairs alternately.
	Series(id uint64, labels [][]byte) error
	// Point adds one point to the current series.
	Point(timestampMs int64, value float64)
}

// DecodeSamples walks one SampleBatch record, calling v for every series
// and point. It validates the whole structure (lengths, counts, the series
// id against its labels when verifyIDs is set) and never panics on bad
// input. labelBuf is reused across calls to avoid allocation.
func DecodeSamples(rec []byte, v SampleVisitor, labelBuf *[][]byte) error {
	if len(rec) < 3 || rec[0] != recordMagic || rec[1] != kindSamples {
		return fmt.Errorf("%w: not a sample batch (bad magic)", ErrMalformed)
	}
	if rec[2] != samplesVersion {
		return fmt.Errorf("%w: sample batch version %d not supported (this build reads %d)", ErrMalformed, rec[2], samplesVersion)
	}
	r := reader{buf: rec[3:]}
	nSeries, ok := r.uvarint()
	if !ok || nSeries > uint64(len(r.buf)) {
		return fmt.Errorf("%w: bad series count", ErrMalformed)
	}
	for s := uint64(0); s < nSeries; s++ {
		id, ok := r.uint64()
		if !ok {
			return fmt.Errorf("%w: series %d: truncated id", ErrMalformed, s)
		}
		nLabels, ok := r.uvarint()
		if !ok || nLabels > uint64(len(r.buf)) {
			return fmt.Errorf("%w: series %d: bad label count", ErrMalformed, s)
		}
		labels := (*labelBuf)[:0]
		for l := uint64(0); l < 2*nLabels; l++ {
			b, ok := r.bytes()
			if !ok {
				return fmt.Errorf("%w: series %d: truncated label", ErrMalformed, s)
			}
			labels = append(labels, b)
		}
		*labelBuf = labels
		nPoints, ok := r.uvarint()
		if !ok || nPoints > uint64(len(r.buf))/16 {
			return fmt.Errorf("%w: series %d: bad point count", ErrMalformed, s)
		}
		if err := v.Series(id, labels); err != nil {
			return err
		}
		for p := uint64(0); p < nPoints; p++ {
			ts := int64(binary.LittleEndian.Uint64(r.buf))
			val := math.Float64frombits(binary.LittleEndian.Uint64(r.buf[8:]))
			r.buf = r.buf[16:]
			v.Point(ts, val)
		}
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return nil
}

// MetricName returns the __name__ value of alternating name/value pairs.
func MetricName(labels [][]byte) []byte {
	for i := 0; i+1 < len(labels); i += 2 {
		if string(labels[i]) == MetricNameLabel {
			return labels[i+1]
		}
	}
	return nil
}

// FormatLabels renders labels Prometheus-style, for messages and logs.
func FormatLabels(ls []Label) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s=%q", l.Name, l.Value)
	}
	sb.WriteByte('}')
	return sb.String()
}

type reader struct{ buf []byte }

func (r *reader) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		return 0, false
	}
	r.buf = r.buf[n:]
	return v, true
}

func (r *reader) uint64() (uint64, bool) {
	if len(r.buf) < 8 {
		return 0, false
	}
	v := binary.LittleEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return v, true
}

func (r *reader) bytes() ([]byte, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.buf)) {
		return nil, false
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b, true
}
