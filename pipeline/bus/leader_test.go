package bus_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
)

// member is one process's RunAsLeader: how often its stage started, and
// whether it runs now.
type member struct {
	mu      sync.Mutex
	starts  int
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func (m *member) state() (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.starts, m.running
}

func join(t *testing.T, addr, group, topic string) *member {
	m := &member{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		defer close(m.done)
		err := bus.RunAsLeader(ctx, []string{addr}, group, topic, log, func(ctx context.Context) error {
			m.mu.Lock()
			m.starts++
			m.running = true
			m.mu.Unlock()
			<-ctx.Done()
			m.mu.Lock()
			m.running = false
			m.mu.Unlock()
			return nil
		})
		if err != nil {
			t.Errorf("RunAsLeader: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// One member runs the stage; a standby joining does not take it away (nor
// restart it); when the active member leaves, the standby runs it.
func TestRunAsLeaderIsStickyAndHandsOver(t *testing.T) {
	br, err := broker.Start(broker.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic, group = "lease.test", "lease-test"
	if err := bus.EnsureTopics(ctx, []string{br.Addr()}, []bus.TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}

	a := join(t, br.Addr(), group, topic)
	eventually(t, 20*time.Second, "the first member never ran the stage", func() bool { _, r := a.state(); return r })
	// Standbys join one after another: each join rebalances the group.
	b := join(t, br.Addr(), group, topic)
	c := join(t, br.Addr(), group, topic)
	time.Sleep(6 * time.Second) // a few heartbeats: both joins have rebalanced
	if starts, running := a.state(); starts != 1 || !running {
		t.Fatalf("active member after two standbys joined: started %d times, running %v; want once, still running", starts, running)
	}
	for i, m := range []*member{b, c} {
		if starts, _ := m.state(); starts != 0 {
			t.Fatalf("standby %d ran the stage %d times while the active member was alive", i, starts)
		}
	}

	// The active member leaves: exactly one standby takes over.
	a.cancel()
	<-a.done
	eventually(t, 20*time.Second, "no standby took over", func() bool {
		_, rb := b.state()
		_, rc := c.state()
		return rb || rc
	})
	time.Sleep(2 * time.Second)
	_, rb := b.state()
	_, rc := c.state()
	if rb == rc {
		t.Fatalf("after the hand-over: standby b running %v, c running %v; want exactly one", rb, rc)
	}
}
