package converters

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

func ptr[T any](v T) *T { return &v }

func TestParseTypeAndValue(t *testing.T) {
	ts := time.Date(2026, 11, 22, 6, 30, 15, 123_000_000, time.UTC)
	tests := []struct {
		chType string
		in     any
		field  data.FieldType
		want   any
	}{
		{"DateTime64(3, 'UTC')", "2026-11-22T06:30:15.123Z", data.FieldTypeTime, ts},
		{"DateTime('UTC')", "2026-11-22T06:30:15Z", data.FieldTypeTime, ts.Truncate(time.Second)},
		{"DateTime", "2026-11-22T06:30:15Z", data.FieldTypeTime, ts.Truncate(time.Second)},
		{"Date", "2026-11-22", data.FieldTypeTime, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"Nullable(DateTime64(3))", nil, data.FieldTypeNullableTime, (*time.Time)(nil)},
		{"Nullable(DateTime64(3))", "2026-11-22T06:30:15.123Z", data.FieldTypeNullableTime, &ts},
		{"UInt8", json.Number("7"), data.FieldTypeNullableInt64, ptr[int64](7)},
		{"Int64", json.Number("-9223372036854775808"), data.FieldTypeNullableInt64, ptr[int64](-9223372036854775808)},
		{"UInt64", json.Number("18446744073709551615"), data.FieldTypeNullableUint64, ptr[uint64](18446744073709551615)},
		{"Float64", json.Number("1.5"), data.FieldTypeNullableFloat64, ptr(1.5)},
		{"Float64", nil, data.FieldTypeNullableFloat64, (*float64)(nil)},
		{"Float32", json.Number("1e3"), data.FieldTypeNullableFloat64, ptr(1000.0)},
		{"Decimal(18, 4)", json.Number("12.3400"), data.FieldTypeNullableFloat64, ptr(12.34)},
		{"Nullable(Float64)", nil, data.FieldTypeNullableFloat64, (*float64)(nil)},
		{"Bool", true, data.FieldTypeBool, true},
		{"Nullable(Bool)", false, data.FieldTypeNullableBool, ptr(false)},
		{"String", "checkout", data.FieldTypeString, "checkout"},
		{"LowCardinality(String)", "cart", data.FieldTypeString, "cart"},
		{"LowCardinality(Nullable(String))", nil, data.FieldTypeNullableString, (*string)(nil)},
		{"Nullable(String)", "x", data.FieldTypeNullableString, ptr("x")},
		{"FixedString(3)", "abc", data.FieldTypeString, "abc"},
		{"UUID", "5f0c8c1e-0000-4000-8000-000000000000", data.FieldTypeString, "5f0c8c1e-0000-4000-8000-000000000000"},
		{"Enum8('a' = 1, 'b' = 2)", "b", data.FieldTypeString, "b"},
		{"UInt128", json.Number("340282366920938463463374607431768211455"), data.FieldTypeString, "340282366920938463463374607431768211455"},
		{"Map(LowCardinality(String), String)", map[string]any{"service": "checkout"}, data.FieldTypeString, `{"service":"checkout"}`},
		{"Array(String)", []any{"a", "b"}, data.FieldTypeString, `["a","b"]`},
		{"Array(UInt64)", []any{json.Number("1"), json.Number("18446744073709551615")}, data.FieldTypeString, `[1,18446744073709551615]`},
		{"Tuple(String, Float64)", []any{"a", json.Number("1.5")}, data.FieldTypeString, `["a",1.5]`},
		{"Map(String, Array(String))", map[string]any{}, data.FieldTypeString, `{}`},
		{"SomeFutureType", json.Number("3"), data.FieldTypeString, `3`},
	}
	for _, tt := range tests {
		t.Run(tt.chType, func(t *testing.T) {
			typ := ParseType(tt.chType)
			if got := typ.FieldType(); got != tt.field {
				t.Fatalf("ParseType(%q).FieldType() = %s, want %s", tt.chType, got, tt.field)
			}
			got, err := Value(typ, tt.in)
			if err != nil {
				t.Fatalf("Value(%v) error: %v", tt.in, err)
			}
			// Build a field of the type and set the value: proves the Go type fits.
			f := data.NewFieldFromFieldType(tt.field, 1)
			f.Set(0, got)
			if !equal(f.At(0), tt.want) {
				t.Fatalf("Value(%v) = %#v, want %#v", tt.in, f.At(0), tt.want)
			}
		})
	}
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		chType string
		in     any
		want   string
	}{
		{"DateTime64(3)", "yesterday", "not an RFC 3339 time"},
		{"DateTime64(3)", json.Number("1"), "not a string"},
		{"Int64", json.Number("1.5"), "not a 64-bit integer"},
		{"UInt64", json.Number("-1"), "not an unsigned 64-bit integer"},
		{"Float64", true, "is not a number"},
		{"Bool", "yes", "not a bool"},
	}
	for _, tt := range tests {
		_, err := Value(ParseType(tt.chType), tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Value(%s, %v) error = %v, want %q", tt.chType, tt.in, err, tt.want)
		}
	}
}

