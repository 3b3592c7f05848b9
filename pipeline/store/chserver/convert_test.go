package chserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/chcol"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/google/uuid"
	"github.com/paulmach/orb"
	"github.com/shopspring/decimal"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

func ptr[T any](v T) *T { return &v }

type n = json.Number

// TestJSONValue converts the Go values clickhouse-go scans (ScanType of
// each column type) to the store.Result contract.
func TestJSONValue(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	instant := time.Date(2026, 11, 22, 5, 33, 24, 123456789, time.UTC)
	second := time.Date(2026, 11, 22, 5, 33, 24, 0, time.UTC)
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	u := uuid.MustParse("61f0c404-5cb3-11e7-907b-a6006ad3dba0")
	bigPos, _ := new(big.Int).SetString("170141183460469231731687303715884105727", 10)
	bigNeg, _ := new(big.Int).SetString("-57896044618658097711785492504343953926634992332820282019728792003956564819968", 10)

	tests := []struct {
		typ  string
		in   any
		want any
	}{
		// Integers: exact, never quoted.
		{"UInt8", uint8(255), n("255")},
		{"UInt16", uint16(65535), n("65535")},
		{"UInt32", uint32(4294967295), n("4294967295")},
		{"UInt64", uint64(math.MaxUint64), n("18446744073709551615")},
		{"Int8", int8(-128), n("-128")},
		{"Int16", int16(-32768), n("-32768")},
		{"Int32", int32(-2147483648), n("-2147483648")},
		{"Int64", int64(math.MinInt64), n("-9223372036854775808")},
		{"Int64", int64(math.MaxInt64), n("9223372036854775807")},
		{"Int128", bigPos, n("170141183460469231731687303715884105727")},
		{"Int256", bigNeg, n("-57896044618658097711785492504343953926634992332820282019728792003956564819968")},
		{"Nullable(Int128)", (*big.Int)(nil), nil},
		// Floats: shortest form, NaN/Inf nil.
		{"Float64", 0.1, n("0.1")},
		{"Float64", 1.5e300, n("1.5e+300")},
		{"Float64", 1e21, n("1e+21")},
		{"Float64", 1e20, n("100000000000000000000")},
		{"Float64", 1e-7, n("1e-7")},
		{"Float64", 123456789.0, n("123456789")},
		{"Float64", -2.5, n("-2.5")},
		{"Float64", 0.0, n("0")},
		{"Float64", math.NaN(), nil},
		{"Float64", math.Inf(1), nil},
		{"Float64", math.Inf(-1), nil},
		{"Float32", float32(0.1), n("0.1")},
		{"Float32", float32(3.4028235e38), n("3.4028235e+38")},
		{"Float32", float32(math.NaN()), nil},
		{"Float32", float32(math.Inf(-1)), nil},
		// Decimals as numbers, trailing zeros dropped as ClickHouse prints them.
		{"Decimal(10, 2)", decimal.RequireFromString("12.50"), n("12.5")},
		{"Decimal(18, 4)", decimal.RequireFromString("-0.0001"), n("-0.0001")},
		{"Decimal(38, 0)", decimal.RequireFromString("99999999999999999999999999999999999999"), n("99999999999999999999999999999999999999")},
		{"Nullable(Decimal(10, 2))", (*decimal.Decimal)(nil), nil},
		// Strings and friends.
		{"String", "line\n\"quoted\"", "line\n\"quoted\""},
		{"FixedString(3)", "ab\x00", "ab\x00"},
		{"LowCardinality(String)", "lc", "lc"},
		{"LowCardinality(Nullable(String))", (*string)(nil), nil},
		{"LowCardinality(Nullable(String))", ptr("x"), "x"},
		{"Enum8('a' = 1, 'b,c' = 2)", "b,c", "b,c"},
		{"Enum16('x' = -1000)", "x", "x"},
		{"Bool", true, true},
		{"Nullable(Bool)", (*bool)(nil), nil},
		{"UUID", u, "61f0c404-5cb3-11e7-907b-a6006ad3dba0"},
		{"Nullable(UUID)", &u, "61f0c404-5cb3-11e7-907b-a6006ad3dba0"},
		{"IPv4", net.IPv4(10, 1, 2, 3).To4(), "10.1.2.3"},
		{"IPv6", net.ParseIP("2001:db8::1"), "2001:db8::1"},
		{"IPv6", net.ParseIP("::ffff:10.1.2.3"), "::ffff:10.1.2.3"},
		{"Interval", "5 Second", "5 Second"},
		// Dates and times: RFC 3339 UTC, fraction as the type's precision.
		{"Date", day, "2026-11-22"},
		{"Date", time.Date(2026, 11, 22, 0, 0, 0, 0, newYork), "2026-11-22"},
		{"Date32", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "1900-01-01"},
		{"DateTime", second, "2026-11-22T05:33:24Z"},
		{"DateTime('Europe/Berlin')", second.In(berlin), "2026-11-22T05:33:24Z"},
		{"DateTime64(3)", instant, "2026-11-22T05:33:24.123Z"},
		{"DateTime64(3)", second, "2026-11-22T05:33:24.000Z"},
		{"DateTime64(3, 'Asia/Tokyo')", instant.In(berlin), "2026-11-22T05:33:24.123Z"},
		{"DateTime64(6)", instant, "2026-11-22T05:33:24.123456Z"},
		{"DateTime64(9, 'UTC')", instant, "2026-11-22T05:33:24.123456789Z"},
		{"DateTime64(0)", instant, "2026-11-22T05:33:24Z"},
		{"DateTime64(3)", time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC), "1969-12-31T23:59:59.999Z"},
		{"Nullable(DateTime64(3))", (*time.Time)(nil), nil},
		{"Nullable(DateTime64(3))", &instant, "2026-11-22T05:33:24.123Z"},
		{"Nullable(DateTime)", &second, "2026-11-22T05:33:24Z"},
		{"Time", 25*time.Hour + 2*time.Minute + 3*time.Second, "25:02:03"},
		{"Time64(3)", -(time.Minute + 1500*time.Millisecond), "-0:01:01.500"},
		// Nullable and Nothing.
		{"Nullable(UInt32)", (*uint32)(nil), nil},
		{"Nullable(UInt32)", ptr(uint32(7)), n("7")},
		{"Nullable(Float64)", ptr(math.NaN()), nil},
		{"Nullable(String)", ptr(""), ""},
		{"Nullable(Nothing)", (*any)(nil), nil},
		{"Nothing", nil, nil},
		{"SimpleAggregateFunction(sum, UInt64)", uint64(42), n("42")},
		{"SimpleAggregateFunction(anyLast, DateTime64(3))", instant, "2026-11-22T05:33:24.123Z"},
		// Arrays.
		{"Array(UInt8)", []uint8{1, 255}, []any{n("1"), n("255")}},
		{"Array(String)", []string{"a", "b"}, []any{"a", "b"}},
		{"Array(String)", []string(nil), []any{}},
		{"Array(LowCardinality(String))", []string{}, []any{}},
		{"Array(Nullable(String))", []*string{ptr("a"), nil}, []any{"a", nil}},
		{"Array(Array(UInt64))", [][]uint64{{1, math.MaxUint64}, {}}, []any{[]any{n("1"), n("18446744073709551615")}, []any{}}},
		{"Array(DateTime64(3))", []time.Time{instant, second}, []any{"2026-11-22T05:33:24.123Z", "2026-11-22T05:33:24.000Z"}},
		{"Array(Nullable(DateTime))", []*time.Time{nil, &second}, []any{nil, "2026-11-22T05:33:24Z"}},
		{"Array(Float64)", []float64{1, math.NaN()}, []any{n("1"), nil}},
		// Maps: keys as strings.
		{"Map(String, UInt64)", map[string]uint64{"a": 1, "b": math.MaxUint64}, map[string]any{"a": n("1"), "b": n("18446744073709551615")}},
		{"Map(LowCardinality(String), String)", map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{"Map(String, String)", map[string]string(nil), map[string]any{}},
		{"Map(UInt64, DateTime)", map[uint64]time.Time{7: second}, map[string]any{"7": "2026-11-22T05:33:24Z"}},
		{"Map(String, Array(DateTime64(3)))", map[string][]time.Time{"t": {instant}}, map[string]any{"t": []any{"2026-11-22T05:33:24.123Z"}}},
		{"Map(String, Nullable(Float64))", map[string]*float64{"x": nil, "y": ptr(0.5)}, map[string]any{"x": nil, "y": n("0.5")}},
		// Tuples as arrays, named tuples in declaration order.
		{"Tuple(UInt8, String)", []any{uint8(1), "a"}, []any{n("1"), "a"}},
		{"Tuple(DateTime64(3), Nullable(Int64))", []any{instant, (*int64)(nil)}, []any{"2026-11-22T05:33:24.123Z", nil}},
		{"Tuple(b DateTime64(3), a UInt8)", map[string]any{"a": uint8(2), "b": instant}, []any{"2026-11-22T05:33:24.123Z", n("2")}},
		{"Tuple(`x y` String, `z` Decimal(9, 2))", map[string]any{"x y": "s", "z": decimal.RequireFromString("1.10")}, []any{"s", n("1.1")}},
		{"Nested(a UInt8, b String)", []map[string]any{{"a": uint8(1), "b": "x"}}, []any{[]any{n("1"), "x"}}},
		{"Array(Tuple(String, DateTime))", [][]any{{"a", second}}, []any{[]any{"a", "2026-11-22T05:33:24Z"}}},
		// Geo types are arrays of floats.
		{"Point", orb.Point{1.5, -2}, []any{n("1.5"), n("-2")}},
		{"Ring", orb.Ring{{0, 0}, {1, 0}}, []any{[]any{n("0"), n("0")}, []any{n("1"), n("0")}}},
		// Variant and Dynamic carry the value's type.
		{"Variant(String, UInt64)", chcol.NewVariant(uint64(9)), n("9")},
		{"Variant(String, UInt64)", chcol.NewVariant(nil), nil},
		{"Variant(DateTime64(3), String)", chcol.NewVariant(instant), "2026-11-22T05:33:24.123Z"},
		{"Dynamic", chcol.NewVariantWithType(instant, "DateTime64(6)"), "2026-11-22T05:33:24.123456Z"},
		{"Dynamic", chcol.NewVariantWithType([]int64{1, -1}, "Array(Int64)"), []any{n("1"), n("-1")}},
		{"JSON", `{"a":{"b":1},"c":"x"}`, map[string]any{"a": map[string]any{"b": n("1")}, "c": "x"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%T", tc.typ, tc.in), func(t *testing.T) {
			got := jsonValue(parseType(tc.typ), tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("jsonValue(%s, %#v) = %#v, want %#v", tc.typ, tc.in, got, tc.want)
			}
			// Everything must marshal to JSON (NaN would not).
			if _, err := json.Marshal(got); err != nil {
				t.Errorf("result does not marshal: %v", err)
			}
		})
	}
}

