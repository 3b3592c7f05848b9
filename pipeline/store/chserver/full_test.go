package chserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// The full suite needs a current ClickHouse server (24.x or newer, as in
// docker-compose.yml):
//
//	CLICKHOUSE_ADDR=localhost:9000 [CLICKHOUSE_USER=firebreak CLICKHOUSE_PASSWORD=firebreak] \
//	    go test ./pipeline/store/chserver -run TestServer -v
//
// It works in a database of its own, dropped at the end.

// serverDSN returns the DSN of the CLICKHOUSE_ADDR server for database db,
// or skips the test.
func serverDSN(t *testing.T, db string) string {
	t.Helper()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr == "" {
		t.Skip("CLICKHOUSE_ADDR not set: the full server suite needs a ClickHouse >= 24 (host:port of its native protocol, e.g. docker compose's localhost:9000; CLICKHOUSE_USER and CLICKHOUSE_PASSWORD optional)")
	}
	user := os.Getenv("CLICKHOUSE_USER")
	if user == "" {
		user = "default"
	}
	u := url.URL{Scheme: "clickhouse", User: url.UserPassword(user, os.Getenv("CLICKHOUSE_PASSWORD")), Host: addr, Path: "/" + db}
	q := url.Values{}
	q.Set("dial_timeout", "5s")
	u.RawQuery = q.Encode()
	return u.String()
}

