package chdb

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

func TestParseKind(t *testing.T) {
	for typ, want := range map[string]colKind{
		"UInt8":                               kindUInt8,
		"UInt32":                              kindUInt32,
		"UInt64":                              kindUInt64,
		"Int32":                               kindInt32,
		"Int64":                               kindInt64,
		"Float64":                             kindFloat64,
		"String":                              kindString,
		"LowCardinality(String)":              kindString,
		"DateTime64(3)":                       kindDateTime64,
		"DateTime64(9)":                       kindDateTime64,
		"DateTime64(3, 'UTC')":                kindDateTime64,
		"DateTime":                            kindDateTime,
		"DateTime('UTC')":                     kindDateTime,
		"Array(String)":                       kindArrayString,
		"Array(LowCardinality(String))":       kindArrayString,
		"Map(LowCardinality(String), String)": kindMapString,
		"Map(String,String)":                  kindMapString,
		"Map(String, LowCardinality(String))": kindMapString,
		"UInt16":                              kindInvalid,
		"DateTime64(10)":                      kindInvalid,
		"DateTime64(x)":                       kindInvalid,
		"Array(UInt8)":                        kindInvalid,
		"Map(UInt8, String)":                  kindInvalid,
		"Nullable(String)":                    kindInvalid,
		"":                                    kindInvalid,
	} {
		if got := parseKind(typ); got != want {
			t.Errorf("parseKind(%q) = %d, want %d", typ, got, want)
		}
	}
}

// TestRowBinaryBytes pins the encoding of one row of every kind.
func TestRowBinaryBytes(t *testing.T) {
	b := &store.Block{Table: "t", Columns: []store.ColumnData{
		{Name: "a", Type: "UInt8", Data: []uint8{0xab}},
		{Name: "b", Type: "UInt32", Data: []uint32{0x01020304}},
		{Name: "c", Type: "UInt64", Data: []uint64{0x0102030405060708}},
		{Name: "d", Type: "Int32", Data: []int32{-2}},
		{Name: "e", Type: "Int64", Data: []int64{-2}},
		{Name: "f", Type: "Float64", Data: []float64{1.0}},
		{Name: "g", Type: "LowCardinality(String)", Data: []string{"hi"}},
		{Name: "h", Type: "DateTime64(3)", Data: []int64{1000}},
		{Name: "i", Type: "DateTime", Data: []uint32{1}},
		{Name: "j", Type: "Array(String)", Data: [][]string{{"x", ""}}},
		{Name: "k", Type: "Map(String, String)", Data: []map[string]string{{"z": "1", "y": "22"}}},
	}}
	var e rowEncoder
	if _, err := e.prepare(b); err != nil {
		t.Fatal(err)
	}
	e.appendRow(0)
	want := "ab" + "04030201" + "0807060504030201" + "feffffff" + "feffffffffffffff" + "000000000000f03f" +
		"026869" + "e803000000000000" + "01000000" + "02" + "0178" + "00" +
		"02" + "0179" + "023232" + "017a" + "0131" // map keys sorted: y, z
	if got := hex.EncodeToString(e.buf); got != want {
		t.Errorf("row bytes\n got %s\nwant %s", got, want)
	}

	e.buf = e.buf[:0]
	e.appendHeader(&store.Block{Columns: []store.ColumnData{{Name: "ab", Type: "UInt8"}, {Name: "c", Type: "String"}}})
	if !bytes.Equal(e.buf, []byte("\x02\x02ab\x01c\x05UInt8\x06String")) {
		t.Errorf("header %q", e.buf)
	}
	e.release()
	if len(e.cols) != 0 || cap(e.cols) == 0 {
		t.Error("release should keep capacity and drop references")
	}
}

func TestVarintLongString(t *testing.T) {
	var e rowEncoder
	s := string(bytes.Repeat([]byte("x"), 300))
	e.appendString(s)
	if !bytes.Equal(e.buf[:2], []byte{0xac, 0x02}) || len(e.buf) != 302 {
		t.Errorf("varint of 300 = % x", e.buf[:2])
	}
}

func TestEncoderAllocs(t *testing.T) {
	b := sampleBlock(1000, 0)
	var e rowEncoder
	encode := func() {
		rows, err := e.prepare(b)
		if err != nil {
			t.Fatal(err)
		}
		e.buf = e.buf[:0]
		e.appendHeader(b)
		for i := range rows {
			e.appendRow(i)
		}
		e.release()
	}
	encode()
	if n := testing.AllocsPerRun(20, encode); n != 0 {
		t.Errorf("encoding a block allocates %.1f times, want 0", n)
	}
}
