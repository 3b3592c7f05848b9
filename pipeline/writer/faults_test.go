package writer

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// While the store refuses every insert the writer backs off exponentially
// (visible on the backoff gauge), says why (FailingReason), and its lag,
// measured from the broker, rises; once the store is back every worker
// retries and everything is stored once and committed (the lag falls to 0).
func TestStoreOutageBackoffLagAndRecovery(t *testing.T) {
	e := newEnv(t, bus.TopicSpec{Name: records.TopicLogs, Partitions: 1})
	faults := &store.Faults{}
	faults.StoreDown(time.Hour, "unit test")
	first, second := faults.Wrap(e.st), faults.Wrap(e.openStore(t))
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	const lines = 24_000
	e.publish(t, logMessages(lines, 800, t0)...)

	w := New(Config{Brokers: e.brokers, GroupID: "outage", Topics: []string{records.TopicLogs}, MaxBatchRows: 3_000,
		MaxBatchWait: 100 * time.Millisecond, InsertStores: []store.Store{second}},
		first, e.producer, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(testLog{t}, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }() // stopped before the engine closes

	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s", d, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// 0.1 + 0.2 + 0.4 + 0.8 s of failures, then a 1.6 s wait.
	waitFor("the backoff to grow", 10*time.Second, func() bool { return testutil.ToFloat64(w.metrics.backoff) >= 1.6 })
	if w.Healthy() || !strings.Contains(w.FailingReason(), "injected fault (unit test)") {
		t.Fatalf("while the store is down: healthy %v, reason %q", w.Healthy(), w.FailingReason())
	}
	if n := testutil.ToFloat64(w.metrics.insertErrors); n < 4 {
		t.Fatalf("%v insert errors counted, want every failed attempt", n)
	}
	waitFor("the lag to show the unstored records", 12*time.Second, func() bool { return testutil.ToFloat64(w.metrics.lag) > 0 })

	faults.StoreDown(0, "")
	healed := time.Now()
	e.waitScalar(t, `SELECT count() FROM logs`, strconv.Itoa(lines), 20*time.Second)
	t.Logf("everything stored %v after the store came back", time.Since(healed).Round(time.Millisecond))
	if !w.Healthy() || w.FailingReason() != "" || testutil.ToFloat64(w.metrics.backoff) != 0 {
		t.Fatalf("after recovery: healthy %v, reason %q, backoff %v", w.Healthy(), w.FailingReason(), testutil.ToFloat64(w.metrics.backoff))
	}
	waitFor("the lag to fall to 0", 12*time.Second, func() bool { return testutil.ToFloat64(w.metrics.lag) == 0 })
	if got := e.scalar(t, `SELECT uniqExact(entry_id) FROM logs`); got != strconv.Itoa(lines) {
		t.Fatalf("%s distinct lines, want %d", got, lines)
	}
}
