package syslog

// The log collectors share their test helpers (internal/testkit/logstest);
// these names keep the tests short.

import (
	"context"
	"errors"
	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/segmentio/kafka-go"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit/logstest"
)

const testPartitions = logstest.Partitions

type (
	readLine    = logstest.Line
	acceptSink  = logstest.AcceptSink
	failingSink = logstest.FailingSink
)

var (
	partitions  = logstest.PartitionCount
	startBroker = logstest.StartBroker
	readLogs    = logstest.ReadLogs
	byBody      = logstest.ByBody
)

// countingSink accepts, keeping every line it was given.
type countingSink struct {
	mu    sync.Mutex
	lines []readLine
}

func (c *countingSink) Publish(_ context.Context, msgs ...kafka.Message) error {
	var got []readLine
	for _, m := range msgs {
		lines, err := logstest.Decode(0, m.Value)
		if err != nil {
			return err
		}
		got = append(got, lines...)
	}
	c.mu.Lock()
	c.lines = append(c.lines, got...)
	c.mu.Unlock()
	return nil
}

func (c *countingSink) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *countingSink) snapshot() []readLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]readLine(nil), c.lines...)
}

// waitFor polls until cond holds or the time is up.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gateSink fails (Kafka down) or blocks while told to, then passes to next.
type gateSink struct {
	next  ingest.Sink
	mu    sync.Mutex
	fail  bool
	block chan struct{} // non-nil: wait for it to close
	calls int
}

func (g *gateSink) Publish(ctx context.Context, msgs ...kafka.Message) error {
	g.mu.Lock()
	g.calls++
	fail, block := g.fail, g.block
	g.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return errors.New("kafka: broker not available")
	}
	return g.next.Publish(ctx, msgs...)
}

func (g *gateSink) set(fail bool, block chan struct{}) {
	g.mu.Lock()
	g.fail, g.block = fail, block
	g.mu.Unlock()
}
