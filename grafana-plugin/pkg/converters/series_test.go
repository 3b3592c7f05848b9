package converters

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// batchRecord is one Arrow record batch of a batched answer: id, t, then
// a Float64 column v and a UInt64 column n (a count), nil for NULL.
func batchRecord(ids []uint64, ts []int64, v []*float64, n []uint64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "t", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Uint64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Uint64Builder).AppendValues(ids, nil)
	b.Field(1).(*array.Int64Builder).AppendValues(ts, nil)
	for _, x := range v {
		if x == nil {
			b.Field(2).(*array.Float64Builder).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(*x)
		}
	}
	b.Field(3).(*array.Uint64Builder).AppendValues(n, nil)
	return b.NewRecordBatch()
}

func TestStepsBySeriesArrowEqualsJSON(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	nan, inf := math.NaN(), math.Inf(1)
	// Series 18446744073709551615 runs over two record batches; a NaN, an
	// infinity and a NULL are all "no value", as JSON's null is.
	arrowTable := &firebreak.Table{Records: []arrow.RecordBatch{
		batchRecord([]uint64{7, 7, math.MaxUint64}, []int64{60000, 120000, 60000}, []*float64{f(1.5), &nan, f(2)}, []uint64{3, 0, 1}),
		batchRecord([]uint64{math.MaxUint64, math.MaxUint64}, []int64{120000, 180000}, []*float64{nil, &inf}, []uint64{2, 2}),
	}}
	defer arrowTable.Release()
	var rows firebreak.Result
	d := json.NewDecoder(strings.NewReader(`{"columns":[{"name":"id","type":"UInt64"},{"name":"t","type":"Int64"},{"name":"v","type":"Float64"},{"name":"n","type":"UInt64"}],
		"rows":[[7,60000,1.5,3],[7,120000,null,0],[18446744073709551615,60000,2,1],[18446744073709551615,120000,null,2],[18446744073709551615,180000,null,2]]}`))
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
	if last == nil || len(last.Times) != 3 || !last.Times[2].Equal(time.UnixMilli(180000)) || *last.Values["v"][0] != 2 || last.Values["v"][2] != nil || *last.Values["n"][1] != 2 {
		t.Fatalf("series 18446744073709551615: %s", dump(fromArrow))
	}
	if s := fromArrow["7"]; s == nil || s.Values["v"][1] != nil || *s.Values["n"][1] != 0 {
		t.Fatalf("series 7: %s", dump(fromArrow))
	}
}

func TestStepsBySeriesRefusesOtherShapes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "t", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	rec := b.NewRecordBatch()
	defer rec.Release()
	if _, err := StepsBySeries(&firebreak.Table{Records: []arrow.RecordBatch{rec}}); err == nil {
		t.Fatal("a text series id was accepted")
	}
	if _, err := StepsBySeries(&firebreak.Table{Rows: &firebreak.Result{Columns: []firebreak.Column{{Name: "id", Type: "UInt64"}}}}); err == nil {
		t.Fatal("an answer without t was accepted")
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// BenchmarkStepsBySeries reads one batch of the band panel benchmark's
// band answer (27 series × 1,441 steps, four columns) as Arrow.
func BenchmarkStepsBySeries(b *testing.B) {
	const series, steps = 27, 1441
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Uint64}, {Name: "t", Type: arrow.PrimitiveTypes.Int64}}
	for _, name := range []string{"expected", "lower", "upper", "score"} {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64})
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer rb.Release()
	for r := range series * steps {
		rb.Field(0).(*array.Uint64Builder).Append(uint64(r / steps))
		rb.Field(1).(*array.Int64Builder).Append(int64(r%steps) * 60000)
		for c := 2; c < len(fields); c++ {
			rb.Field(c).(*array.Float64Builder).Append(float64(r))
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(series*steps), "ns/row")
}
