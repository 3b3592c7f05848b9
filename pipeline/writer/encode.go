package writer

import (
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// tableEncoder turns one topic's records into the blocks that store them.
// One encoder serves one batch at a time; Reset makes it reusable.
type tableEncoder interface {
	// Add decodes one record into pending rows. A malformed record leaves
	// nothing behind and returns an error wrapping records.ErrMalformed.
	Add(value []byte) error
	// Blocks returns the pending blocks in insertion order (dimension tables
	// first, so a reader never sees a point without its series).
	Blocks() []*store.Block
	// Rows counts pending rows of the main table.
	Rows() int
	Reset()
}

// samplesEncoder fills samples_data and, for series it has not written
// recently, the series table.
type samplesEncoder struct {
	seen *seriesCache

	metricName []string
	seriesID   []uint64
	timeMs     []int64
	value      []float64

	sID     []uint64
	sName   []string
	sLabels []map[string]string
	sLastMs []int64

	names    map[string]string // interned metric names
	labelBuf [][]byte
	check    validator
	// current series while decoding
	curID   uint64
	curName string
}

func newSamplesEncoder(seen *seriesCache) *samplesEncoder {
	return &samplesEncoder{seen: seen, names: map[string]string{}}
}

// validator walks a record without storing anything, so Add never has to
// undo half a record.
type validator struct{}

func (validator) Series(uint64, [][]byte) error { return nil }
func (validator) Point(int64, float64)          {}

func (e *samplesEncoder) Add(value []byte) error {
	if err := records.DecodeSamples(value, e.check, &e.labelBuf); err != nil {
		return err
	}
	return records.DecodeSamples(value, e, &e.labelBuf)
}

// Series implements records.SampleVisitor.
func (e *samplesEncoder) Series(id uint64, labels [][]byte) error {
	name := records.MetricName(labels)
	interned, ok := e.names[string(name)]
	if !ok {
		interned = string(name)
		e.names[interned] = interned
	}
	e.curID, e.curName = id, interned
	return nil
}

// Point implements records.SampleVisitor.
func (e *samplesEncoder) Point(ts int64, v float64) {
	e.metricName = append(e.metricName, e.curName)
	e.seriesID = append(e.seriesID, e.curID)
	e.timeMs = append(e.timeMs, ts)
	e.value = append(e.value, v)
	if len(e.seriesID) == 1 || e.seriesID[len(e.seriesID)-2] != e.curID {
		e.maybeSeries(ts)
	}
}

func (e *samplesEncoder) maybeSeries(ts int64) {
	if !e.seen.needsWrite(e.curID, ts) {
		return
	}
	ls := make(map[string]string, len(e.labelBuf)/2)
	for i := 0; i+1 < len(e.labelBuf); i += 2 {
		if string(e.labelBuf[i]) == records.MetricNameLabel {
			continue
		}
		ls[string(e.labelBuf[i])] = string(e.labelBuf[i+1])
	}
	e.sID = append(e.sID, e.curID)
	e.sName = append(e.sName, e.curName)
	e.sLabels = append(e.sLabels, ls)
	e.sLastMs = append(e.sLastMs, ts)
	e.seen.mark(e.curID, ts)
}

func (e *samplesEncoder) Rows() int { return len(e.seriesID) }

func (e *samplesEncoder) Blocks() []*store.Block {
	var out []*store.Block
	if len(e.sID) > 0 {
		out = append(out, &store.Block{Table: "series", Columns: []store.ColumnData{
			{Name: "series_id", Type: "UInt64", Data: e.sID},
			{Name: "metric_name", Type: "LowCardinality(String)", Data: e.sName},
			{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: e.sLabels},
			{Name: "last_seen", Type: "DateTime64(3, 'UTC')", Data: e.sLastMs},
		}})
	}
	if len(e.seriesID) > 0 {
		out = append(out, &store.Block{Table: "samples_data", Columns: []store.ColumnData{
			{Name: "metric_name", Type: "LowCardinality(String)", Data: e.metricName},
			{Name: "series_id", Type: "UInt64", Data: e.seriesID},
			{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
			{Name: "value", Type: "Float64", Data: e.value},
		}})
	}
	return out
}

func (e *samplesEncoder) Reset() {
	e.metricName = e.metricName[:0]
	e.seriesID = e.seriesID[:0]
	e.timeMs = e.timeMs[:0]
	e.value = e.value[:0]
	e.sID = e.sID[:0]
	e.sName = e.sName[:0]
	e.sLabels = e.sLabels[:0]
	e.sLastMs = e.sLastMs[:0]
	if len(e.names) > 100_000 {
		clear(e.names)
	}
}

// seriesCache remembers which series rows this process wrote and when, so
// the series table gets one row per series per refresh interval rather than
// one per point. Shared by the encoders of one writer; used from one
// goroutine at a time (the fetcher).
type seriesCache struct {
	refreshMs int64
	max       int
	written   map[uint64]int64
}

func newSeriesCache(refreshMs int64, max int) *seriesCache {
	return &seriesCache{refreshMs: refreshMs, max: max, written: map[uint64]int64{}}
}

func (c *seriesCache) needsWrite(id uint64, ts int64) bool {
	last, ok := c.written[id]
	return !ok || ts-last >= c.refreshMs
}

func (c *seriesCache) mark(id uint64, ts int64) {
	if len(c.written) >= c.max {
		// Forgetting only costs a harmless re-insert into a
		// ReplacingMergeTree; unbounded memory would cost the process.
		clear(c.written)
	}
	c.written[id] = ts
}
