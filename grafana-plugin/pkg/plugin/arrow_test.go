package plugin

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowAnswer is a JSON /api/v1/sql answer re-encoded as the Arrow stream
// the API sends for it: UInt64, Int64 and Float64 columns, and arrays of
// them as lists, JSON null as an Arrow null, in one record batch.
func arrowAnswer(t *testing.T, answer string) []byte {
	t.Helper()
	var res struct {
		Columns []struct{ Name, Type string }
		Rows    [][]any
	}
	d := json.NewDecoder(strings.NewReader(answer))
	d.UseNumber()
	if err := d.Decode(&res); err != nil {
		t.Fatalf("fixture %s: %v", answer, err)
	}
	types := map[string]arrow.DataType{"UInt64": arrow.PrimitiveTypes.Uint64, "Int64": arrow.PrimitiveTypes.Int64, "Float64": arrow.PrimitiveTypes.Float64}
	fields := make([]arrow.Field, len(res.Columns))
	for i, c := range res.Columns {
		elem, isArray := strings.CutPrefix(c.Type, "Array(")
		elem = strings.TrimSuffix(elem, ")")
		dt, ok := types[elem]
		if !ok {
			t.Fatalf("fixture column %s: no Arrow type for %s", c.Name, c.Type)
		}
		if isArray {
			dt = arrow.ListOf(dt)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: dt, Nullable: elem == "Float64"}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, row := range res.Rows {
		for i, v := range row {
			appendValue(t, b.Field(i), v)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var out bytes.Buffer
	w := ipc.NewWriter(&out, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// appendValue appends one JSON value (a json.Number, nil, or an array of
// them) to the column's builder.
func appendValue(t *testing.T, b array.Builder, v any) {
	t.Helper()
	if lb, ok := b.(*array.ListBuilder); ok {
		items, ok := v.([]any)
		if !ok {
			t.Fatalf("fixture value %v is not an array", v)
		}
		lb.Append(true)
		for _, item := range items {
			appendValue(t, lb.ValueBuilder(), item)
		}
		return
	}
	if v == nil {
		b.AppendNull()
		return
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("fixture value %v is not a number", v)
	}
	switch fb := b.(type) {
	case *array.Uint64Builder:
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		fb.Append(u)
	case *array.Int64Builder:
		i, err := n.Int64()
		if err != nil {
			t.Fatal(err)
		}
		fb.Append(i)
	case *array.Float64Builder:
		f, err := n.Float64()
		if err != nil {
			t.Fatal(err)
		}
		fb.Append(f)
	}
}
