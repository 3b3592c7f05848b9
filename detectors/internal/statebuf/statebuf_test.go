package statebuf

import (
	"encoding/binary"
	"errors"
	"testing"
)

var errBad = errors.New("bad state")

func TestReadsFieldsInOrder(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = binary.LittleEndian.AppendUint64(b, 1<<40)
	b = append(b, 9)
	b = binary.AppendUvarint(b, 3)
	b = append(b, "abc"...)
	b = append(b, 0xEE)
	r := NewReader(b, errBad)
	if v := r.Uvarint(1000); v != 300 {
		t.Errorf("Uvarint = %d", v)
	}
	if v := r.Varint(); v != -7 {
		t.Errorf("Varint = %d", v)
	}
	if v := r.U64(); v != 1<<40 {
		t.Errorf("U64 = %d", v)
	}
	if v := r.Byte(); v != 9 {
		t.Errorf("Byte = %d", v)
	}
	if v := r.Str(); v != "abc" {
		t.Errorf("Str = %q", v)
	}
	if r.Err() != nil || r.Len() != 1 || r.Rest()[0] != 0xEE {
		t.Errorf("after the fields: err %v, rest %x", r.Err(), r.Rest())
	}
}

// A failure sticks: later reads give zero values and Err stays the
// reader's error, so decoders check once per record.
func TestFailureSticks(t *testing.T) {
	b := binary.AppendUvarint(nil, 5000)
	b = append(b, 1, 2, 3, 4, 5, 6, 7, 8)
	r := NewReader(b, errBad)
	if v := r.Uvarint(100); v != 0 || !errors.Is(r.Err(), errBad) {
		t.Fatalf("over the limit: %d, %v", v, r.Err())
	}
	if r.U64() != 0 || r.Byte() != 0 || r.Str() != "" || r.Len() != 0 {
		t.Error("reads after a failure returned data")
	}
	// A length beyond what is left fails instead of slicing past the end.
	long := binary.AppendUvarint(nil, 4)
	r = NewReader(append(long, 'x'), errBad)
	if s := r.Str(); s != "" || r.Err() == nil {
		t.Errorf("Str past the end = %q, %v", s, r.Err())
	}
}
