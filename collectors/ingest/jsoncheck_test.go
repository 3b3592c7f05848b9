package ingest

import (
	"encoding/json"
	"testing"
)

func TestRawControlInJSONString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`{"a":"b"}`, -1},
		{"{\n\t\"a\" :\r\n \"b\"\n}", -1}, // whitespace between tokens is fine
		{`{"a":"\b\u0019\"\\"}`, -1},
		{"{\"a\":\"\\b\x19\"}", 8}, // the fuzzer's finding: a raw 0x19 after an escape
		{"{\"\\b\x00\":[]}", 4},
		{"{\"a\":\"x\ty\"}", 7},
		{"{\"a\":\"\\\"\n\"}", 8},
		{"{\"a\":\"\\\\\"\n}", -1}, // the string ended at the quote after the escaped backslash
	} {
		if got := rawControlInJSONString([]byte(c.in)); got != c.want {
			t.Errorf("%q: %d, want %d", c.in, got, c.want)
		}
		// The oracle: encoding/json refuses exactly the inputs with one.
		if valid := json.Valid([]byte(c.in)); valid != (c.want < 0) {
			t.Errorf("%q: json.Valid %v but offset %d", c.in, valid, c.want)
		}
	}
}

func FuzzRawControlInJSONString(f *testing.F) {
	f.Add([]byte("{\"a\":\"\\b\x19\"}"))
	f.Add([]byte(`{"a":["\"",1,{"b":"\\"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Valid JSON never has one.
		if off := rawControlInJSONString(b); off >= 0 && json.Valid(b) {
			t.Fatalf("%q: control character found at %d in valid JSON", b, off)
		}
	})
}
