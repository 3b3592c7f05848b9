package chserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// openDebian starts Debian's clickhouse-server and opens a Store on it.
func openDebian(t *testing.T, limits store.Limits) (*Store, string) {
	t.Helper()
	addr := StartDebianServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, "clickhouse://default@"+addr+"/default?dial_timeout=5s", limits)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

func wantQueryError(t *testing.T, err error, substrings ...string) *store.QueryError {
	t.Helper()
	var qe *store.QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("want *store.QueryError, got %T %v", err, err)
	}
	for _, sub := range substrings {
		if !strings.Contains(qe.Message, sub) {
			t.Errorf("QueryError %q does not contain %q", qe.Message, sub)
		}
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("QueryError %v also wraps ErrUnavailable", err)
	}
	return qe
}

func mustQuery(t *testing.T, s *Store, sql string, opts store.QueryOptions) *store.Result {
	t.Helper()
	res, err := s.Query(context.Background(), sql, opts)
	if err != nil {
		t.Fatalf("Query(%s): %v", sql, err)
	}
	return res
}

// TestDebianServerSmoke checks the native-protocol plumbing against
// Debian's clickhouse-server 18.16 on a reduced table (18.16 has no
// DateTime64, Map, TTL or query parameters).
func TestDebianServerSmoke(t *testing.T) {
	s, _ := openDebian(t, store.Limits{MaxResultRows: 1000, MaxExecutionSecs: 1})
	ctx := context.Background()

	if s.Kind() != "clickhouse" {
		t.Errorf("Kind = %q", s.Kind())
	}
	version, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server version %s, protocol revision %d, legacy settings %v", version, s.revision, s.legacySettings)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	if err := s.Exec(ctx, `CREATE TABLE smoke (
		id UInt64, ts DateTime, msg String, value Float64, tags Array(String)
	) ENGINE = MergeTree() ORDER BY (id, ts)`); err != nil {
		t.Fatal(err)
	}

	// One block of 100k rows.
	const n = 100_000
	const base = 1795325604 // 2026-11-22T05:33:24Z
	ids := make([]uint64, n)
	ts := make([]uint32, n)
	msgs := make([]string, n)
	values := make([]float64, n)
	tags := make([][]string, n)
	for i := range n {
		ids[i] = uint64(i)
		ts[i] = uint32(base + i)
		msgs[i] = fmt.Sprintf("message %d from \"svc\"\n\ttab", i)
		values[i] = float64(i) * 0.25
		tags[i] = []string{"svc-" + fmt.Sprint(i%7), "env"}[:1+i%2]
	}
	// The last row carries extremes: exact 64-bit id, NaN, empty array.
	ids[n-1] = math.MaxUint64
	values[n-1] = math.NaN()
	tags[n-1] = []string{}
	block := &store.Block{Table: "smoke", Columns: []store.ColumnData{
		{Name: "id", Type: "UInt64", Data: ids},
		{Name: "ts", Type: "DateTime", Data: ts},
		{Name: "msg", Type: "String", Data: msgs},
		{Name: "value", Type: "Float64", Data: values},
		{Name: "tags", Type: "Array(String)", Data: tags},
	}}
	start := time.Now()
	if err := s.Insert(ctx, block); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	elapsed := time.Since(start)
	t.Logf("inserted %d rows in one block in %v: %.0f rows/s", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())

	res := mustQuery(t, s, "SELECT count() AS c, sum(id) AS s, sumIf(value, isFinite(value)) AS v, min(ts) AS lo, max(ts) AS hi FROM smoke WHERE id < 1000000", store.QueryOptions{})
	wantColumns := []store.Column{
		{Name: "c", Type: "UInt64"}, {Name: "s", Type: "UInt64"}, {Name: "v", Type: "Float64"},
		{Name: "lo", Type: "DateTime"}, {Name: "hi", Type: "DateTime"},
	}
	if !reflect.DeepEqual(res.Columns, wantColumns) {
		t.Errorf("columns = %+v, want %+v", res.Columns, wantColumns)
	}
	// ids 0..99998; values i/4 for the same rows.
	wantRow := []any{
		json.Number("99999"), json.Number("4999850001"), json.Number("1249962500.25"),
		"2026-11-22T05:33:24Z", "2026-11-23T09:20:02Z",
	}
	if len(res.Rows) != 1 || !reflect.DeepEqual(res.Rows[0], wantRow) {
		t.Errorf("aggregate rows = %#v, want %#v", res.Rows, []any{wantRow})
	}

	res = mustQuery(t, s, "SELECT id, ts, msg, value, tags FROM smoke WHERE id IN (0, 1, 18446744073709551615) ORDER BY id", store.QueryOptions{ReadOnly: true})
	want := [][]any{
		{json.Number("0"), "2026-11-22T05:33:24Z", "message 0 from \"svc\"\n\ttab", json.Number("0"), []any{"svc-0"}},
		{json.Number("1"), "2026-11-22T05:33:25Z", "message 1 from \"svc\"\n\ttab", json.Number("0.25"), []any{"svc-1", "env"}},
		{json.Number("18446744073709551615"), "2026-11-23T09:20:03Z", "message 99999 from \"svc\"\n\ttab", nil, []any{}},
	}
	if !reflect.DeepEqual(res.Rows, want) {
		t.Errorf("rows =\n%#v\nwant\n%#v", res.Rows, want)
	}
	if b, err := json.Marshal(res); err != nil {
		t.Error(err)
	} else if !strings.Contains(string(b), `[18446744073709551615,"2026-11-23T09:20:03Z"`) {
		t.Errorf("JSON lost 64-bit exactness: %s", b)
	}

	// Scalar types 18.16 knows, through the generic conversion.
	res = mustQuery(t, s, `SELECT toInt8(-8), toUInt8(200), toInt64(-9223372036854775808), toFloat32(0.1),
		1/0, toDate('2026-11-22'), toDateTime('2026-11-22 05:33:24', 'UTC'), toNullable(toString('x')), CAST(NULL AS Nullable(UInt32)),
		toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0'), CAST('b' AS Enum8('a' = 1, 'b' = 2)), toDecimal64(12.345, 3),
		toFixedString('ab', 2), [[1, 2], [3]], tuple(1, 'a'), toLowCardinality('lc'), NULL`, store.QueryOptions{})
	wantScalars := []any{
		json.Number("-8"), json.Number("200"), json.Number("-9223372036854775808"), json.Number("0.1"),
		nil, "2026-11-22", "2026-11-22T05:33:24Z", "x", nil,
		"61f0c404-5cb3-11e7-907b-a6006ad3dba0", "b", json.Number("12.345"),
		"ab", []any{[]any{json.Number("1"), json.Number("2")}, []any{json.Number("3")}}, []any{json.Number("1"), "a"}, "lc", nil,
	}
	if len(res.Rows) != 1 || !reflect.DeepEqual(res.Rows[0], wantScalars) {
		t.Errorf("scalars =\n%#v\nwant\n%#v\ncolumns %+v", res.Rows, wantScalars, res.Columns)
	}

	// Server exceptions become *store.QueryError with the server's text.
	_, err = s.Query(ctx, "SELEC 1", store.QueryOptions{})
	qe := wantQueryError(t, err, "Syntax error")
	t.Logf("bad query: %s", qe.Message)
	_, err = s.Query(ctx, "SELECT nope FROM smoke", store.QueryOptions{ReadOnly: true})
	qe = wantQueryError(t, err, "nope")
	t.Logf("unknown column: %s", qe.Message)
	err = s.Exec(ctx, "DROP TABLE missing_table")
	qe = wantQueryError(t, err, "missing_table")
	t.Logf("drop missing table: %s", qe.Message)
	err = s.Insert(ctx, &store.Block{Table: "missing_table", Columns: []store.ColumnData{{Name: "id", Type: "UInt64", Data: []uint64{1}}}})
	qe = wantQueryError(t, err, "missing_table")
	t.Logf("insert into missing table: %s", qe.Message)

	// Read-only queries: writes, DDL and settings changes are refused by
	// the server, limits apply.
	for _, q := range []string{
		"INSERT INTO smoke (id, ts, msg, value, tags) VALUES (7, now(), 'x', 1, [])",
		"INSERT INTO smoke (id, ts, msg, value, tags) SELECT 7, now(), 'x', 1, []",
		"DROP TABLE smoke",
		"CREATE TABLE other (x UInt8) ENGINE = Memory",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT 1 SETTINGS max_result_rows = 0",
		"SET readonly = 0",
		// 18.16 also forbids table functions, even numbers(), in readonly
		// mode (current servers allow numbers()).
		"SELECT * FROM numbers(10)",
	} {
		_, err := s.Query(ctx, q, store.QueryOptions{ReadOnly: true})
		qe := wantQueryError(t, err)
		t.Logf("read-only %q refused: %s", q, qe.Message)
	}
	// The same statement without ReadOnly works (it is not the user).
	if _, err := s.Query(ctx, "SELECT 1 SETTINGS max_result_rows = 0", store.QueryOptions{}); err != nil {
		t.Errorf("non-read-only SETTINGS: %v", err)
	}
	if res := mustQuery(t, s, "SELECT count() FROM smoke", store.QueryOptions{}); !reflect.DeepEqual(res.Rows, [][]any{{json.Number("100000")}}) {
		t.Errorf("after read-only writes count = %v, want 100000", res.Rows)
	}
	_, err = s.Query(ctx, "SELECT number FROM system.numbers LIMIT 5000", store.QueryOptions{ReadOnly: true})
	qe = wantQueryError(t, err, "Limit for result exceeded")
	t.Logf("max_result_rows: %s", qe.Message)
	if res := mustQuery(t, s, "SELECT number FROM system.numbers LIMIT 5000", store.QueryOptions{}); len(res.Rows) != 5000 {
		t.Errorf("without ReadOnly got %d rows, want 5000", len(res.Rows))
	}
	start = time.Now()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = s.Query(tctx, "SELECT count() FROM system.numbers", store.QueryOptions{ReadOnly: true})
	cancel()
	qe = wantQueryError(t, err, "Timeout exceeded")
	t.Logf("max_execution_time=1 (caller deadline 20s): %s after %v", qe.Message, time.Since(start).Round(time.Millisecond))

	// A dedup token needs a string setting, which 18.16 cannot receive.
	err = s.Insert(ctx, &store.Block{Table: "smoke", DedupToken: "tok", Columns: block.Columns[:0]})
	if err == nil {
		t.Error("Insert of a block without columns succeeded")
	}
	one := &store.Block{Table: "smoke", DedupToken: "tok", Columns: []store.ColumnData{
		{Name: "id", Type: "UInt64", Data: []uint64{5}},
		{Name: "ts", Type: "DateTime", Data: []uint32{base}},
		{Name: "msg", Type: "String", Data: []string{"x"}},
		{Name: "value", Type: "Float64", Data: []float64{1}},
		{Name: "tags", Type: "Array(String)", Data: [][]string{nil}},
	}}
	if err := s.Insert(ctx, one); err == nil {
		t.Error("Insert with DedupToken on 18.16 succeeded; want a refusal")
	} else {
		t.Logf("dedup token on 18.16: %v", err)
	}

	// Identifiers are validated before anything reaches the server.
	for _, bad := range []*store.Block{
		{Table: "smoke; DROP TABLE smoke", Columns: one.Columns},
		{Table: "smoke", Columns: []store.ColumnData{{Name: "id`", Type: "UInt64", Data: []uint64{1}}}},
	} {
		if err := s.Insert(ctx, bad); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("Insert(%q) = %v, want invalid identifier", bad.Table, err)
		}
	}
}

