package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/schema"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

// env is a real embedded broker and a real embedded engine with the
// migrated schema. The engine runs one data directory per process, so tests
// using env never run in parallel; each closes its engine when it ends.
type env struct {
	brokers  []string
	lib, dir string // the engine's library and data directory
	st       *chdb.Store
	producer *bus.Producer
}

// testPartitions is the partition count of the multi-partition test topics.
const testPartitions = 4

func newEnv(t testing.TB, topics ...bus.TopicSpec) *env {
	t.Helper()
	lib := testkit.ChdbLib(t)
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e := &env{brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	specs := append(topics, bus.TopicSpec{Name: records.TopicDeadLetter, Partitions: 1})
	if err := bus.EnsureTopics(ctx, e.brokers, specs); err != nil {
		t.Fatal(err)
	}
	e.lib, e.dir = lib, t.TempDir()
	e.st, err = chdb.Open(chdb.Config{LibPath: lib, DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	if err := schema.Migrate(ctx, e.st, schema.Options{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	e.producer = bus.NewProducer(e.brokers, "writer-test")
	t.Cleanup(func() { e.producer.Close() })
	return e
}

// openStore opens another Store (its own connections) on the engine.
func (e *env) openStore(t testing.TB) *chdb.Store {
	t.Helper()
	st, err := chdb.Open(chdb.Config{LibPath: e.lib, DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) publish(t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.producer.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// runWriter starts a writer of cfg's topics in the group and returns a stop
// function that cancels it and returns Run's error.
func (e *env) runWriter(t *testing.T, cfg Config) (*Writer, func() error) {
	t.Helper()
	cfg.Brokers = e.brokers
	if cfg.MaxBatchWait == 0 {
		cfg.MaxBatchWait = 100 * time.Millisecond
	}
	w := New(cfg, e.st, e.producer, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(testLog{t}, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("writer did not stop within 20 s")
		}
	}
	t.Cleanup(func() { stop() })
	return w, stop
}

// query returns the rows of sql, each as the JSON of its values.
func (e *env) query(t *testing.T, sql string) []string {
	t.Helper()
	res, err := e.st.Query(context.Background(), sql, storeQueryOpts)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// scalar returns the one value of sql as text.
func (e *env) scalar(t testing.TB, sql string) string {
	t.Helper()
	got, ok := e.tryScalar(t, sql)
	if !ok {
		t.Fatalf("%s: want one value, got %s", sql, got)
	}
	return got
}

// tryScalar runs sql: its one value, or false and the rows it returned
// when that is not exactly one row of one value.
func (e *env) tryScalar(t testing.TB, sql string) (string, bool) {
	t.Helper()
	res, err := e.st.Query(context.Background(), sql, storeQueryOpts)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return fmt.Sprint(res.Rows), false
	}
	return fmt.Sprint(res.Rows[0][0]), true
}

// waitScalar polls sql until it returns want or the timeout passes. A
// query that returns no row yet (a non-aggregate SELECT over a table whose
// topic the writer has not reached) is polled like a wrong value: the
// writer stores each topic on its own.
func (e *env) waitScalar(t *testing.T, sql, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for {
		var ok bool
		got, ok = e.tryScalar(t, sql)
		if ok && got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("%s = %s after %v, want %s", oneLine(sql), got, timeout, want)
	}
}

// deadLetters reads n records from the dead-letter topic, as their source
// topic and error headers.
func (e *env) deadLetters(t *testing.T, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.brokers, Topic: records.TopicDeadLetter, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("dead letter %d of %d: %v", len(out)+1, n, err)
		}
		out = append(out, m)
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// testLog sends the writer's log to the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// storeQueryOpts reads on the engine's read-only connection, which never
// waits behind the writer's inserts.
var storeQueryOpts = store.QueryOptions{ReadOnly: true}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
