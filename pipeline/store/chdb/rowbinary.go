package chdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// colKind is how one column is written in RowBinary.
type colKind uint8

const (
	kindInvalid colKind = iota
	kindUInt8
	kindUInt32
	kindUInt64
	kindInt32
	kindInt64
	kindFloat64
	kindString     // String, LowCardinality(String): varint length + bytes
	kindDateTime   // DateTime: UInt32 seconds
	kindDateTime64 // DateTime64(p): Int64 ticks of 10^-p s
	kindArrayString
	kindMapString
)

var kindGoType = [...]string{
	kindUInt8: "[]uint8", kindUInt32: "[]uint32", kindUInt64: "[]uint64", kindInt32: "[]int32",
	kindInt64: "[]int64", kindFloat64: "[]float64", kindString: "[]string", kindDateTime: "[]uint32",
	kindDateTime64: "[]int64", kindArrayString: "[][]string", kindMapString: "[]map[string]string",
}

// parseKind maps a ClickHouse type name (spaces ignored) to its encoding.
func parseKind(typ string) colKind {
	t := strings.ReplaceAll(typ, " ", "")
	isStr := func(s string) bool { return s == "String" || s == "LowCardinality(String)" }
	switch {
	case t == "UInt8":
		return kindUInt8
	case t == "UInt32":
		return kindUInt32
	case t == "UInt64":
		return kindUInt64
	case t == "Int32":
		return kindInt32
	case t == "Int64":
		return kindInt64
	case t == "Float64":
		return kindFloat64
	case isStr(t):
		return kindString
	case t == "DateTime" || strings.HasPrefix(t, "DateTime('") && strings.HasSuffix(t, "')"):
		return kindDateTime
	case strings.HasPrefix(t, "DateTime64(") && strings.HasSuffix(t, ")"):
		args := strings.TrimSuffix(strings.TrimPrefix(t, "DateTime64("), ")")
		prec, tz, hasTZ := strings.Cut(args, ",")
		tz = strings.TrimSpace(tz)
		p, err := strconv.Atoi(strings.TrimSpace(prec))
		if err != nil || p < 0 || p > 9 || hasTZ && !(strings.HasPrefix(tz, "'") && strings.HasSuffix(tz, "'") && len(tz) >= 2) {
			return kindInvalid
		}
		return kindDateTime64
	case strings.HasPrefix(t, "Array(") && strings.HasSuffix(t, ")"):
		if isStr(t[len("Array(") : len(t)-1]) {
			return kindArrayString
		}
	case strings.HasPrefix(t, "Map(") && strings.HasSuffix(t, ")"):
		inner := t[len("Map(") : len(t)-1]
		for i := range len(inner) {
			if inner[i] == ',' && isStr(inner[:i]) && isStr(inner[i+1:]) {
				return kindMapString
			}
		}
	}
	return kindInvalid
}

// colEnc is one column of the block being encoded, with its data unboxed.
type colEnc struct {
	kind colKind
	u8   []uint8
	u32  []uint32
	u64  []uint64
	i32  []int32
	i64  []int64
	f64  []float64
	str  []string
	arr  [][]string
	m    []map[string]string
}

// rowEncoder turns a store.Block into RowBinary. It keeps its buffers between
// blocks, so encoding allocates nothing once they have grown.
type rowEncoder struct {
	cols  []colEnc
	buf   []byte
	keys  []string           // scratch: one map's keys, sorted
	kinds map[string]colKind // type name -> kind, parsed once
}

func (e *rowEncoder) kind(typ string) colKind {
	k, ok := e.kinds[typ]
	if !ok {
		k = parseKind(typ)
		if e.kinds == nil {
			e.kinds = make(map[string]colKind)
		}
		e.kinds[typ] = k
	}
	return k
}

// prepare checks the block's columns against their types and unboxes them.
// It returns the row count.
func (e *rowEncoder) prepare(b *store.Block) (int, error) {
	rows, err := b.Rows()
	if err != nil {
		return 0, err
	}
	e.cols = e.cols[:0]
	for _, c := range b.Columns {
		k := e.kind(c.Type)
		if k == kindInvalid {
			return 0, fmt.Errorf("column %s: unsupported type %q (see store.ColumnData)", c.Name, c.Type)
		}
		ce := colEnc{kind: k}
		ok := false
		switch k {
		case kindUInt8:
			ce.u8, ok = c.Data.([]uint8)
		case kindUInt32, kindDateTime:
			ce.u32, ok = c.Data.([]uint32)
		case kindUInt64:
			ce.u64, ok = c.Data.([]uint64)
		case kindInt32:
			ce.i32, ok = c.Data.([]int32)
		case kindInt64, kindDateTime64:
			ce.i64, ok = c.Data.([]int64)
		case kindFloat64:
			ce.f64, ok = c.Data.([]float64)
		case kindString:
			ce.str, ok = c.Data.([]string)
		case kindArrayString:
			ce.arr, ok = c.Data.([][]string)
		case kindMapString:
			ce.m, ok = c.Data.([]map[string]string)
		}
		if !ok {
			e.release()
			return 0, fmt.Errorf("column %s: type %s needs %s data, got %T", c.Name, c.Type, kindGoType[k], c.Data)
		}
		e.cols = append(e.cols, ce)
	}
	return rows, nil
}

// release drops the references to the caller's data.
func (e *rowEncoder) release() {
	clear(e.cols)
	e.cols = e.cols[:0]
}

// appendHeader writes the RowBinaryWithNamesAndTypes header: the engine then
// checks (and where it can, converts) each column's type by name.
func (e *rowEncoder) appendHeader(b *store.Block) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b.Columns)))
	for _, c := range b.Columns {
		e.appendString(c.Name)
	}
	for _, c := range b.Columns {
		e.appendString(c.Type)
	}
}

func (e *rowEncoder) appendString(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// appendRow encodes row i of the prepared block.
func (e *rowEncoder) appendRow(i int) {
	le := binary.LittleEndian
	for c := range e.cols {
		col := &e.cols[c]
		switch col.kind {
		case kindUInt8:
			e.buf = append(e.buf, col.u8[i])
		case kindUInt32, kindDateTime:
			e.buf = le.AppendUint32(e.buf, col.u32[i])
		case kindUInt64:
			e.buf = le.AppendUint64(e.buf, col.u64[i])
		case kindInt32:
			e.buf = le.AppendUint32(e.buf, uint32(col.i32[i]))
		case kindInt64, kindDateTime64:
			e.buf = le.AppendUint64(e.buf, uint64(col.i64[i]))
		case kindFloat64:
			e.buf = le.AppendUint64(e.buf, math.Float64bits(col.f64[i]))
		case kindString:
			e.appendString(col.str[i])
		case kindArrayString:
			a := col.arr[i]
			e.buf = binary.AppendUvarint(e.buf, uint64(len(a)))
			for _, s := range a {
				e.appendString(s)
			}
		case kindMapString:
			// Sorted keys: the same content always encodes to the same bytes
			// (and the same stored map), whatever Go's iteration order.
			m := col.m[i]
			e.keys = e.keys[:0]
			for k := range m {
				e.keys = append(e.keys, k)
			}
			slices.Sort(e.keys)
			e.buf = binary.AppendUvarint(e.buf, uint64(len(e.keys)))
			for _, k := range e.keys {
				e.appendString(k)
				e.appendString(m[k])
			}
			clear(e.keys)
		}
	}
}
