package records

import (
	"errors"
	"math"
	"testing"
)

type collected struct {
	series []uint64
	labels [][]string
	points map[uint64][]Point
	cur    uint64
}

func (c *collected) Series(id uint64, labels [][]byte) error {
	c.series = append(c.series, id)
	ls := make([]string, len(labels))
	for i, l := range labels {
		ls[i] = string(l)
	}
	c.labels = append(c.labels, ls)
	c.cur = id
	return nil
}

func (c *collected) Point(ts int64, v float64) {
	if c.points == nil {
		c.points = map[uint64][]Point{}
	}
	c.points[c.cur] = append(c.points[c.cur], Point{ts, v})
}

func TestSampleBatchRoundTrip(t *testing.T) {
	a := []Label{{"job", "api"}, {MetricNameLabel, "up"}}
	SortLabels(a)
	if a[0].Name != MetricNameLabel {
		t.Fatalf("labels not sorted: %v", a)
	}
	b := []Label{{MetricNameLabel, "http_requests_total"}, {"code", "200"}}
	SortLabels(b)
	idA, idB := SeriesID(a), SeriesID(b)
	if idA == idB {
		t.Fatal("distinct label sets share an id")
	}
	var bb SampleBatchBuilder
	bb.Add(idA, a, []Point{{1000, 1}, {2000, math.Inf(1)}})
	bb.Add(idB, b, []Point{{1000, 42.5}})
	if bb.Series() != 2 || bb.Points() != 3 {
		t.Fatalf("builder counts %d series %d points", bb.Series(), bb.Points())
	}
	if id, ok := KeyID(bb.Key()); !ok || id != idA {
		t.Fatalf("key carries %d, want first series %d", id, idA)
	}
	rec := bb.AppendRecord(nil)

	var c collected
	var buf [][]byte
	if err := DecodeSamples(rec, &c, &buf); err != nil {
		t.Fatal(err)
	}
	if len(c.series) != 2 || c.series[0] != idA || c.series[1] != idB {
		t.Fatalf("series %v", c.series)
	}
	if got := c.labels[1]; got[0] != "__name__" || got[1] != "http_requests_total" || got[2] != "code" || got[3] != "200" {
		t.Fatalf("labels %v", got)
	}
	if p := c.points[idA]; len(p) != 2 || p[0] != (Point{1000, 1}) || !math.IsInf(p[1].Value, 1) {
		t.Fatalf("points %v", p)
	}
	if p := c.points[idB]; len(p) != 1 || p[0] != (Point{1000, 42.5}) {
		t.Fatalf("points %v", p)
	}

	bb.Reset()
	if bb.Series() != 0 || len(bb.AppendRecord(nil)) != 4 {
		t.Fatal("reset builder not empty")
	}
}

func TestSeriesIDIgnoresNothing(t *testing.T) {
	// "a=bc" and "ab=c" must differ: the separator keeps fields apart.
	x := SeriesID([]Label{{"a", "bc"}})
	y := SeriesID([]Label{{"ab", "c"}})
	if x == y {
		t.Fatal("label boundaries do not affect the id")
	}
}

func TestDecodeSamplesRejects(t *testing.T) {
	var bb SampleBatchBuilder
	bb.Add(1, []Label{{MetricNameLabel, "m"}}, []Point{{1, 2}})
	good := bb.AppendRecord(nil)
	cases := map[string][]byte{
		"empty":         nil,
		"bad magic":     {0x00, 'S', 1, 0},
		"wrong version": {recordMagic, kindSamples, 9, 0},
		"truncated":     good[:len(good)-3],
		"trailing":      append(append([]byte{}, good...), 0),
		"huge count":    {recordMagic, kindSamples, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, rec := range cases {
		t.Run(name, func(t *testing.T) {
			var c collected
			var buf [][]byte
			err := DecodeSamples(rec, &c, &buf)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzDecodeSamples(f *testing.F) {
	var bb SampleBatchBuilder
	bb.Add(7, []Label{{MetricNameLabel, "m"}, {"k", "v"}}, []Point{{1, 2}, {3, 4}})
	f.Add(bb.AppendRecord(nil))
	f.Add([]byte{recordMagic, kindSamples, 1, 1})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var c collected
		var buf [][]byte
		_ = DecodeSamples(rec, &c, &buf)
	})
}

func BenchmarkDecodeSamples(b *testing.B) {
	var bb SampleBatchBuilder
	ls := []Label{{MetricNameLabel, "http_requests_total"}, {"instance", "10.0.0.1:9100"}, {"job", "node"}}
	pts := make([]Point, 100)
	for i := 0; i < 100; i++ {
		bb.Add(uint64(i), ls, pts)
	}
	rec := bb.AppendRecord(nil)
	var c countVisitor
	var buf [][]byte
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeSamples(rec, &c, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.n)/b.Elapsed().Seconds(), "samples/s")
}

type countVisitor struct{ n int }

func (c *countVisitor) Series(uint64, [][]byte) error { return nil }
func (c *countVisitor) Point(int64, float64)          { c.n++ }

func TestBytesAndStringAPIsAgree(t *testing.T) {
	ls := []Label{{"zone", "a"}, {MetricNameLabel, "up"}, {"job", "x"}}
	lb := make([]LabelBytes, len(ls))
	for i, l := range ls {
		lb[i] = LabelBytes{[]byte(l.Name), []byte(l.Value)}
	}
	SortLabels(ls)
	SortLabelBytes(lb)
	if SeriesID(ls) != SeriesIDBytes(lb) {
		t.Fatal("string and bytes series ids differ")
	}
	var a, b SampleBatchBuilder
	pts := []Point{{1, 2}}
	a.Add(SeriesID(ls), ls, pts)
	b.AddBytes(SeriesIDBytes(lb), lb, pts)
	if string(a.AppendRecord(nil)) != string(b.AppendRecord(nil)) {
		t.Fatal("string and bytes builders encode differently")
	}
}