// TestJSONValueScanTypes runs the conversion over zero values of the scan
// types the driver reports for real column types, as Query does.
func TestJSONValueScanTypes(t *testing.T) {
	for _, typ := range []string{
		"UInt64", "Int128", "Float32", "Decimal(10, 2)", "String", "FixedString(4)", "UUID", "IPv4", "IPv6",
		"Date", "Date32", "DateTime", "DateTime64(3)", "Nullable(DateTime64(3))", "Enum8('a' = 1)", "Bool",
		"LowCardinality(Nullable(String))", "Array(Nullable(UInt8))", "Map(String, Array(String))",
		"Tuple(a UInt8, b String)", "Tuple(UInt8, String)", "Nullable(Nothing)", "Point", "Variant(String, UInt64)",
	} {
		col, err := columnFor(typ)
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		st := col.ScanType()
		v := reflect.New(st).Elem().Interface()
		got := jsonValue(parseType(typ), v)
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("%s (scan type %v): %#v does not marshal: %v", typ, st, got, err)
		}
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		kind typeKind
		name string
		prec int
		subs int
		flds []string
	}{
		{"UInt64", kindOther, "UInt64", 0, 0, nil},
		{"Nullable(DateTime64(3, 'UTC'))", kindDateTime64, "DateTime64", 3, 0, nil},
		{"LowCardinality(Nullable(String))", kindOther, "String", 0, 0, nil},
		{"DateTime('Europe/Berlin')", kindDateTime, "DateTime", 0, 0, nil},
		{"DateTime64(9)", kindDateTime64, "DateTime64", 9, 0, nil},
		{"Date32", kindDate, "Date32", 0, 0, nil},
		{"Array(Map(String, DateTime64(6)))", kindArray, "Array", 0, 1, nil},
		{"Map(LowCardinality(String), Array(Tuple(String, UInt8)))", kindMap, "Map", 0, 2, nil},
		{"Tuple(a Enum8('x,y' = 1, 'z' = 2), `b c` Nullable(String))", kindTuple, "Tuple", 0, 2, []string{"a", "b c"}},
		{"Tuple(Enum8('x y' = 1), String)", kindTuple, "Tuple", 0, 2, nil},
		{"Nested(a UInt8, b String)", kindArray, "Array", 0, 1, nil},
		{"SimpleAggregateFunction(sum, Decimal(18, 2))", kindOther, "Decimal", 0, 0, nil},
		{"Variant(String, DateTime64(3))", kindVariant, "Variant", 0, 2, nil},
		{"Time64(6)", kindTime, "Time64", 6, 0, nil},
	}
	for _, tc := range tests {
		got := parseType(tc.in)
		if got.kind != tc.kind || got.name != tc.name || got.prec != tc.prec || len(got.elems) != tc.subs || !reflect.DeepEqual(got.names, tc.flds) {
			t.Errorf("parseType(%q) = %+v (names %q), want kind %d name %s prec %d %d elems names %q",
				tc.in, got, got.names, tc.kind, tc.name, tc.prec, tc.subs, tc.flds)
		}
	}
	if e := parseType("Map(String, Array(DateTime64(6)))").elems[1].elems[0]; e.kind != kindDateTime64 || e.prec != 6 {
		t.Errorf("nested DateTime64(6) parsed as %+v", e)
	}
}

