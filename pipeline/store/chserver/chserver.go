// Package chserver implements store.Store over a ClickHouse server with
// clickhouse-go/v2's native API (native TCP protocol, columnar batches).
//
// Queries with QueryOptions.ReadOnly run with readonly=1 and the store's
// Limits passed as per-query settings, so the server itself refuses writes,
// settings changes and oversized results. Results are converted to the
// store.Result contract (JSON-ready values, identical to package chdb's).
//
// Servers of native protocol revision 54429 or older (e.g. Debian's
// ClickHouse 18.16, revision 54412) only accept integer settings from
// clients: there max_execution_time is rounded up to whole seconds,
// result_overflow_mode is left at its default ('throw') and blocks with a
// dedup token are refused. Such servers only smoke-test this package.
//
// Errors follow store's contract: a server exception is a
// *store.QueryError whose Message is "Code: N. DB::Exception: <server
// text>", except a few transient codes (too many parts or queries, keeper
// and network trouble) that wrap store.ErrUnavailable like connection
// failures do.
package chserver

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Kind is what Store.Kind reports.
const Kind = "clickhouse"

// Store is a store.Store backed by a ClickHouse server. It is safe for
// concurrent use (the driver pools connections).
type Store struct {
	conn   driver.Conn
	limits store.Limits
	// legacySettings: the server reads client settings as integers only
	// (protocol revision <= 54429).
	legacySettings bool
	revision       uint64
}

var _ store.Store = (*Store)(nil)

// Open connects to the server named by dsn, in clickhouse-go's form
// (clickhouse://user:password@host:9000/database?dial_timeout=5s&...),
// and checks that it answers. limits bound read-only queries (zero fields
// take store defaults). A server that cannot be reached yields an error
// wrapping store.ErrUnavailable.
func Open(ctx context.Context, dsn string, limits store.Limits) (*Store, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("chserver: parse DSN: %w", err)
	}
	if opts.Protocol != clickhouse.Native {
		return nil, fmt.Errorf("chserver: only the native protocol is supported (clickhouse:// or tcp:// DSN), got %v", opts.Protocol)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("chserver: open: %w", err)
	}
	s := &Store{conn: conn, limits: limits.WithDefaults()}
	addrs := strings.Join(opts.Addr, ",")
	if err := pingWithin(ctx, conn); err != nil {
		conn.Close()
		var ex *proto.Exception
		if errors.As(err, &ex) {
			return nil, fmt.Errorf("chserver: connect to %s: %w", addrs, s.classify(ctx, "ping", err))
		}
		// Whatever else failed (dial, handshake, the caller's deadline
		// while connecting), the server is not usable now.
		return nil, fmt.Errorf("chserver: connect to %s: %w: %w", addrs, store.ErrUnavailable, err)
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("chserver: connect to %s: %w: %w", addrs, store.ErrUnavailable, err)
	}
	s.revision = sv.Revision
	s.legacySettings = sv.Revision <= proto.DBMS_MIN_REVISION_WITH_SETTINGS_SERIALIZED_AS_STRINGS
	return s, nil
}

// pingWithin pings, returning when ctx ends even if the driver is still
// dialing or in the handshake (both bounded only by the DSN's dial_timeout).
func pingWithin(ctx context.Context, conn driver.Conn) error {
	done := make(chan error, 1)
	go func() { done <- conn.Ping(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Kind reports "clickhouse".
func (s *Store) Kind() string { return Kind }

// Limits reports the limits applied to read-only queries.
func (s *Store) Limits() store.Limits { return s.limits }

// Close closes every pooled connection.
func (s *Store) Close() error { return s.conn.Close() }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return s.classify(ctx, "ping", err)
	}
	return nil
}

// Version returns the server's SELECT version().
func (s *Store) Version(ctx context.Context) (string, error) {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", s.classify(ctx, "version", err)
	}
	return v, nil
}

// Exec runs one statement that returns no rows.
func (s *Store) Exec(ctx context.Context, sql string) error {
	if err := s.conn.Exec(ctx, sql); err != nil {
		return s.classify(ctx, "exec", err)
	}
	return nil
}