func TestFrame(t *testing.T) {
	res := &firebreak.Result{
		Columns: []firebreak.Column{{Name: "t", Type: "DateTime64(3, 'UTC')"}, {Name: "service", Type: "String"}, {Name: "v", Type: "Float64"}},
		Rows: [][]any{
			{"2026-11-22T06:00:00Z", "cart", json.Number("1")},
			{"2026-11-22T06:00:00Z", "checkout", json.Number("2")},
			{"2026-11-22T06:01:00Z", "cart", nil},
			{"2026-11-22T06:01:00Z", "checkout", json.Number("4")},
		},
	}
	frame, err := Frame("A", res)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := frame.RowLen(); n != 4 || len(frame.Fields) != 3 {
		t.Fatalf("frame has %d rows, %d fields", n, len(frame.Fields))
	}
	wide, err := ToTimeSeries(frame)
	if err != nil {
		t.Fatal(err)
	}
	if wide.Meta.Type != data.FrameTypeTimeSeriesWide {
		t.Fatalf("meta type %s", wide.Meta.Type)
	}
	// time + one value field per service.
	if len(wide.Fields) != 3 {
		t.Fatalf("wide frame has %d fields: %v", len(wide.Fields), wide.Fields)
	}
	byService := map[string]*data.Field{}
	for _, f := range wide.Fields[1:] {
		byService[f.Labels["service"]] = f
	}
	if f := byService["checkout"]; f == nil || *(f.At(1).(*float64)) != 4 {
		t.Fatalf("checkout series wrong: %v", byService)
	}
	if f := byService["cart"]; f == nil || f.At(1).(*float64) != nil {
		t.Fatalf("cart series should keep its null: %v", byService)
	}

	// A row count mismatch and unsorted or time-less tables are errors.
	if _, err := Frame("A", &firebreak.Result{Columns: res.Columns, Rows: [][]any{{"2026-11-22T06:00:00Z"}}}); err == nil {
		t.Fatal("short row accepted")
	}
	unsorted, _ := Frame("A", &firebreak.Result{Columns: res.Columns, Rows: [][]any{res.Rows[2], res.Rows[0]}})
	if _, err := ToTimeSeries(unsorted); err == nil || !strings.Contains(err.Error(), "ORDER BY t") {
		t.Fatalf("unsorted long frame: %v", err)
	}
	noTime, _ := Frame("A", &firebreak.Result{Columns: res.Columns[1:], Rows: [][]any{{"a", json.Number("1")}}})
	if _, err := ToTimeSeries(noTime); err == nil || !strings.Contains(err.Error(), "needs a time column") {
		t.Fatalf("frame without time: %v", err)
	}
	empty, _ := Frame("A", &firebreak.Result{Columns: res.Columns})
	if _, err := ToTimeSeries(empty); err != nil {
		t.Fatalf("empty long frame: %v", err)
	}
}
