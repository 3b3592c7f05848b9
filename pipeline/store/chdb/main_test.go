package chdb

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/chdblib"
)

// testStore is the package's one engine (one engine per process), opened
// by TestMain in a temporary directory.
var testStore *Store

// skipReason is set when libchdb.so is not installed: every test that needs
// the engine skips with it (pure-Go tests still run).
var skipReason string

var ctx = context.Background()

func TestMain(m *testing.M) {
	if os.Getenv(panicChildEnv) != "" {
		panicChild() // never returns
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	lib, err := chdblib.Locate()
	if err != nil {
		skipReason = fmt.Sprintf("chDB engine tests skipped: %v", err)
		fmt.Fprintln(os.Stderr, skipReason)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "firebreak-chdb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testStore, err = Open(Config{LibPath: lib, DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if testStore != nil {
		testStore.Close()
	}
	return code
}

// needEngine skips t when the library is not installed.
func needEngine(t testing.TB) {
	t.Helper()
	if testStore == nil {
		if skipReason == "" {
			skipReason = "chDB engine not open"
		}
		t.Skip(skipReason)
	}
}
