package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// A Detector is a fixed-size value of plain numbers (no pointers, slices,
// maps or strings: checked at init), so its snapshot is its memory image.
// That makes checkpoints of millions of series cheap (a copy, no
// per-field code to keep in step with the model) at the price of
// portability across builds that change the layout: every snapshot starts
// with a fingerprint of the layout (field names, types, offsets, byte
// order), and a snapshot from another layout is refused, so a changed
// model relearns instead of reading garbage.

// SnapshotSize is the length of a Detector snapshot in bytes.
const SnapshotSize = 8 + int(unsafe.Sizeof(Detector{}))

// ErrSnapshotLayout is returned for a snapshot taken by a build whose
// Detector layout differs from this one.
var ErrSnapshotLayout = errors.New("detector snapshot from an incompatible build")

var layoutFingerprint = func() uint64 {
	h := xxhash.New()
	var walk func(t reflect.Type, prefix string, base uintptr)
	walk = func(t reflect.Type, prefix string, base uintptr) {
		switch t.Kind() {
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				walk(f.Type, prefix+"."+f.Name, base+f.Offset)
			}
		case reflect.Array:
			fmt.Fprintf(h, "%s[%d]@%d;", prefix, t.Len(), base)
			walk(t.Elem(), prefix+"[]", 0)
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			fmt.Fprintf(h, "%s:%s@%d;", prefix, t.Kind(), base)
		default:
			panic(fmt.Sprintf("anomaly: Detector field %s is a %s; snapshots need plain values", prefix, t.Kind()))
		}
	}
	walk(reflect.TypeFor[Detector](), "Detector", 0)
	var probe uint16 = 1
	fmt.Fprintf(h, "le=%d", *(*byte)(unsafe.Pointer(&probe)))
	return h.Sum64()
}()

// AppendSnapshot appends the detector's whole state to dst.
func (d *Detector) AppendSnapshot(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, layoutFingerprint)
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(d)), unsafe.Sizeof(*d))...)
}

// RestoreSnapshot replaces the detector's state with a snapshot taken by
// AppendSnapshot.
func (d *Detector) RestoreSnapshot(snap []byte) error {
	if len(snap) != SnapshotSize {
		return fmt.Errorf("%w: %d bytes, this build's are %d", ErrSnapshotLayout, len(snap), SnapshotSize)
	}
	if binary.LittleEndian.Uint64(snap) != layoutFingerprint {
		return ErrSnapshotLayout
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(d)), unsafe.Sizeof(*d)), snap[8:])
	return nil
}
