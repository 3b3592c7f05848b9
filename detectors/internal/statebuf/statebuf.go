// Package statebuf reads the detectors' checkpoint encodings (uvarints,
// varints, little-endian words, length-prefixed strings) from untrusted
// bytes without panicking. The first short or out-of-range field sets Err
// and empties the buffer, so every later read returns a zero value and a
// decoder checks Err once per record instead of after every field.
package statebuf

import (
	"encoding/binary"
	"math"
)

// Reader reads fields from a buffer.
type Reader struct {
	buf []byte
	err error
	bad error // what Err reports after a failure
}

// NewReader reads b; after a failure Err returns bad.
func NewReader(b []byte, bad error) *Reader { return &Reader{buf: b, bad: bad} }

// Err is nil until a read failed (or Fail was called).
func (r *Reader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.buf) }

// Rest is what is left, unread (a record's body after its header).
func (r *Reader) Rest() []byte { return r.buf }

// Fail marks the input bad: a decoder found a value it cannot accept.
func (r *Reader) Fail() {
	if r.err == nil {
		r.err = r.bad
	}
	r.buf = nil
}

// Uvarint reads an unsigned varint no greater than limit.
func (r *Reader) Uvarint(limit uint64) uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 || v > limit {
		r.Fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// U32 reads an unsigned varint that fits 32 bits.
func (r *Reader) U32() uint32 { return uint32(r.Uvarint(math.MaxUint32)) }

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.buf)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// U64 reads 8 bytes, little-endian.
func (r *Reader) U64() uint64 {
	if len(r.buf) < 8 {
		r.Fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.buf)
	r.buf = r.buf[8:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.buf) < 1 {
		r.Fail()
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return v
}

// Bytes reads a uvarint length and that many bytes; the slice points into
// the buffer.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint(uint64(len(r.buf)))
	if r.err != nil || n > uint64(len(r.buf)) {
		r.Fail()
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

// Str is Bytes as a string (a copy).
func (r *Reader) Str() string { return string(r.Bytes()) }
