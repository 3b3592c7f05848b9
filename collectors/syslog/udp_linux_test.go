package syslog

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestDropsFromOOB(t *testing.T) {
	// One control message as the kernel writes it: cmsghdr, then the
	// uint32 count, padded.
	oob := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_RXQ_OVFL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], 1234)
	if n, ok := dropsFromOOB(oob); !ok || n != 1234 {
		t.Fatalf("dropsFromOOB = %d %v", n, ok)
	}
	if _, ok := dropsFromOOB(nil); ok {
		t.Fatal("no control message, yet a count")
	}
}