// TestOpenUnavailable: nothing listens on the port, so Open fails quickly
// with an error wrapping store.ErrUnavailable.
func TestOpenUnavailable(t *testing.T) {
	port := freePort(t)
	start := time.Now()
	_, err := Open(context.Background(), fmt.Sprintf("clickhouse://127.0.0.1:%d/default?dial_timeout=2s", port), store.Limits{})
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("error %v does not wrap store.ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Open took %v", d)
	}
	t.Logf("Open: %v (%v)", err, time.Since(start).Round(time.Microsecond))
}

// TestOpenHangsUp: a listener that accepts and closes at once (a server
// going down) also yields ErrUnavailable.
func TestOpenHangsUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, err = Open(context.Background(), "clickhouse://"+l.Addr().String()+"/default?dial_timeout=2s", store.Limits{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("error %v does not wrap store.ErrUnavailable", err)
	}
	t.Logf("Open: %v", err)
}

// TestOpenSilentServer: the server accepts but never answers; Open returns
// when the caller's deadline expires, with ErrUnavailable.
func TestOpenSilentServer(t *testing.T) {
	// A listener that accepts but never answers: the caller's deadline
	// expires during the handshake.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, "clickhouse://"+l.Addr().String()+"/default?dial_timeout=5s", store.Limits{})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open took %v with a 300ms deadline", d)
	}
	for len(accepted) > 0 {
		conns = append(conns, <-accepted)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("error %v does not wrap store.ErrUnavailable", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	t.Logf("Open against a silent server: %v after %v", err, time.Since(start).Round(time.Millisecond))
}

// TestDebianServerMemoryLimit: MaxMemoryBytes reaches the server as
// max_memory_usage for read-only queries only.
func TestDebianServerMemoryLimit(t *testing.T) {
	s, _ := openDebian(t, store.Limits{MaxMemoryBytes: 16 << 20})
	const q = "SELECT length(groupArray(number)) FROM (SELECT number FROM system.numbers LIMIT 10000000)"
	_, err := s.Query(context.Background(), q, store.QueryOptions{ReadOnly: true})
	qe := wantQueryError(t, err, "Memory limit")
	t.Logf("max_memory_usage=16MiB: %s", qe.Message)
	res := mustQuery(t, s, q, store.QueryOptions{})
	if !reflect.DeepEqual(res.Rows, [][]any{{json.Number("10000000")}}) {
		t.Errorf("without ReadOnly: %v", res.Rows)
	}
}

// TestUnavailableWhenServerGoesAway: once the server is gone, every call on
// an open Store reports ErrUnavailable, and calls work again when it is back.
func TestUnavailableWhenServerGoesAway(t *testing.T) {
	addr := StartDebianServer(t)
	p := startProxy(t, addr)
	ctx := context.Background()
	s, err := Open(ctx, "clickhouse://default@"+p.addr()+"/default?dial_timeout=2s", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Exec(ctx, "CREATE TABLE away (a UInt64) ENGINE = MergeTree() ORDER BY a"); err != nil {
		t.Fatal(err)
	}
	blk := &store.Block{Table: "away", Columns: []store.ColumnData{{Name: "a", Type: "UInt64", Data: []uint64{1, 2}}}}
	if err := s.Insert(ctx, blk); err != nil {
		t.Fatal(err)
	}

	p.stop()
	checks := map[string]func() error{
		"Ping": func() error { return s.Ping(ctx) },
		"Exec": func() error { return s.Exec(ctx, "OPTIMIZE TABLE away") },
		"Query": func() error {
			_, err := s.Query(ctx, "SELECT count() FROM away", store.QueryOptions{ReadOnly: true})
			return err
		},
		"Insert":  func() error { return s.Insert(ctx, blk) },
		"Version": func() error { _, err := s.Version(ctx); return err },
	}
	for name, call := range checks {
		start := time.Now()
		err := call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the server gone: %v, want ErrUnavailable", name, err)
		}
		var qe *store.QueryError
		if errors.As(err, &qe) {
			t.Errorf("%s with the server gone returned a QueryError: %v", name, err)
		}
		t.Logf("%s: %v (%v)", name, err, time.Since(start).Round(time.Microsecond))
	}

	p.restart(t)
	res, err := s.Query(ctx, "SELECT count() FROM away", store.QueryOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("after the server is back: %v", err)
	}
	if !reflect.DeepEqual(res.Rows, [][]any{{json.Number("2")}}) {
		t.Errorf("count = %v", res.Rows)
	}
}

// proxy forwards a loopback port to a server; stop cuts every connection
// and closes the port, as a crashed server would.
type proxy struct {
	target string
	port   int
	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target}
	p.restart(t)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *proxy) restart(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestDebianServerCallerDeadline: the caller's deadline stops a long query
// (read-only or not) promptly; the error wraps the context's error, is not
// an outage, and the Store keeps working.
func TestDebianServerCallerDeadline(t *testing.T) {
	s, _ := openDebian(t, store.Limits{})
	for _, ro := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := s.Query(ctx, "SELECT count() FROM system.numbers", store.QueryOptions{ReadOnly: ro})
		cancel()
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("readonly=%v: %v, want context.DeadlineExceeded", ro, err)
		}
		if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("readonly=%v: caller deadline reported as ErrUnavailable: %v", ro, err)
		}
		if took > 3*time.Second {
			t.Errorf("readonly=%v: query stopped after %v", ro, took)
		}
		t.Logf("readonly=%v: %v after %v", ro, err, took.Round(time.Millisecond))
		if _, err := s.Query(context.Background(), "SELECT 1", store.QueryOptions{ReadOnly: ro}); err != nil {
			t.Errorf("after a cancelled query: %v", err)
		}
	}
}
