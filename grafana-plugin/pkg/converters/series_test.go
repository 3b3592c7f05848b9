package converters

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// seriesRecord is one Arrow record batch of a per-series answer: per
// series its id, its steps' starts t, a Float64 array v (nil for NULL) and
// a UInt64 array n (a count).
func seriesRecord(ids []uint64, ts [][]int64, v [][]*float64, n [][]uint64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "t", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
		{Name: "v", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)},
		{Name: "n", Type: arrow.ListOf(arrow.PrimitiveTypes.Uint64)},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	tb, vb, nb := b.Field(1).(*array.ListBuilder), b.Field(2).(*array.ListBuilder), b.Field(3).(*array.ListBuilder)
	for r, id := range ids {
		b.Field(0).(*array.Uint64Builder).Append(id)
		tb.Append(true)
		tb.ValueBuilder().(*array.Int64Builder).AppendValues(ts[r], nil)
		vb.Append(true)
		for _, x := range v[r] {
			if x == nil {
				vb.ValueBuilder().(*array.Float64Builder).AppendNull()
			} else {
				vb.ValueBuilder().(*array.Float64Builder).Append(*x)
			}
		}
		nb.Append(true)
		nb.ValueBuilder().(*array.Uint64Builder).AppendValues(n[r], nil)
	}
	return b.NewRecordBatch()
}

func TestStepsBySeriesArrowEqualsJSON(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	nan, inf := math.NaN(), math.Inf(1)
	// Two record batches; a NaN, an infinity and a NULL are all "no
	// value", as JSON's null is. The engine gathers steps in any order:
	// series MaxUint64's arrive out of time order.
	arrowTable := &firebreak.Table{Records: []arrow.RecordBatch{
		seriesRecord([]uint64{7}, [][]int64{{60000, 120000}}, [][]*float64{{f(1.5), &nan}}, [][]uint64{{3, 0}}),
		seriesRecord([]uint64{math.MaxUint64}, [][]int64{{180000, 60000, 120000}}, [][]*float64{{&inf, f(2), nil}}, [][]uint64{{2, 1, 2}}),
	}}
	defer arrowTable.Release()
	var rows firebreak.Result
	d := json.NewDecoder(strings.NewReader(`{"columns":[{"name":"id","type":"UInt64"},{"name":"t","type":"Array(Int64)"},{"name":"v","type":"Array(Float64)"},{"name":"n","type":"Array(UInt64)"}],
		"rows":[[7,[60000,120000],[1.5,null],[3,0]],[18446744073709551615,[180000,60000,120000],[null,2,null],[2,1,2]]]}`))
	d.UseNumber()
	if err := d.Decode(&rows); err != nil {
		t.Fatal(err)
	}
	fromArrow, err := StepsBySeries(arrowTable)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := StepsBySeries(&firebreak.Table{Rows: &rows})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromArrow, fromJSON) {
		t.Fatalf("from Arrow %s\nfrom JSON %s", dump(fromArrow), dump(fromJSON))
	}
	last := fromArrow["18446744073709551615"]
	if last == nil || len(last.Times) != 3 || !last.Times[2].Equal(time.UnixMilli(180000)) || *last.Values["v"][0] != 2 || last.Values["v"][2] != nil || *last.Values["n"][0] != 1 || *last.Values["n"][1] != 2 {
		t.Fatalf("series 18446744073709551615: %s", dump(fromArrow))
	}
	if s := fromArrow["7"]; s == nil || s.Values["v"][1] != nil || *s.Values["n"][1] != 0 {
		t.Fatalf("series 7: %s", dump(fromArrow))
	}
}

func TestStepsBySeriesRefusesOtherShapes(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	for name, schema := range map[string]*arrow.Schema{
		"a text series id": arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "t", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil),
		"one row per step": arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Uint64}, {Name: "t", Type: arrow.PrimitiveTypes.Int64}}, nil),
	} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		rec := b.NewRecordBatch()
		b.Release()
		_, err := StepsBySeries(&firebreak.Table{Records: []arrow.RecordBatch{rec}})
		rec.Release()
		if err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	// A value array shorter than its steps.
	short := seriesRecord([]uint64{1}, [][]int64{{60000, 120000}}, [][]*float64{{f(1)}}, [][]uint64{{1, 1}})
	defer short.Release()
	if _, err := StepsBySeries(&firebreak.Table{Records: []arrow.RecordBatch{short}}); err == nil || !strings.Contains(err.Error(), "column v has 1 values for 2 steps") {
		t.Errorf("a short value array: %v", err)
	}
	if _, err := StepsBySeries(&firebreak.Table{Rows: &firebreak.Result{Columns: []firebreak.Column{{Name: "id", Type: "UInt64"}}}}); err == nil {
		t.Error("an answer without t was accepted")
	}
	rows := &firebreak.Result{Columns: []firebreak.Column{{Name: "id", Type: "UInt64"}, {Name: "t", Type: "Int64"}, {Name: "v", Type: "Float64"}},
		Rows: [][]any{{json.Number("1"), json.Number("60000"), json.Number("1")}}}
	if _, err := StepsBySeries(&firebreak.Table{Rows: rows}); err == nil {
		t.Error("a JSON answer with one row per step was accepted")
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestStepOrder(t *testing.T) {
	for name, starts := range map[string][]int64{
		"hash order":        {180000, 60000, 240000, 0, 120000},
		"sorted":            {0, 60000, 120000},
		"the widest span":   {math.MaxInt64 / 2, math.MinInt64 / 2, 0, 1},
		"negative and late": {-60000, 1 << 40, -120000},
		"a sparse series":   {60000 * 1000, 0, 60000 * 3},
		"twice the same":    {120000, 60000, 120000},
		"off the grid":      {120000, 60000, 90001, 0},
	} {
		order := stepOrder(starts)
		if order == nil {
			if !slices.IsSorted(starts) {
				t.Errorf("%s: %v left unsorted", name, starts)
			}
			continue
		}
		sorted := make([]int64, len(order))
		for i, j := range order {
			sorted[i] = starts[j]
		}
		if !slices.IsSorted(sorted) || len(sorted) != len(starts) {
			t.Errorf("%s: %v in order %v gives %v", name, starts, order, sorted)
		}
	}
}

// BenchmarkStepsBySeries reads the band panel benchmark's band answer
// (100 series × 1,441 steps, four columns) as Arrow, each series' steps in
// a shuffled order, as the engine's hash aggregation gathers them.
func BenchmarkStepsBySeries(b *testing.B) {
	const series, steps = 100, 1441
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Uint64}, {Name: "t", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}
	for _, name := range []string{"expected", "lower", "upper", "score"} {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)})
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer rb.Release()
	shuffle := rand.New(rand.NewPCG(1, 2))
	for s := range series {
		rb.Field(0).(*array.Uint64Builder).Append(uint64(s))
		order := shuffle.Perm(steps)
		for c := 1; c < len(fields); c++ {
			lb := rb.Field(c).(*array.ListBuilder)
			lb.Append(true)
			for _, i := range order {
				switch vb := lb.ValueBuilder().(type) {
				case *array.Int64Builder:
					vb.Append(int64(i) * 60000)
				case *array.Float64Builder:
					vb.Append(float64(s*steps + i))
				}
			}
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	table := &firebreak.Table{Records: []arrow.RecordBatch{rec}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := StepsBySeries(table); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(series*steps), "ns/step")
}