// Query runs one statement and returns all its rows, converted to the
// store.Result contract. With opts.ReadOnly the server runs it with
// readonly=1 and the store's Limits.
func (s *Store) Query(ctx context.Context, sql string, opts store.QueryOptions) (*store.Result, error) {
	qctx := ctx
	if opts.ReadOnly {
		var cancel context.CancelFunc
		qctx, cancel = s.readOnlyContext(ctx)
		defer cancel()
	}
	rows, err := s.conn.Query(qctx, sql)
	if err != nil {
		return nil, s.classify(ctx, "query", err)
	}
	defer rows.Close()

	cts := rows.ColumnTypes()
	res := &store.Result{Columns: make([]store.Column, len(cts)), Rows: [][]any{}}
	types := make([]*chType, len(cts))
	dest := make([]any, len(cts))
	for i, ct := range cts {
		res.Columns[i] = store.Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
		types[i] = parseType(ct.DatabaseTypeName())
		st := ct.ScanType()
		if st == nil {
			st = reflect.TypeFor[any]()
		}
		dest[i] = reflect.New(st).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, s.classify(ctx, "scan", err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = jsonValue(types[i], reflect.ValueOf(d).Elem().Interface())
		}
		res.Rows = append(res.Rows, row)
		if opts.ReadOnly && int64(len(res.Rows)) > s.limits.MaxResultRows {
			// The server enforces max_result_rows; this only guards
			// against a profile that set result_overflow_mode=break
			// on servers where we cannot pass it.
			return nil, &store.QueryError{Message: fmt.Sprintf("Limit for result exceeded, max rows: %d", s.limits.MaxResultRows)}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.classify(ctx, "query", err)
	}
	return res, nil
}

// readOnlyContext returns the context a read-only query runs with:
// readonly=1 and the Limits as query settings. The caller's deadline is
// removed from it (cancellation still propagates) because the driver turns
// a deadline into its own max_execution_time, which would replace ours.
func (s *Store) readOnlyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	l := s.limits
	settings := clickhouse.Settings{
		"readonly":         1,
		"max_result_rows":  int(l.MaxResultRows),
		"max_memory_usage": int(l.MaxMemoryBytes),
	}
	if s.legacySettings {
		settings["max_execution_time"] = int(math.Ceil(l.MaxExecutionSecs))
	} else {
		settings["max_execution_time"] = l.MaxExecutionSecs
		settings["result_overflow_mode"] = "throw"
	}
	qctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	qctx = clickhouse.Context(qctx, clickhouse.WithSettings(settings))
	return qctx, func() { stop(); cancel(context.Canceled) }
}

var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tableRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
)

// insertSQL builds "INSERT INTO `db`.`t` (`c1`, `c2`)" from validated
// identifiers. The explicit column list is required by old servers
// (18.16) and lets the driver order the block's columns.
func insertSQL(b *store.Block) (string, error) {
	if !tableRe.MatchString(b.Table) {
		return "", fmt.Errorf("chserver: invalid table name %q", b.Table)
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	for i, part := range strings.Split(b.Table, ".") {
		if i > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString("`" + part + "`")
	}
	sb.WriteString(" (")
	seen := make(map[string]bool, len(b.Columns))
	for i, c := range b.Columns {
		if !identRe.MatchString(c.Name) {
			return "", fmt.Errorf("chserver: invalid column name %q", c.Name)
		}
		if seen[c.Name] {
			return "", fmt.Errorf("chserver: column %s appears twice", c.Name)
		}
		seen[c.Name] = true
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("`" + c.Name + "`")
	}
	sb.WriteByte(')')
	return sb.String(), nil
}

// Insert appends the block as one INSERT, column by column. A non-empty
// DedupToken is sent as insert_deduplication_token.
func (s *Store) Insert(ctx context.Context, b *store.Block) error {
	n, err := b.Rows()
	if err != nil {
		return fmt.Errorf("chserver: insert into %s: %w", b.Table, err)
	}
	query, err := insertSQL(b)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	ictx := ctx
	if b.DedupToken != "" {
		if s.legacySettings {
			return fmt.Errorf("chserver: insert into %s: dedup tokens need a newer server (protocol revision %d only takes integer settings)", b.Table, s.revision)
		}
		ictx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"insert_deduplication_token": b.DedupToken,
		}))
	}
	batch, err := s.conn.PrepareBatch(ictx, query)
	if err != nil {
		return s.classify(ctx, "insert into "+b.Table, err)
	}
	defer batch.Close()
	serverCols := batch.Columns()
	for i, c := range b.Columns {
		typ := c.Type
		if typ == "" && i < len(serverCols) {
			typ = string(serverCols[i].Type())
		}
		data, err := driverColumn(typ, c.Data)
		if err != nil {
			_ = batch.Abort()
			return fmt.Errorf("chserver: insert into %s: column %s: %w", b.Table, c.Name, err)
		}
		if err := batch.Column(i).Append(data); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("chserver: insert into %s: column %s (%s): %w", b.Table, c.Name, typ, err)
		}
	}
	if err := batch.Send(); err != nil {
		return s.classify(ctx, "insert into "+b.Table, err)
	}
	return nil
}