// openServer creates a fresh database on the CLICKHOUSE_ADDR server and
// returns a Store on it (limits for read-only queries as given).
func openServer(t *testing.T, limits store.Limits) (*Store, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	admin, err := Open(ctx, serverDSN(t, "default"), store.Limits{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	db := fmt.Sprintf("firebreak_chserver_test_%d", time.Now().UnixNano())
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Logf("drop %s: %v", db, err)
		}
		admin.Close()
	})
	s, err := Open(ctx, serverDSN(t, db), limits)
	if err != nil {
		t.Fatalf("Open %s: %v", db, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServer(t *testing.T) {
	s, db := openServer(t, store.Limits{})
	ctx := context.Background()

	t.Run("Version", func(t *testing.T) {
		v, err := s.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if major < 24 {
			t.Errorf("server %s: the full suite needs ClickHouse >= 24", v)
		}
		if s.legacySettings {
			t.Errorf("server %s (revision %d) takes string settings", v, s.revision)
		}
		t.Logf("server %s, revision %d, database %s", v, s.revision, db)
	})

	t.Run("ColumnTypesRoundTrip", func(t *testing.T) {
		when := time.Date(2026, 11, 22, 5, 33, 24, 123456789, time.UTC)
		blob := "line1\n\nline2 'quoted' \\ back\x00nul é ✓"
		mustExecT(t, s, `CREATE TABLE types (
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
			{Name: "s", Type: "String", Data: []string{"", blob, "plain"}},
			{Name: "lc", Type: "LowCardinality(String)", Data: []string{"a", "b", "a"}},
			{Name: "t3", Type: "DateTime64(3)", Data: []int64{0, when.UnixMilli(), -1}},
			{Name: "t9", Type: "DateTime64(9)", Data: []int64{0, when.UnixNano(), 1}},
			{Name: "dt", Type: "DateTime", Data: []uint32{0, uint32(when.Unix()), 1}},
			{Name: "arr", Type: "Array(String)", Data: [][]string{nil, {"x", "", "y\n\nz"}, {"only"}}},
			{Name: "arrlc", Type: "Array(LowCardinality(String))", Data: [][]string{{}, {"p", "q"}, {"p"}}},
			{Name: "mlc", Type: "Map(LowCardinality(String), String)", Data: []map[string]string{{}, {"k2": "v2", "k1": "v1"}, nil}},
			{Name: "m", Type: "Map(String, String)", Data: []map[string]string{nil, {"": "empty key", "q'": blob}, {"a": "b"}}},
		}}
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
		wantCols := `[{"name":"u8","type":"UInt8"},{"name":"u32","type":"UInt32"},{"name":"u64","type":"UInt64"},` +
			`{"name":"i32","type":"Int32"},{"name":"i64","type":"Int64"},{"name":"f64","type":"Float64"},` +
			`{"name":"s","type":"String"},{"name":"lc","type":"LowCardinality(String)"},` +
			`{"name":"t3","type":"DateTime64(3)"},{"name":"t9","type":"DateTime64(9)"},{"name":"dt","type":"DateTime"},` +
			`{"name":"arr","type":"Array(String)"},{"name":"arrlc","type":"Array(LowCardinality(String))"},` +
			`{"name":"mlc","type":"Map(LowCardinality(String), String)"},{"name":"m","type":"Map(String, String)"}]`
		bl := toJSON(t, blob)
		wantRows := `[` +
			`[0,0,0,-2147483648,-9223372036854775808,0.1,"","a","1970-01-01T00:00:00.000Z","1970-01-01T00:00:00.000000000Z","1970-01-01T00:00:00Z",[],[],{},{}],` +
			`[7,7,7,-7,-7,null,"plain","a","1969-12-31T23:59:59.999Z","1970-01-01T00:00:00.000000001Z","1970-01-01T00:00:01Z",["only"],["p"],{},{"a":"b"}],` +
			`[255,4294967295,18446744073709551615,2147483647,9223372036854775807,null,` + bl + `,"b",` +
			`"2026-11-22T05:33:24.123Z","2026-11-22T05:33:24.123456789Z","2026-11-22T05:33:24Z",` +
			`["x","","y\n\nz"],["p","q"],{"k1":"v1","k2":"v2"},{"":"empty key","q'":` + bl + `}]` +
			`]`
		for _, ro := range []bool{false, true} {
			r, err := s.Query(ctx, "SELECT * FROM types ORDER BY u64", store.QueryOptions{ReadOnly: ro})
			if err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, r.Columns); got != wantCols {
				t.Errorf("readonly=%v columns\n got %s\nwant %s", ro, got, wantCols)
			}
			if got := toJSON(t, r.Rows); got != wantRows {
				t.Errorf("readonly=%v rows\n got %s\nwant %s", ro, got, wantRows)
			}
			if n, ok := r.Rows[2][2].(json.Number); !ok || n != "18446744073709551615" {
				t.Errorf("UInt64 max as %T %v", r.Rows[2][2], r.Rows[2][2])
			}
		}
	})

	t.Run("ResultContract", func(t *testing.T) {
		r, err := s.Query(ctx, `SELECT true AS b, NULL AS n, toNullable(3) AS nn, CAST(NULL AS Nullable(String)) AS ns,
			tuple(1, 'x') AS t, CAST((1, 'x') AS Tuple(a UInt8, b String)) AS nt, [1, 2] AS a, map('k', 1) AS m,
			toDate('2026-11-22') AS d, toDateTime('2026-11-22 05:33:24', 'Asia/Tokyo') AS dtz,
			toDateTime64('2026-11-22 05:33:24.5', 1, 'Europe/Paris') AS d64tz, toDecimal64(1.5, 3) AS dec,
			1/0 AS inf, 0/0 AS nan, toFloat32(0.5) AS f32, -0.0 AS negz, toInt8(-1) AS i8,
			toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS uuid, toIPv4('10.1.2.3') AS ip4, toIPv6('2001:db8::1') AS ip6,
			CAST('b' AS Enum8('a' = 1, 'b' = 2)) AS e, toInt128('-170141183460469231731687303715884105728') AS i128,
			toDecimal128('12345678901234567890.123', 3) AS d128, CAST(NULL AS Nullable(DateTime64(3))) AS n64,
			toLowCardinality(toNullable('lc')) AS lcn, [NULL, 'x'] AS an, map('t', [toDateTime64('2026-11-22 05:33:24.123', 3, 'UTC')]) AS mt,
			toDate32('1900-01-01') AS d32, toDateTime64('2026-11-22 05:33:24.123456789', 9, 'UTC') AS d9,
			CAST((toDateTime('2026-11-22 05:33:24', 'UTC'), 2) AS Tuple(z DateTime('UTC'), a UInt8)) AS nt2`,
			store.QueryOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		want := `[[true,null,3,null,[1,"x"],[1,"x"],[1,2],{"k":1},"2026-11-22","2026-11-21T20:33:24Z",` +
			`"2026-11-22T04:33:24.5Z",1.5,null,null,0.5,-0,-1,` +
			`"61f0c404-5cb3-11e7-907b-a6006ad3dba0","10.1.2.3","2001:db8::1","b",-170141183460469231731687303715884105728,` +
			`12345678901234567890.123,null,"lc",[null,"x"],{"t":["2026-11-22T05:33:24.123Z"]},` +
			`"1900-01-01","2026-11-22T05:33:24.123456789Z",["2026-11-22T05:33:24Z",2]]]`
		if got := toJSON(t, r.Rows); got != want {
			t.Errorf("rows\n got %s\nwant %s\ncolumns %s", got, want, toJSON(t, r.Columns))
		}
	})

	t.Run("EmptyResult", func(t *testing.T) {
		mustExecT(t, s, "CREATE TABLE empty_t (a UInt64, s String) ENGINE = MergeTree ORDER BY a")
		for _, ro := range []bool{false, true} {
			r, err := s.Query(ctx, "SELECT a, s FROM empty_t WHERE a > 5", store.QueryOptions{ReadOnly: ro})
			if err != nil {
				t.Fatal(err)
			}
			if got := toJSON(t, r); got != `{"columns":[{"name":"a","type":"UInt64"},{"name":"s","type":"String"}],"rows":[]}` {
				t.Errorf("readonly=%v: %s", ro, got)
			}
		}
	})

	t.Run("DedupToken", func(t *testing.T) {
		mustExecT(t, s, `CREATE TABLE dedup (k UInt64, ts DateTime64(3), v String) ENGINE = MergeTree ORDER BY (k, ts)
			SETTINGS non_replicated_deduplication_window = 100`)
		block := func(token string, v string) *store.Block {
			n := 1000
			ks, ts, vs := make([]uint64, n), make([]int64, n), make([]string, n)
			for i := range n {
				ks[i], ts[i], vs[i] = uint64(i), int64(1795325604123+i), v
			}
			return &store.Block{Table: "dedup", DedupToken: token, Columns: []store.ColumnData{
				{Name: "k", Type: "UInt64", Data: ks},
				{Name: "ts", Type: "DateTime64(3)", Data: ts},
				{Name: "v", Type: "String", Data: vs},
			}}
		}
		count := func() string {
			r, err := s.Query(ctx, "SELECT count() FROM dedup", store.QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return toJSON(t, r.Rows)
		}
		for range 2 {
			if err := s.Insert(ctx, block("partition-3/offset-42", "a")); err != nil {
				t.Fatal(err)
			}
		}
		if got := count(); got != `[[1000]]` {
			t.Errorf("same tokened block twice: count %s, want 1000", got)
		}
		// Same token, different content: the token decides, the replay is dropped.
		if err := s.Insert(ctx, block("partition-3/offset-42", "b")); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != `[[1000]]` {
			t.Errorf("same token, other content: count %s, want 1000", got)
		}
		// A new token stores the same rows again.
		if err := s.Insert(ctx, block("partition-3/offset-43", "a")); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != `[[2000]]` {
			t.Errorf("new token: count %s, want 2000", got)
		}
	})

	t.Run("QueryErrors", func(t *testing.T) {
		for _, ro := range []bool{false, true} {
			_, err := s.Query(ctx, "SELEC 1", store.QueryOptions{ReadOnly: ro})
			qe := wantQueryError(t, err, "Syntax error", "Code: 62")
			t.Logf("syntax error: %s", qe.Message)
			_, err = s.Query(ctx, "SELECT no_such_column FROM system.one", store.QueryOptions{ReadOnly: ro})
			wantQueryError(t, err, "no_such_column")
		}
		wantQueryError(t, s.Exec(ctx, "CREATE TABL x"), "Syntax error")
		err := s.Insert(ctx, &store.Block{Table: "no_such_table", Columns: []store.ColumnData{{Name: "a", Type: "UInt64", Data: []uint64{1}}}})
		wantQueryError(t, err, "no_such_table")
		// Data of the wrong Go type for the server's column: a client-side
		// error, neither a QueryError nor an outage.
		mustExecT(t, s, "CREATE TABLE wrong_type (a UInt64) ENGINE = MergeTree ORDER BY a")
		err = s.Insert(ctx, &store.Block{Table: "wrong_type", Columns: []store.ColumnData{{Name: "a", Type: "UInt64", Data: []string{"x"}}}})
		if err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("[]string into UInt64: %v", err)
		}
		t.Logf("[]string into UInt64: %v", err)
	})

	t.Run("ReadOnlyRefusals", func(t *testing.T) {
		mustExecT(t, s, "CREATE TABLE ro_t (a UInt64) ENGINE = MergeTree ORDER BY a")
		for _, q := range []string{
			"SELECT 1 SETTINGS readonly = 0",
			"SELECT number FROM system.numbers LIMIT 10 SETTINGS max_result_rows = 0",
			"SELECT number FROM system.numbers LIMIT 10 SETTINGS max_execution_time = 0",
			"SET readonly = 0",
			"INSERT INTO ro_t VALUES (1)",
			"INSERT INTO ro_t SELECT 1",
			"CREATE TABLE ro_new (a UInt8) ENGINE = Memory",
			"DROP TABLE ro_t",
			"TRUNCATE TABLE ro_t",
			"ALTER TABLE ro_t DELETE WHERE 1",
		} {
			_, err := s.Query(ctx, q, store.QueryOptions{ReadOnly: true})
			qe := wantQueryError(t, err)
			if !strings.Contains(strings.ToLower(qe.Message), "readonly") {
				t.Errorf("%s: message %q does not mention readonly", q, qe.Message)
			}
		}
		r, err := s.Query(ctx, "SELECT count() FROM ro_t", store.QueryOptions{ReadOnly: true})
		if err != nil || toJSON(t, r.Rows) != `[[0]]` {
			t.Errorf("after refused writes: %v %v", r, err)
		}
		if _, err := s.Query(ctx, "SELECT number FROM system.numbers LIMIT 10 SETTINGS max_result_rows = 0", store.QueryOptions{}); err != nil {
			t.Errorf("SETTINGS without ReadOnly: %v", err)
		}
	})

	// Limits uses system.numbers, not numbers(): old servers forbid table
	// functions in readonly mode.
	t.Run("Limits", func(t *testing.T) {
		lim, err := Open(ctx, serverDSN(t, db), store.Limits{MaxResultRows: 1000, MaxExecutionSecs: 1, MaxMemoryBytes: 32 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer lim.Close()
		_, err = lim.Query(ctx, "SELECT number FROM system.numbers LIMIT 5000", store.QueryOptions{ReadOnly: true})
		wantQueryError(t, err, "Limit for result exceeded")
		if r, err := lim.Query(ctx, "SELECT number FROM system.numbers LIMIT 5000", store.QueryOptions{}); err != nil || len(r.Rows) != 5000 {
			t.Errorf("without ReadOnly: %v", err)
		}
		// The caller's longer deadline must not lift max_execution_time.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		start := time.Now()
		_, err = lim.Query(dctx, "SELECT count() FROM system.numbers", store.QueryOptions{ReadOnly: true})
		cancel()
		wantQueryError(t, err, "Timeout exceeded")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("max_execution_time=1 stopped the query after %v", d)
		}
		_, err = lim.Query(ctx, "SELECT length(groupArray(number)) FROM (SELECT number FROM system.numbers LIMIT 20000000)", store.QueryOptions{ReadOnly: true})
		wantQueryError(t, err, "emory limit")
	})

	t.Run("Insert100k", func(t *testing.T) {
		mustExecT(t, s, `CREATE TABLE bulk (series UInt64, ts DateTime64(3), v Float64, svc LowCardinality(String),
			labels Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY (series, ts)`)
		const n = 100_000
		series, ts, vs, svc, labels := make([]uint64, n), make([]int64, n), make([]float64, n), make([]string, n), make([]map[string]string, n)
		for i := range n {
			series[i], ts[i], vs[i] = uint64(i%1000), int64(1795325604000+i), float64(i)/8
			svc[i] = "svc-" + strconv.Itoa(i%10)
			labels[i] = map[string]string{"job": "api", "instance": strconv.Itoa(i % 50)}
		}
		b := &store.Block{Table: "bulk", Columns: []store.ColumnData{
			{Name: "series", Type: "UInt64", Data: series},
			{Name: "ts", Type: "DateTime64(3)", Data: ts},
			{Name: "v", Type: "Float64", Data: vs},
			{Name: "svc", Type: "LowCardinality(String)", Data: svc},
			{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: labels},
		}}
		start := time.Now()
		if err := s.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		t.Logf("inserted %d rows in %v: %.0f rows/s", n, d.Round(time.Millisecond), n/d.Seconds())
		r, err := s.Query(ctx, "SELECT count(), sum(series), min(ts), max(ts), uniqExact(labels['instance']) FROM bulk", store.QueryOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := toJSON(t, r.Rows), `[[100000,49950000,"2026-11-22T05:33:24.000Z","2026-11-22T05:35:03.999Z",50]]`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func mustExecT(t *testing.T, s *Store, sql string) {
	t.Helper()
	if err := s.Exec(context.Background(), sql); err != nil {
		t.Fatalf("Exec(%s): %v", sql, err)
	}
}
