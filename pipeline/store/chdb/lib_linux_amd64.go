//go:build linux && amd64

package chdb

import (
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

var lib struct {
	mu     sync.Mutex
	path   string // set once loaded
	handle uintptr
	// changedOnLoad lists the signals whose disposition dlopen (static
	// constructors) or the first chdb_connect changed and we restored.
	changedOnLoad []unix.Signal
}

// loadLibrary dlopens libchdb once per process. A failed load can be retried
// (for instance with a corrected path); a successful one is never repeated,
// and a later call naming a different file is refused.
func loadLibrary(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		abs = p
	}
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.handle != 0 {
		if lib.path != abs {
			return fmt.Errorf("chdb: library %s is already loaded in this process; cannot also load %s", lib.path, abs)
		}
		return nil
	}

	saved := saveSignals()
	h, err := purego.Dlopen(abs, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	lib.changedOnLoad = append(lib.changedOnLoad, restoreSignals(saved)...)
	if err != nil {
		return fmt.Errorf("chdb: load %s: %w", abs, err)
	}
	if err := bind(h); err != nil {
		// The library stays mapped (dlclose of a C++ engine is unsafe);
		// a retry with the same path binds again.
		return fmt.Errorf("chdb: %s is not a usable libchdb (26.7 or newer needed): %w", abs, err)
	}
	// Before any connect: chDB must never install process-wide handlers,
	// or a Go panic (SIGSEGV, SIGABRT...) hangs the process.
	cSetSignalHandlersEnabled(0)
	lib.handle, lib.path = h, abs
	return nil
}

func bind(h uintptr) (err error) {
	defer func() {
		if r := recover(); r != nil { // RegisterLibFunc panics on a missing symbol
			err = fmt.Errorf("%v", r)
		}
	}()
	purego.RegisterLibFunc(&cConnect, h, "chdb_connect")
	purego.RegisterLibFunc(&cCloseConn, h, "chdb_close_conn")
	purego.RegisterLibFunc(&cQueryN, h, "chdb_query_n")
	purego.RegisterLibFunc(&cResultBuffer, h, "chdb_result_buffer")
	purego.RegisterLibFunc(&cResultLength, h, "chdb_result_length")
	purego.RegisterLibFunc(&cResultError, h, "chdb_result_error")
	purego.RegisterLibFunc(&cResultRowsWritten, h, "chdb_result_rows_written")
	purego.RegisterLibFunc(&cDestroyQueryResult, h, "chdb_destroy_query_result")
	purego.RegisterLibFunc(&cStreamInsertN, h, "chdb_stream_insert_n")
	purego.RegisterLibFunc(&cStreamAppend, h, "chdb_stream_append")
	purego.RegisterLibFunc(&cStreamDone, h, "chdb_stream_done")
	purego.RegisterLibFunc(&cStreamInsertError, h, "chdb_stream_insert_error")
	purego.RegisterLibFunc(&cDestroyInsertStream, h, "chdb_destroy_insert_stream")
	purego.RegisterLibFunc(&cSetSignalHandlersEnabled, h, "chdb_set_signal_handlers_enabled")
	purego.RegisterLibFunc(&cVersion, h, "chdb_version")
	purego.RegisterLibFunc(&cClassifyQueryN, h, "chdb_classify_query_n")
	return nil
}

func libraryLoaded() bool {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	return lib.handle != 0
}

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on amd64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const maxSignal = 64

type savedSignals [maxSignal + 1]struct {
	ok bool
	sa kernelSigaction
}

func rtSigaction(sig int, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// saveSignals records the disposition of every catchable signal: the Go
// runtime's handlers (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP,
// SIGSYS, SIGPIPE, SIGINT, SIGTERM, SIGURG, SIGPROF...) and whatever
// the host set.
func saveSignals() *savedSignals {
	var s savedSignals
	for sig := 1; sig <= maxSignal; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		s[sig].ok = rtSigaction(sig, nil, &s[sig].sa) == nil
	}
	return &s
}

// restoreSignals puts back every disposition that changed since saveSignals
// and reports which ones it restored.
func restoreSignals(s *savedSignals) []unix.Signal {
	var changed []unix.Signal
	for sig := 1; sig <= maxSignal; sig++ {
		if !s[sig].ok {
			continue
		}
		var now kernelSigaction
		if rtSigaction(sig, nil, &now) != nil || now == s[sig].sa {
			continue
		}
		if rtSigaction(sig, &s[sig].sa, nil) == nil {
			changed = append(changed, unix.Signal(sig))
		}
	}
	return changed
}

// guardSignals runs fn (a chdb_connect) and restores any signal disposition
// it changed, which chDB should not do once handlers are disabled.
func guardSignals(fn func()) {
	saved := saveSignals()
	fn()
	if changed := restoreSignals(saved); len(changed) > 0 {
		lib.mu.Lock()
		lib.changedOnLoad = append(lib.changedOnLoad, changed...)
		lib.mu.Unlock()
	}
}
