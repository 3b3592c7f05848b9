package writer

import (
	"math"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// FuzzBandsEncoder: whatever the bytes, the encoder never panics; a record
// it refuses leaves the rows before it untouched; a record it takes holds
// exactly the bands DecodeBands reports, and re-encoding those rows yields
// the same rows again.
func FuzzBandsEncoder(f *testing.F) {
	var bb records.BandBatchBuilder
	for _, c := range testBands(3, 2) {
		bb.Add(c.id, c.metric, c.bands)
	}
	f.Add(bb.AppendRecord(nil))
	bb.Reset()
	bb.Add(1, "", nil)
	f.Add(bb.AppendRecord(nil))
	f.Add([]byte("\xfbB\x01\x00"))
	f.Add([]byte("\xfbB\x01\x02"))
	f.Add([]byte("\xfbS\x01\x00"))

	prefix := bandRecords(testBands(2, 1), 2)[0].Value
	f.Fuzz(func(t *testing.T, rec []byte) {
		enc := newBandsEncoder()
		if err := enc.Add(prefix); err != nil {
			t.Fatal(err)
		}
		before := enc.Rows()
		err := enc.Add(rec)
		if err != nil {
			if enc.Rows() != before {
				t.Fatalf("refused record left %d rows behind", enc.Rows()-before)
			}
			return
		}
		var ref bandCollector
		if err := records.DecodeBands(rec, &ref); err != nil {
			t.Fatalf("encoder took a record DecodeBands refuses: %v", err)
		}
		if enc.Rows()-before != len(ref.bands) {
			t.Fatalf("encoder holds %d rows, decoder saw %d bands", enc.Rows()-before, len(ref.bands))
		}
		// Re-encode the encoder's rows, one series per row, and encode again.
		var bb records.BandBatchBuilder
		for i := before; i < enc.Rows(); i++ {
			bb.Add(enc.seriesID[i], enc.metricName[i], []records.Band{enc.band(i)})
		}
		again := newBandsEncoder()
		if err := again.Add(bb.AppendRecord(nil)); err != nil {
			t.Fatalf("re-encoded rows do not decode: %v", err)
		}
		for i := range again.Rows() {
			j := before + i
			if again.seriesID[i] != enc.seriesID[j] || again.metricName[i] != enc.metricName[j] ||
				!sameBand(again.band(i), enc.band(j)) || !sameBand(enc.band(j), ref.bands[i]) {
				t.Fatalf("row %d: %+v after re-encoding, %+v before, decoder %+v", i, again.band(i), enc.band(j), ref.bands[i])
			}
		}
	})
}

// band rebuilds row i as the record carried it.
func (e *bandsEncoder) band(i int) records.Band {
	return records.Band{TimestampMs: e.timeMs[i], Value: e.value[i], Expected: e.expected[i], Lower: e.lower[i],
		Upper: e.upper[i], Score: float32(e.score[i]), Learning: e.learning[i] == 1}
}

type bandCollector struct{ bands []records.Band }

func (c *bandCollector) BandSeries(uint64, []byte) error { return nil }
func (c *bandCollector) Band(b records.Band)             { c.bands = append(c.bands, b) }

// sameBand compares bit for bit, so NaN equals NaN. A score NaN only has to
// stay NaN: widening a float32 signalling NaN to float64 quiets it.
func sameBand(a, b records.Band) bool {
	f := math.Float64bits
	nan := func(x float32) bool { return x != x }
	sameScore := math.Float32bits(a.Score) == math.Float32bits(b.Score) || nan(a.Score) && nan(b.Score)
	return a.TimestampMs == b.TimestampMs && f(a.Value) == f(b.Value) && f(a.Expected) == f(b.Expected) &&
		f(a.Lower) == f(b.Lower) && f(a.Upper) == f(b.Upper) && sameScore && a.Learning == b.Learning
}