// driverColumn converts one store.ColumnData slice into what the driver's
// column accepts: DateTime64(p) ticks ([]int64 in units of 10^-p s, i.e.
// milliseconds for p=3, nanoseconds for p=9) and DateTime seconds
// ([]uint32) become []time.Time; every other listed type passes through.
func driverColumn(typ string, data any) (any, error) {
	t := parseType(typ)
	switch d := data.(type) {
	case []int64:
		if t.kind == kindDateTime64 {
			pow := int64(math.Pow10(t.prec))      // ticks per second
			unit := int64(math.Pow10(9 - t.prec)) // nanoseconds per tick
			out := make([]time.Time, len(d))
			for i, v := range d {
				// time.Unix normalizes a negative remainder.
				out[i] = time.Unix(v/pow, (v%pow)*unit).UTC()
			}
			return out, nil
		}
	case []uint32:
		if t.kind == kindDateTime {
			out := make([]time.Time, len(d))
			for i, v := range d {
				out[i] = time.Unix(int64(v), 0).UTC()
			}
			return out, nil
		}
	case []uint8, []uint64, []int32, []float64, []string, [][]string, []map[string]string:
	default:
		return nil, fmt.Errorf("unsupported column data %T for %s", data, typ)
	}
	return data, nil
}

// transientCodes are server exceptions that mean "not now" rather than
// "bad query": they are reported as store.ErrUnavailable so the writer
// backs off and retries instead of dropping data.
var transientCodes = map[int32]bool{
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	225: true, // NO_ZOOKEEPER
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	279: true, // ALL_CONNECTION_TRIES_FAILED
	319: true, // UNKNOWN_STATUS_OF_INSERT
	999: true, // KEEPER_EXCEPTION
}

// classify maps a driver error to the store's error contract: a server
// exception becomes *store.QueryError carrying the server's message
// (transientCodes excepted); a connection failure wraps
// store.ErrUnavailable and the cause; the caller's own cancellation or
// deadline is returned wrapped as is.
func (s *Store) classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ex *proto.Exception
	if errors.As(err, &ex) {
		if transientCodes[ex.Code] {
			return fmt.Errorf("chserver: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return &store.QueryError{Message: exceptionText(ex)}
	}
	var qe *store.QueryError
	if errors.As(err, &qe) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		// The driver's read deadline (set from ours) can fire before
		// the context notices its own deadline.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		if isDialError(err) || isHandshakeError(err) {
			return fmt.Errorf("chserver: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		if errors.Is(err, cerr) {
			return fmt.Errorf("chserver: %s: %w", op, err)
		}
		return fmt.Errorf("chserver: %s: %w: %w", op, cerr, err)
	}
	if isConnError(err) {
		return fmt.Errorf("chserver: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("chserver: %s: %w", op, err)
}

// exceptionText renders a server exception as ClickHouse's clients do
// ("Code: 62. DB::Exception: Syntax error: ..."), the same text package
// chdb reports.
func exceptionText(ex *proto.Exception) string {
	name := ex.Name
	if name == "" {
		name = "DB::Exception"
	}
	return fmt.Sprintf("Code: %d. %s: %s", ex.Code, name, ex.Message)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isHandshakeError reports a failure while the driver set up a new
// connection (its errors say "handshake: ...").
func isHandshakeError(err error) bool {
	return strings.Contains(err.Error(), "handshake:")
}

// isConnError reports errors that mean the server could not be reached or
// the connection broke (as opposed to a refused query).
func isConnError(err error) bool {
	switch {
	case errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, sqldriver.ErrBadConn),
		errors.Is(err, clickhouse.ErrAcquireConnTimeout),
		errors.Is(err, clickhouse.ErrConnectionClosed),
		errors.Is(err, clickhouse.ErrAcquireConnNoAddress),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		// The caller's context is still live here: a deadline or
		// cancellation comes from the driver's own dial/acquire timeouts.
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
