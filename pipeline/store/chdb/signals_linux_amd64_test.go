//go:build linux && amd64

package chdb

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSignalHandlersAreGo checks that after loading and connecting, the
// deadly signals are still handled by the Go runtime: the same handler as
// SIGURG (which only the runtime uses), on the alternate stack.
func TestSignalHandlersAreGo(t *testing.T) {
	needEngine(t)
	var urg kernelSigaction
	if err := rtSigaction(int(unix.SIGURG), nil, &urg); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []unix.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGABRT,
		unix.SIGTRAP, unix.SIGSYS, unix.SIGPIPE, unix.SIGINT, unix.SIGTERM} {
		var sa kernelSigaction
		if err := rtSigaction(int(sig), nil, &sa); err != nil {
			t.Fatal(err)
		}
		if sa.handler != urg.handler || sa.flags&saOnStack == 0 {
			t.Errorf("%v: handler %#x flags %#x, want Go's %#x with SA_ONSTACK", sig, sa.handler, sa.flags, urg.handler)
		}
	}
	lib.mu.Lock()
	t.Logf("dispositions changed by loading/connecting and restored: %v", lib.changedOnLoad)
	lib.mu.Unlock()
}

const saOnStack = 0x08000000 // SA_ONSTACK on linux
