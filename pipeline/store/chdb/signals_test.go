package chdb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// The panic tests re-run this test binary as a child that opens an engine and
// then panics: with chDB's signal handlers in place the child would hang.
const (
	panicChildEnv = "FIREBREAK_CHDB_PANIC_CHILD" // "panic" or "nil"
	panicDirEnv   = "FIREBREAK_CHDB_PANIC_DIR"
)

// panicChild runs in the child process, from TestMain.
func panicChild() {
	s, err := Open(Config{DataDir: os.Getenv(panicDirEnv)})
	if os.Getenv(panicChildEnv) == "open" { // TestSecondProcessRefused
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	if _, err := s.Query(context.Background(), "SELECT 1", store.QueryOptions{ReadOnly: true}); err != nil {
		fmt.Fprintln(os.Stderr, "child query:", err)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stderr, "child: engine open, panicking")
	go func() {
		if os.Getenv(panicChildEnv) == "nil" {
			var p *store.Block
			_ = p.Table // SIGSEGV, turned into a Go panic by the runtime's handler
		}
		panic("deliberate panic after Open")
	}()
	time.Sleep(time.Hour) // the panic ends the process long before
	os.Exit(0)
}

func TestPanicExitsProcess(t *testing.T) {
	needEngine(t)
	for _, mode := range []string{"panic", "nil"} {
		t.Run(mode, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(c, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), panicChildEnv+"="+mode, panicDirEnv+"="+t.TempDir())
			pipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Time from the panic, not from the child's (slower) engine start.
			var out strings.Builder
			var panicked time.Time
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				if panicked.IsZero() && strings.Contains(sc.Text(), "panicking") {
					panicked = time.Now()
				}
				out.WriteString(sc.Text() + "\n")
			}
			err = cmd.Wait()
			if c.Err() != nil {
				t.Fatalf("child still running after 60 s: a Go panic hangs the process.\n%s", out.String())
			}
			if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(out.String(), "panic: ") {
				t.Fatalf("child exited with %v, want the Go panic exit status 2:\n%s", err, out.String())
			}
			if panicked.IsZero() {
				t.Fatalf("child never reached its panic:\n%s", out.String())
			}
			if d := time.Since(panicked); d > 5*time.Second {
				t.Errorf("child took %s to exit after panicking", d)
			}
			t.Logf("child exited %s after its panic", time.Since(panicked).Round(time.Millisecond))
			if mode == "nil" && !strings.Contains(out.String(), "nil pointer dereference") {
				t.Errorf("SIGSEGV was not turned into a Go panic:\n%s", out.String())
			}
		})
	}
}

func TestRecoveredPanicKeepsEngineWorking(t *testing.T) {
	needEngine(t)
	for i := range 3 {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("no panic")
				}
			}()
			if i%2 == 0 {
				var m map[string]int
				m["x"] = 1 // runtime panic
			}
			var p *Store
			_ = p.dir // SIGSEGV -> runtime error
		}()
		if r := mustQuery(t, testStore, "SELECT 1 + 1", true); toJSON(t, r.Rows) != `[[2]]` {
			t.Fatalf("after recovered panic: %s", toJSON(t, r.Rows))
		}
	}
}

// TestSecondProcessRefused: another process cannot open our data directory.
func TestSecondProcessRefused(t *testing.T) {
	needEngine(t)
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), panicChildEnv+"=open", panicDirEnv+"="+testStore.dir)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 4 {
		t.Fatalf("second process opening %s: %v\n%s", testStore.dir, err, out)
	}
	t.Logf("second process: %s", strings.TrimSpace(string(out)))
	if err := testStore.Ping(ctx); err != nil {
		t.Fatalf("first process's engine broken: %v", err)
	}
}
