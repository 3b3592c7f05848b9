package plugin

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowAnswer is a JSON /api/v1/sql answer re-encoded as the Arrow stream
// the API sends for it: UInt64, Int64 and Float64 columns, JSON null as
// an Arrow null, in one record batch.
func arrowAnswer(t *testing.T, answer string) []byte {
	t.Helper()
	var res struct {
		Columns []struct{ Name, Type string }
		Rows    [][]json.Number
	}
	if err := json.Unmarshal([]byte(answer), &res); err != nil {
		t.Fatalf("fixture %s: %v", answer, err)
	}
	fields := make([]arrow.Field, len(res.Columns))
	for i, c := range res.Columns {
		types := map[string]arrow.DataType{"UInt64": arrow.PrimitiveTypes.Uint64, "Int64": arrow.PrimitiveTypes.Int64, "Float64": arrow.PrimitiveTypes.Float64}
		dt, ok := types[c.Type]
		if !ok {
			t.Fatalf("fixture column %s: no Arrow type for %s", c.Name, c.Type)
		}
		fields[i] = arrow.Field{Name: c.Name, Type: dt, Nullable: c.Type == "Float64"}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, row := range res.Rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.Uint64Builder:
				n, err := strconv.ParseUint(v.String(), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(n)
			case *array.Int64Builder:
				n, err := v.Int64()
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(n)
			case *array.Float64Builder:
				if v == "" {
					fb.AppendNull()
					continue
				}
				f, err := v.Float64()
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(f)
			}
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