func TestDriverColumn(t *testing.T) {
	ms := int64(1795325604123) // 2026-11-22T05:33:24.123Z
	tests := []struct {
		typ  string
		in   any
		want any
	}{
		{"DateTime64(3)", []int64{ms, -1}, []time.Time{time.UnixMilli(ms).UTC(), time.Date(1969, 12, 31, 23, 59, 59, 999000000, time.UTC)}},
		{"DateTime64(9)", []int64{ms*1e6 + 456789}, []time.Time{time.Unix(0, ms*1e6+456789).UTC()}},
		{"DateTime64(6, 'UTC')", []int64{ms*1e3 + 456}, []time.Time{time.UnixMicro(ms*1e3 + 456).UTC()}},
		{"DateTime64(0)", []int64{1795325604}, []time.Time{time.Unix(1795325604, 0).UTC()}},
		{"DateTime", []uint32{1795325604, math.MaxUint32}, []time.Time{time.Unix(1795325604, 0).UTC(), time.Unix(math.MaxUint32, 0).UTC()}},
		{"Int64", []int64{ms}, []int64{ms}},
		{"UInt32", []uint32{1}, []uint32{1}},
		{"UInt8", []uint8{1}, []uint8{1}},
		{"LowCardinality(String)", []string{"a"}, []string{"a"}},
		{"Array(LowCardinality(String))", [][]string{{"a"}}, [][]string{{"a"}}},
		{"Map(LowCardinality(String), String)", []map[string]string{{"k": "v"}}, []map[string]string{{"k": "v"}}},
	}
	for _, tc := range tests {
		got, err := driverColumn(tc.typ, tc.in)
		if err != nil {
			t.Errorf("driverColumn(%s): %v", tc.typ, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("driverColumn(%s, %v) = %v, want %v", tc.typ, tc.in, got, tc.want)
		}
	}
	if _, err := driverColumn("UInt16", []uint16{1}); err == nil {
		t.Error("driverColumn accepted []uint16")
	}
	// Every converted column is accepted by the driver's column of that type.
	for _, tc := range tests {
		col, err := columnFor(tc.typ)
		if err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		data, _ := driverColumn(tc.typ, tc.in)
		if _, err := col.Append(data); err != nil {
			t.Errorf("driver column %s refused %T: %v", tc.typ, data, err)
		}
	}
}

func TestInsertSQL(t *testing.T) {
	cols := []store.ColumnData{{Name: "ts"}, {Name: "value_2"}}
	got, err := insertSQL(&store.Block{Table: "firebreak.samples", Columns: cols})
	if want := "INSERT INTO `firebreak`.`samples` (`ts`, `value_2`)"; err != nil || got != want {
		t.Errorf("insertSQL = %q, %v; want %q", got, err, want)
	}
	for _, b := range []*store.Block{
		{Table: "samples; DROP TABLE x", Columns: cols},
		{Table: "a.b.c", Columns: cols},
		{Table: "`samples`", Columns: cols},
		{Table: "", Columns: cols},
		{Table: "samples", Columns: []store.ColumnData{{Name: "a b"}}},
		{Table: "samples", Columns: []store.ColumnData{{Name: "a`"}}},
		{Table: "samples", Columns: []store.ColumnData{{Name: "1a"}}},
		{Table: "samples", Columns: []store.ColumnData{{Name: "a"}, {Name: "a"}}},
	} {
		if got, err := insertSQL(b); err == nil {
			t.Errorf("insertSQL(%q, %v) = %q, want error", b.Table, b.Columns, got)
		}
	}
}

func TestClassify(t *testing.T) {
	s := &Store{}
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	err := s.classify(live, "query", fmt.Errorf("wrapped: %w", &clickhouse.Exception{Code: 62, Name: "DB::Exception", Message: "Syntax error: failed at position 1"}))
	var qe *store.QueryError
	if !errors.As(err, &qe) || qe.Message != "Code: 62. DB::Exception: Syntax error: failed at position 1" || err.Error() != qe.Message {
		t.Errorf("exception -> %T %v", err, err)
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Error("exception wraps ErrUnavailable")
	}

	err = s.classify(live, "insert", &clickhouse.Exception{Code: 252, Message: "Too many parts"})
	if !errors.Is(err, store.ErrUnavailable) || errors.As(err, &qe) {
		t.Errorf("TOO_MANY_PARTS -> %v", err)
	}

	for _, cause := range []error{
		io.EOF,
		fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		clickhouse.ErrAcquireConnTimeout,
		clickhouse.ErrConnectionClosed,
		context.DeadlineExceeded, // the driver's own timeout, caller still live
	} {
		err := s.classify(live, "query", cause)
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, cause) {
			t.Errorf("%v -> %v: want ErrUnavailable wrapping the cause", cause, err)
		}
	}

	// The caller's own cancellation is not an outage...
	err = s.classify(canceled, "query", context.Canceled)
	if errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("caller cancel -> %v", err)
	}
	err = s.classify(canceled, "query", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})
	if errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("caller cancel with closed conn -> %v", err)
	}
	// ...unless it expired while connecting.
	err = s.classify(canceled, "query", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ETIMEDOUT})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("caller cancel while dialing -> %v", err)
	}

	err = s.classify(live, "query", errors.New("clickhouse [Scan]: converting"))
	if errors.Is(err, store.ErrUnavailable) || errors.As(err, &qe) || !strings.Contains(err.Error(), "converting") {
		t.Errorf("other error -> %v", err)
	}
}

// columnFor builds the driver's column for a type name, as it does for a
// result block from a current server.
func columnFor(typ string) (column.Interface, error) {
	return column.Type(typ).Column("c", &column.ServerContext{
		Revision: proto.DBMS_TCP_PROTOCOL_VERSION, VersionMajor: 25, VersionMinor: 8, Timezone: time.UTC,
	})
}
