// Package testkit holds helpers shared by Firebreak's tests: finding the
// Debian tools and the embedded engine they need, and deciding whether a
// missing one skips the test (developer machines) or fails it (CI sets
// FIREBREAK_REQUIRE_TOOLS=1, so CI never silently skips).
package testkit

import (
	"os"
	"os/exec"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/chdblib"
)

// Required reports whether missing tools must fail tests.
func Required() bool { return os.Getenv("FIREBREAK_REQUIRE_TOOLS") == "1" }

// Tool returns the path of a Debian tool, or skips (fails under
// FIREBREAK_REQUIRE_TOOLS=1) with the command that installs it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" not installed: apt-get install "+debianPackage)
	}
	return p
}

// ChdbLib returns the embedded engine's path, or skips (fails under
// FIREBREAK_REQUIRE_TOOLS=1) telling how to install it.
func ChdbLib(t testing.TB) string {
	t.Helper()
	p, err := chdblib.Locate()
	if err != nil {
		missing(t, "embedded ClickHouse engine not installed: run `go run ./cmd/firebreak setup` ("+err.Error()+")")
	}
	return p
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
