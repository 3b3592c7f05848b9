package writer

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/internal/testkit/logstest"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

func logMessages(nLines, perRecord int, t0 int64) []kafka.Message {
	var msgs []kafka.Message
	for i, r := range logsBenchRecords(nLines, perRecord, t0) {
		// Spread the records over the partitions by key.
		msgs = append(msgs, kafka.Message{Topic: records.TopicLogs, Key: []byte{0, 0, 0, 0, 0, 0, 0, byte(i)}, Value: r})
	}
	return msgs
}

// TestParallelInsertWorkersStoreEachLineOnce: three insert workers on three
// connections store every line of eight partitions once and commit every
// offset: a restarted writer of the same group reads only what came after.
func TestParallelInsertWorkersStoreEachLineOnce(t *testing.T) {
	e := newEnv(t, bus.TopicSpec{Name: records.TopicLogs, Partitions: 8})
	var extra []store.Store
	for range 2 {
		extra = append(extra, e.openStore(t))
	}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	const first, second = 48_000, 8_000
	e.publish(t, logMessages(first, 800, t0)...)
	cfg := Config{GroupID: "parallel", Topics: []string{records.TopicLogs}, MaxBatchRows: 3_000, InsertStores: extra}
	w, stop := e.runWriter(t, cfg)
	e.waitScalar(t, `SELECT count() FROM logs`, strconv.Itoa(first), 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(w.metrics.batchRows); n == 0 {
		t.Fatal("no batch observed")
	}

	e.publish(t, logMessages(second, 800, t0+int64(time.Hour))...)
	w2, stop2 := e.runWriter(t, cfg)
	e.waitScalar(t, `SELECT count() FROM logs`, strconv.Itoa(first+second), 30*time.Second)
	time.Sleep(500 * time.Millisecond) // anything replayed would show up now
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w2.metrics.rows.WithLabelValues("logs")); got != second {
		t.Fatalf("the restarted writer stored %v lines, want only the %d new ones", got, second)
	}
	for _, sql := range []string{`SELECT count() FROM logs`, `SELECT count() FROM logs FINAL`, `SELECT uniqExact(service, time, entry_id) FROM logs`} {
		if got := e.scalar(t, sql); got != strconv.Itoa(first+second) {
			t.Errorf("%s = %s, want %d", sql, got, first+second)
		}
	}
}

// gatedStore holds the first insert on any of its stores until release is
// closed.
type gatedStore struct {
	store.Store
	gate *gate
}

type gate struct {
	once    sync.Once
	held    chan struct{} // closed once the first insert is waiting
	release chan struct{}
}

func (g gatedStore) Insert(ctx context.Context, b *store.Block) error {
	first := false
	g.gate.once.Do(func() { first = true })
	if first {
		close(g.gate.held)
		<-g.gate.release
	}
	return g.Store.Insert(ctx, b)
}

// TestLaterBatchWaitsToCommit: while one batch's insert hangs, the other
// worker stores the batches after it, but the committed offset never
// passes a line that is not stored; once the held batch is in, everything
// commits. One partition, so every batch follows the one before it.
func TestLaterBatchWaitsToCommit(t *testing.T) {
	e := newEnv(t, bus.TopicSpec{Name: records.TopicLogs, Partitions: 1})
	g := &gate{held: make(chan struct{}), release: make(chan struct{})}
	first := gatedStore{e.st, g}
	second := gatedStore{e.openStore(t), g}
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano()
	const lines = 24_000
	msgs := logMessages(lines, 800, t0)
	e.publish(t, msgs...)

	w := New(Config{Brokers: e.brokers, GroupID: "gated", Topics: []string{records.TopicLogs}, MaxBatchRows: 3_000,
		MaxBatchWait: 100 * time.Millisecond, InsertStores: []store.Store{second}},
		first, e.producer, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(testLog{t}, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(g.release) }) }
	defer func() {
		release() // a failed check must not leave the insert hanging
		cancel()
		<-done
	}()

	<-g.held
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(w.metrics.rows.WithLabelValues("logs")) < 3_000 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if testutil.ToFloat64(w.metrics.rows.WithLabelValues("logs")) < 3_000 {
		t.Fatal("the other worker stored nothing while one batch was held")
	}
	time.Sleep(300 * time.Millisecond) // time for a wrong commit to happen
	off := committed(t, e.brokers, "gated", records.TopicLogs, 1)
	stored := map[string]bool{}
	for _, id := range e.query(t, `SELECT toString(entry_id) FROM logs`) {
		stored[id] = true
	}
	if len(stored) == lines {
		t.Fatal("every line stored while one batch was held")
	}
	// Every line below the committed offset is stored (the topic holds the
	// records in publish order).
	for o := range off {
		got, err := logstest.Decode(0, msgs[o].Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range got {
			if !stored[`["`+strconv.FormatUint(l.EntryID, 10)+`"]`] {
				t.Fatalf("offset %d committed, but its line %q is not stored", o, l.Body)
			}
		}
	}
	release()
	e.waitScalar(t, `SELECT count() FROM logs`, strconv.Itoa(lines), 20*time.Second)
	for time.Now().Before(deadline) && committed(t, e.brokers, "gated", records.TopicLogs, 1) < len(msgs) {
		time.Sleep(50 * time.Millisecond)
	}
	if off := committed(t, e.brokers, "gated", records.TopicLogs, 1); off != len(msgs) {
		t.Fatalf("offset %d of %d committed after every batch was stored", off, len(msgs))
	}
}

// committed sums the group's committed offsets over the topic's partitions
// (a partition without a commit counts 0).
func committed(t *testing.T, brokers []string, group, topic string, partitions int) int {
	t.Helper()
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, p := range resp.Topics[topic] {
		if p.CommittedOffset > 0 {
			sum += int(p.CommittedOffset)
		}
	}
	return sum
}
