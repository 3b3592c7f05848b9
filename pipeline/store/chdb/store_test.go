package chdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

func mustExec(t *testing.T, sql string) {
	t.Helper()
	if err := testStore.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func mustQuery(t *testing.T, s *Store, sql string, ro bool) *store.Result {
	t.Helper()
	r, err := s.Query(ctx, sql, store.QueryOptions{ReadOnly: ro})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return r
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// queryErr runs a query that must fail with a *store.QueryError.
func queryErr(t *testing.T, s *Store, sql string, ro bool) string {
	t.Helper()
	r, err := s.Query(ctx, sql, store.QueryOptions{ReadOnly: ro})
	var qe *store.QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("%s: got result %v, error %v; want a *store.QueryError", sql, r, err)
	}
	return qe.Message
}

func TestKindVersionPing(t *testing.T) {
	needEngine(t)
	if testStore.Kind() != "chdb" {
		t.Fatalf("Kind() = %q", testStore.Kind())
	}
	v, err := testStore.Version(ctx)
	if err != nil || !strings.HasPrefix(v, "26.") {
		t.Fatalf("Version() = %q, %v; want 26.x", v, err)
	}
	if err := testStore.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

var (
	when   = time.Date(2026, 11, 22, 5, 33, 24, 123456789, time.UTC)
	blobby = "line1\n\nline2 'quoted' \\ back\x00nul é ✓"
)

// TestColumnTypesRoundTrip inserts every column type of store.ColumnData and
// reads it back as the JSON the API would return.
func TestColumnTypesRoundTrip(t *testing.T) {
	needEngine(t)
	mustExec(t, `CREATE TABLE types (
		u8 UInt8, u32 UInt32, u64 UInt64, i32 Int32, i64 Int64, f64 Float64,
		s String, lc LowCardinality(String),
		t3 DateTime64(3), t9 DateTime64(9), dt DateTime,
		arr Array(String), arrlc Array(LowCardinality(String)),
		mlc Map(LowCardinality(String), String), m Map(String, String)
	) ENGINE = MergeTree ORDER BY u64`)
	b := &store.Block{Table: "types", Columns: []store.ColumnData{
		{Name: "u8", Type: "UInt8", Data: []uint8{0, 255, 7}},
		{Name: "u32", Type: "UInt32", Data: []uint32{0, math.MaxUint32, 7}},
		{Name: "u64", Type: "UInt64", Data: []uint64{0, math.MaxUint64, 7}},
		{Name: "i32", Type: "Int32", Data: []int32{math.MinInt32, math.MaxInt32, -7}},
		{Name: "i64", Type: "Int64", Data: []int64{math.MinInt64, math.MaxInt64, -7}},
		{Name: "f64", Type: "Float64", Data: []float64{0.1, math.NaN(), math.Inf(-1)}},
		{Name: "s", Type: "String", Data: []string{"", blobby, "plain"}},
		{Name: "lc", Type: "LowCardinality(String)", Data: []string{"a", "b", "a"}},
		{Name: "t3", Type: "DateTime64(3)", Data: []int64{0, when.UnixMilli(), -1}},
		{Name: "t9", Type: "DateTime64(9)", Data: []int64{0, when.UnixNano(), 1}},
		{Name: "dt", Type: "DateTime", Data: []uint32{0, uint32(when.Unix()), 1}},
		{Name: "arr", Type: "Array(String)", Data: [][]string{nil, {"x", "", "y\n\nz"}, {"only"}}},
		{Name: "arrlc", Type: "Array(LowCardinality(String))", Data: [][]string{{}, {"p", "q"}, {"p"}}},
		{Name: "mlc", Type: "Map(LowCardinality(String), String)", Data: []map[string]string{{}, {"k2": "v2", "k1": "v1"}, nil}},
		{Name: "m", Type: "Map(String, String)", Data: []map[string]string{nil, {"": "empty key", "q'": blobby}, {"a": "b"}}},
	}}
	if err := testStore.Insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		r := mustQuery(t, testStore, "SELECT * FROM types ORDER BY u64", ro)
		wantCols := `[{"name":"u8","type":"UInt8"},{"name":"u32","type":"UInt32"},{"name":"u64","type":"UInt64"},` +
			`{"name":"i32","type":"Int32"},{"name":"i64","type":"Int64"},{"name":"f64","type":"Float64"},` +
			`{"name":"s","type":"String"},{"name":"lc","type":"LowCardinality(String)"},` +
			`{"name":"t3","type":"DateTime64(3)"},{"name":"t9","type":"DateTime64(9)"},{"name":"dt","type":"DateTime"},` +
			`{"name":"arr","type":"Array(String)"},{"name":"arrlc","type":"Array(LowCardinality(String))"},` +
			`{"name":"mlc","type":"Map(LowCardinality(String), String)"},{"name":"m","type":"Map(String, String)"}]`
		if got := toJSON(t, r.Columns); got != wantCols {
			t.Errorf("columns\n got %s\nwant %s", got, wantCols)
		}
		bl := toJSON(t, blobby)
		want := `[` +
			`[0,0,0,-2147483648,-9223372036854775808,0.1,"","a","1970-01-01T00:00:00.000Z","1970-01-01T00:00:00.000000000Z","1970-01-01T00:00:00Z",[],[],{},{}],` +
			`[7,7,7,-7,-7,null,"plain","a","1969-12-31T23:59:59.999Z","1970-01-01T00:00:00.000000001Z","1970-01-01T00:00:01Z",["only"],["p"],{},{"a":"b"}],` +
			`[255,4294967295,18446744073709551615,2147483647,9223372036854775807,null,` + bl + `,"b",` +
			`"2026-11-22T05:33:24.123Z","2026-11-22T05:33:24.123456789Z","2026-11-22T05:33:24Z",` +
			`["x","","y\n\nz"],["p","q"],{"k1":"v1","k2":"v2"},{"":"empty key","q'":` + bl + `}]` +
			`]`
		if got := toJSON(t, r.Rows); got != want {
			t.Errorf("readonly=%v rows\n got %s\nwant %s", ro, got, want)
		}
		// 64-bit integers are exact json.Numbers, never floats or strings.
		if n, ok := r.Rows[2][2].(json.Number); !ok || n.String() != "18446744073709551615" {
			t.Errorf("UInt64 max decoded as %T %v", r.Rows[2][2], r.Rows[2][2])
		}
	}
}

// TestResultContract checks query-only types against store.Result's rules.
func TestResultContract(t *testing.T) {
	needEngine(t)
	r := mustQuery(t, testStore, `SELECT true AS b, NULL AS n, toNullable(3) AS nn, CAST(NULL AS Nullable(String)) AS ns,
		tuple(1, 'x') AS t, CAST((1, 'x') AS Tuple(a UInt8, b String)) AS nt, [1, 2] AS a, map('k', 1) AS m,
		toDate('2026-11-22') AS d, toDateTime('2026-11-22 05:33:24', 'Asia/Tokyo') AS dtz,
		toDateTime64('2026-11-22 05:33:24.5', 1, 'Europe/Paris') AS d64tz, toDecimal64(1.5, 3) AS dec,
		1/0 AS inf, 0/0 AS nan, toFloat32(0.5) AS f32, -0.0 AS negz, toInt8(-1) AS i8`, true)
	want := `[[true,null,3,null,[1,"x"],[1,"x"],[1,2],{"k":1},"2026-11-22","2026-11-21T20:33:24Z",` +
		`"2026-11-22T04:33:24.5Z",1.5,null,null,0.5,-0,-1]]`
	if got := toJSON(t, r.Rows); got != want {
		t.Errorf("rows\n got %s\nwant %s", got, want)
	}
}

func TestEmptyResult(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE empty_t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
	for _, ro := range []bool{false, true} {
		r := mustQuery(t, testStore, "SELECT a, s FROM empty_t WHERE a > 5", ro)
		if got := toJSON(t, r); got != `{"columns":[{"name":"a","type":"UInt64"},{"name":"s","type":"String"}],"rows":[]}` {
			t.Errorf("readonly=%v: %s", ro, got)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	needEngine(t)
	for _, ro := range []bool{false, true} {
		msg := queryErr(t, testStore, "SELEC 1", ro)
		if !strings.Contains(msg, "Syntax error") || !strings.Contains(msg, "SYNTAX_ERROR") || !strings.Contains(msg, "Code: 62") {
			t.Errorf("message %q lacks ClickHouse's text", msg)
		}
	}
	err := testStore.Exec(ctx, "CREATE TABL x")
	var qe *store.QueryError
	if !errors.As(err, &qe) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Exec syntax error: %v", err)
	}
	msg := queryErr(t, testStore, "SELECT no_such_column FROM system.one", true)
	if !strings.Contains(msg, "no_such_column") {
		t.Errorf("unknown column message %q", msg)
	}
	if msg := queryErr(t, testStore, "SELECT 1 FORMAT CSV", true); !strings.Contains(msg, "FORMAT") {
		t.Errorf("FORMAT clause message %q", msg)
	}
}

func TestReadOnlyRefusals(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE ro_t (a UInt64) ENGINE = MergeTree ORDER BY a")
	outfile := filepath.Join(t.TempDir(), "out.csv")
	for _, tc := range []struct{ sql, want string }{
		{"SELECT 1 SETTINGS readonly = 0", "READONLY"},
		{"SELECT number FROM numbers(10) SETTINGS max_result_rows = 0", "READONLY"},
		{"SET max_result_rows = 0", "refused"},
		{"SET readonly = 0", "refused"},
		{"INSERT INTO ro_t VALUES (1)", "readonly"},
		{"INSERT INTO ro_t SELECT 1", "readonly"},
		{"CREATE TABLE ro_new (a UInt8) ENGINE = Memory", "readonly"},
		{"DROP TABLE ro_t", "readonly"},
		{"TRUNCATE TABLE ro_t", "readonly"},
		{"ALTER TABLE ro_t DELETE WHERE 1", "readonly"},
		{"SELECT * FROM file('/etc/hostname', 'LineAsString')", "readonly"},
		{"SELECT 1 INTO OUTFILE '" + outfile + "'", "refused"},
		{"INSERT INTO FUNCTION file('" + outfile + "', 'CSV', 'a UInt8') SELECT 1", "refused"},
		{"USE system", "refused"},
		{"SYSTEM DROP MARK CACHE", "refused"},
		{"CREATE FUNCTION f1 AS x -> x + 1", "refused"},
		{"SELECT 1; SELECT 2", "one statement"},
	} {
		msg := queryErr(t, testStore, tc.sql, true)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q lacks %q", tc.sql, msg, tc.want)
		}
	}
	if _, err := os.Stat(outfile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only query wrote %s", outfile)
	}
	r := mustQuery(t, testStore, "SELECT count() AS n, currentDatabase() AS db FROM ro_t", true)
	if got := toJSON(t, r.Rows); got != `[[0,"default"]]` {
		t.Errorf("after refusals: %s", got)
	}
	// The same statements are fine on the writer.
	mustQuery(t, testStore, "INSERT INTO ro_t VALUES (1)", false)
}

// TestLimits opens a second store on the same engine with small limits.
func TestLimits(t *testing.T) {
	needEngine(t)
	s, err := Open(Config{DataDir: testStore.dir, Limits: store.Limits{
		MaxResultRows: 1000, MaxExecutionSecs: 0.5, MaxMemoryBytes: 64 << 20,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	msg := queryErr(t, s, "SELECT number FROM numbers(200000)", true)
	if !strings.Contains(msg, "Limit for result exceeded") || !strings.Contains(msg, "TOO_MANY_ROWS_OR_BYTES") {
		t.Errorf("row limit: %q", msg)
	}
	// chDB keeps a failed query's partial output; the next result must not carry it.
	r := mustQuery(t, s, "SELECT 42 AS x", true)
	if got := toJSON(t, r); got != `{"columns":[{"name":"x","type":"UInt8"}],"rows":[[42]]}` {
		t.Errorf("after a failed query: %s", got)
	}
	// Exactly at the limit is fine.
	if r := mustQuery(t, s, "SELECT number FROM numbers(1000)", true); len(r.Rows) != 1000 {
		t.Errorf("%d rows", len(r.Rows))
	}

	start := time.Now()
	msg = queryErr(t, s, "SELECT count() FROM numbers_mt(1000000000000) WHERE sipHash64(number) = 1", true)
	if !strings.Contains(msg, "TIMEOUT_EXCEEDED") || time.Since(start) > 10*time.Second {
		t.Errorf("timeout after %s: %q", time.Since(start), msg)
	}
	msg = queryErr(t, s, "SELECT groupArray(number) FROM numbers(100000000)", true)
	if !strings.Contains(msg, "MEMORY_LIMIT_EXCEEDED") {
		t.Errorf("memory limit: %q", msg)
	}
	if r := mustQuery(t, s, "SELECT 7 AS y", true); toJSON(t, r.Rows) != `[[7]]` {
		t.Errorf("after limit errors: %s", toJSON(t, r.Rows))
	}
	// Limits apply to the read-only connection only.
	if r := mustQuery(t, s, "SELECT count() FROM (SELECT number FROM numbers(5000))", false); toJSON(t, r.Rows) != `[[5000]]` {
		t.Errorf("writer: %s", toJSON(t, r.Rows))
	}
	if r := mustQuery(t, s, "SELECT number FROM numbers(5000)", false); len(r.Rows) != 5000 {
		t.Errorf("writer returned %d rows, want 5000 (no limit)", len(r.Rows))
	}
}

func TestDedupToken(t *testing.T) {
	needEngine(t)
	mustExec(t, `CREATE TABLE dedup (id UInt64, v String) ENGINE = MergeTree ORDER BY id
		SETTINGS non_replicated_deduplication_window = 1000`)
	block := func(token string, ids ...uint64) *store.Block {
		vs := make([]string, len(ids))
		for i := range vs {
			vs[i] = "v"
		}
		return &store.Block{Table: "dedup", DedupToken: token, Columns: []store.ColumnData{
			{Name: "id", Type: "UInt64", Data: ids},
			{Name: "v", Type: "String", Data: vs},
		}}
	}
	count := func() string {
		return toJSON(t, mustQuery(t, testStore, "SELECT count(), sum(id) FROM dedup", true).Rows)
	}
	for range 2 {
		if err := testStore.Insert(ctx, block("batch-1", 1, 2, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(); got != `[[3,6]]` {
		t.Fatalf("same tokened block twice: %s, want it stored once", got)
	}
	// The token, not the content, decides: other rows with the same token are
	// dropped, the same rows with another token are kept.
	if err := testStore.Insert(ctx, block("batch-1", 10)); err != nil {
		t.Fatal(err)
	}
	if err := testStore.Insert(ctx, block("batch-2", 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != `[[6,12]]` {
		t.Fatalf("after token reuse and a new token: %s, want [[6,12]]", got)
	}
	// Tokens are quoted, not spliced.
	tricky := `it's \ a "token"` + "\n\x00; DROP TABLE dedup"
	for range 2 {
		if err := testStore.Insert(ctx, block(tricky, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(); got != `[[7,112]]` {
		t.Fatalf("tricky token: %s", got)
	}
}

func TestInsertErrors(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE ins_err (a UInt64, t DateTime64(3)) ENGINE = MergeTree ORDER BY a")
	ok := []store.ColumnData{{Name: "a", Type: "UInt64", Data: []uint64{1}}}
	for _, tc := range []struct {
		name string
		b    *store.Block
		want string
	}{
		{"bad table", &store.Block{Table: "ins_err; DROP TABLE x", Columns: ok}, "invalid table name"},
		{"bad column", &store.Block{Table: "ins_err", Columns: []store.ColumnData{{Name: "a`", Type: "UInt64", Data: []uint64{1}}}}, "invalid column name"},
		{"no columns", &store.Block{Table: "ins_err"}, "no columns"},
		{"go type", &store.Block{Table: "ins_err", Columns: []store.ColumnData{{Name: "a", Type: "UInt64", Data: []int64{1}}}}, "needs []uint64"},
		{"unknown type", &store.Block{Table: "ins_err", Columns: []store.ColumnData{{Name: "a", Type: "Decimal(9,2)", Data: []int64{1}}}}, "unsupported type"},
		{"lengths", &store.Block{Table: "ins_err", Columns: []store.ColumnData{ok[0], {Name: "t", Type: "DateTime64(3)", Data: []int64{1, 2}}}}, "rows"},
		{"table type", &store.Block{Table: "ins_err", Columns: []store.ColumnData{ok[0], {Name: "t", Type: "DateTime64(9)", Data: []int64{1}}}}, "must be DateTime64(3)"},
		{"no table", &store.Block{Table: "no_such_table", Columns: ok}, "no_such_table"},
		{"no column", &store.Block{Table: "ins_err", Columns: []store.ColumnData{{Name: "zz", Type: "UInt64", Data: []uint64{1}}}}, "zz"},
	} {
		err := testStore.Insert(ctx, tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// An empty block is a no-op; the writer still works after the failures.
	if err := testStore.Insert(ctx, &store.Block{Table: "ins_err", Columns: []store.ColumnData{{Name: "a", Type: "UInt64", Data: []uint64{}}}}); err != nil {
		t.Fatal(err)
	}
	if err := testStore.Insert(ctx, &store.Block{Table: "ins_err", Columns: ok}); err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, mustQuery(t, testStore, "SELECT count() FROM ins_err", false).Rows); got != `[[1]]` {
		t.Errorf("count %s", got)
	}
}

// TestBigInsertChunks streams a block larger than one append chunk, with
// values that hold "\n\n" (which truncates binary data sent in query text).
func TestBigInsertChunks(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE big (i UInt64, s String) ENGINE = MergeTree ORDER BY i")
	const n = 300_000
	ids := make([]uint64, n)
	ss := make([]string, n)
	for i := range ids {
		ids[i] = uint64(i)
		ss[i] = "row\n\n" + strings.Repeat("x", i%17)
	}
	if err := testStore.Insert(ctx, &store.Block{Table: "big", Columns: []store.ColumnData{
		{Name: "i", Type: "UInt64", Data: ids}, {Name: "s", Type: "String", Data: ss},
	}}); err != nil {
		t.Fatal(err)
	}
	r := mustQuery(t, testStore, "SELECT count(), sum(i), sum(length(s)), countIf(startsWith(s, 'row\n\n')) FROM big", true)
	var wantLen int
	for _, s := range ss {
		wantLen += len(s)
	}
	want := toJSON(t, [][]any{{n, uint64(n) * (n - 1) / 2, wantLen, n}})
	if got := toJSON(t, r.Rows); got != want {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestReaderNotBlockedByWriter(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE slow (a UInt64) ENGINE = MergeTree ORDER BY a")
	var wg sync.WaitGroup
	wg.Add(1)
	writerDone := make(chan time.Duration, 1)
	go func() {
		defer wg.Done()
		start := time.Now()
		// A 2-second write holding the writer connection.
		err := testStore.Exec(ctx, "INSERT INTO slow SELECT number + sleepEachRow(0.5) * 0 FROM numbers(4) SETTINGS max_block_size = 1")
		if err != nil {
			t.Error(err)
		}
		writerDone <- time.Since(start)
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for range 5 {
		mustQuery(t, testStore, "SELECT count() FROM system.one", true)
	}
	readers := time.Since(start)
	wg.Wait()
	w := <-writerDone
	if w < time.Second {
		t.Fatalf("the writer statement took only %s; the test needs it slow", w)
	}
	if readers > w/2 {
		t.Errorf("5 read-only queries took %s while the writer was busy for %s", readers, w)
	}
	t.Logf("writer busy %s, 5 read-only queries meanwhile %s", w.Round(time.Millisecond), readers.Round(time.Microsecond))
}

// TestReadersRunAtOnce: read-only statements sent at once run at once, one
// a reader, instead of waiting for each other on one connection.
func TestReadersRunAtOnce(t *testing.T) {
	needEngine(t)
	n := len(testStore.readers)
	if n < 2 {
		t.Fatalf("%d read-only connections, want at least 2", n)
	}
	const each = 600 * time.Millisecond
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustQuery(t, testStore, "SELECT sleep(0.6)", true)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if took >= time.Duration(n)*each*3/4 {
		t.Fatalf("%d read-only statements of %s each took %s together: they ran one after another", n, each, took)
	}
	t.Logf("%d read-only statements of %s each, sent at once: %s", n, each, took.Round(time.Millisecond))
}

func TestConcurrentUse(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE conc (g UInt32, v Float64) ENGINE = MergeTree ORDER BY g")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				b := &store.Block{Table: "conc", Columns: []store.ColumnData{
					{Name: "g", Type: "UInt32", Data: []uint32{uint32(w), uint32(w)}},
					{Name: "v", Type: "Float64", Data: []float64{float64(i), 1}},
				}}
				if err := testStore.Insert(ctx, b); err != nil {
					t.Error(err)
					return
				}
				if _, err := testStore.Query(ctx, "SELECT g, sum(v) FROM conc GROUP BY g", store.QueryOptions{ReadOnly: i%2 == 0}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := toJSON(t, mustQuery(t, testStore, "SELECT count(), sum(v) FROM conc", true).Rows); got != `[[80,220]]` {
		t.Errorf("got %s", got)
	}
}

func TestContextCancelled(t *testing.T) {
	needEngine(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	// Hold every reader so the query has to wait for one.
	var held []*conn
	for range testStore.readers {
		held = append(held, <-testStore.idle)
	}
	_, err := testStore.Query(c, "SELECT 1", store.QueryOptions{ReadOnly: true})
	for _, r := range held {
		testStore.idle <- r
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestOneDataDirPerProcess(t *testing.T) {
	needEngine(t)
	_, err := Open(Config{DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "one data directory per process") {
		t.Fatalf("second directory: %v", err)
	}
	// Same directory: a second store shares the engine; closing it leaves the first working.
	s, err := Open(Config{DataDir: testStore.dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, err := range []error{
		s.Ping(ctx), s.Exec(ctx, "SELECT 1"),
		s.Insert(ctx, &store.Block{Table: "t", Columns: []store.ColumnData{{Name: "a", Type: "UInt8", Data: []uint8{1}}}}),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("closed store: %v, want ErrUnavailable", err)
		}
	}
	if err := testStore.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCloseAndReopen stops the engine, starts it on another directory, then
// back on the first, whose tables must still be there.
func TestCloseAndReopen(t *testing.T) {
	needEngine(t)
	mustExec(t, "CREATE TABLE persist (a UInt64) ENGINE = MergeTree ORDER BY a")
	mustExec(t, "INSERT INTO persist VALUES (41), (1)")
	dir := testStore.dir
	if err := testStore.Close(); err != nil {
		t.Fatal(err)
	}
	testStore = nil
	defer func() {
		if testStore == nil { // keep later tests running
			testStore, _ = Open(Config{DataDir: dir})
		}
	}()

	other, err := Open(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open another directory after Close: %v", err)
	}
	if r := mustQuery(t, other, "SELECT count() FROM system.tables WHERE database = 'default'", true); toJSON(t, r.Rows) != `[[0]]` {
		t.Errorf("fresh directory has tables: %s", toJSON(t, r.Rows))
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	testStore, err = Open(Config{DataDir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if r := mustQuery(t, testStore, "SELECT sum(a) FROM persist", true); toJSON(t, r.Rows) != `[[42]]` {
		t.Errorf("after reopen: %s", toJSON(t, r.Rows))
	}
}

func TestQuoteString(t *testing.T) {
	needEngine(t)
	for in, want := range map[string]string{
		"":         `''`,
		"abc":      `'abc'`,
		`it's`:     `'it\'s'`,
		`a\b`:      `'a\\b'`,
		"n\n\x00t": `'n\x0a\x00t'`,
		"é":        `'é'`,
	} {
		if got := quoteString(in); got != want {
			t.Errorf("quoteString(%q) = %s, want %s", in, got, want)
		}
	}
	// Round trip through the engine.
	for _, s := range []string{"it's", `a\b`, "n\n\x00t\r\x7f", "é ✓", `'; DROP TABLE x; --`} {
		r := mustQuery(t, testStore, "SELECT "+quoteString(s)+" AS s", true)
		if got := r.Rows[0][0]; got != s {
			t.Errorf("%q came back as %q", s, got)
		}
	}
}

func TestInsertQuery(t *testing.T) {
	needEngine(t)
	q, err := insertQuery(&store.Block{Table: "db1.samples", DedupToken: "t'1", Columns: []store.ColumnData{{Name: "a"}, {Name: "b_2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "INSERT INTO `db1`.`samples` (`a`, `b_2`) SETTINGS insert_deduplication_token = 't\\'1'"; q != want {
		t.Errorf("got  %s\nwant %s", q, want)
	}
	for _, bad := range []string{"", "1t", "a.b.c", "a-b", "t`", "t ", "t;"} {
		if _, err := insertQuery(&store.Block{Table: bad, Columns: []store.ColumnData{{Name: "a"}}}); err == nil {
			t.Errorf("table %q accepted", bad)
		}
	}
}

// TestQueryArrow: an Arrow stream under the read-only connection's rules
// and limits, which the engine reads back as the JSON answer's rows.
func TestQueryArrow(t *testing.T) {
	needEngine(t)
	s, err := Open(Config{DataDir: testStore.dir, Limits: store.Limits{MaxResultRows: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const query = "SELECT number AS n, toString(number) AS s, toLowCardinality('x') AS lc FROM numbers(3)"
	stream, err := s.QueryArrow(ctx, query)
	if err != nil || !isArrowStream(stream) {
		t.Fatalf("QueryArrow = %q, %v", stream, err)
	}
	var literal strings.Builder
	for _, c := range stream {
		fmt.Fprintf(&literal, "\\x%02x", c)
	}
	back := mustQuery(t, s, "SELECT * FROM format(ArrowStream, '"+literal.String()+"')", false)
	if got, want := toJSON(t, back.Rows), toJSON(t, mustQuery(t, s, query, true).Rows); got != want {
		t.Errorf("read back %s, want %s", got, want)
	}
	if empty, err := s.QueryArrow(ctx, "SELECT 1 AS x WHERE 0"); err != nil || !isArrowStream(empty) {
		t.Errorf("no rows: %q, %v; want a stream with its schema", empty, err)
	}
	for sql, want := range map[string]string{
		"SELECT 1 FORMAT JSONEachRow":                    "not an Arrow stream",
		"SELECT number FROM numbers(1001)":               "TOO_MANY_ROWS_OR_BYTES",
		"SET max_threads = 1":                            "read-only query refused",
		"CREATE TABLE arrow_t (a UInt8) ENGINE = Memory": "READONLY",
	} {
		_, err := s.QueryArrow(ctx, sql)
		var qe *store.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Message, want) {
			t.Errorf("%s: %v, want a *store.QueryError naming %q", sql, err, want)
		}
	}
}
