// Package chdb is the embedded implementation of store.Store: the ClickHouse
// engine of libchdb, loaded in-process with purego (no cgo).
//
// One engine runs per process, on one data directory: Open may be called
// again for the same directory, but not for another one while a Store is
// open (chDB cannot run two). Each Store holds two connections to the
// engine: a writer (Exec, Insert, Query) and a read-only one for
// Query with ReadOnly, which runs with readonly=1 and the store's Limits,
// set when it connects, so analysts' SQL can neither write nor lift them,
// and never waits behind the writer's inserts.
package chdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/firebreak-aiops/firebreak/pipeline/chdblib"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Config opens a Store.
type Config struct {
	// LibPath is libchdb.so; empty means chdblib.Locate().
	LibPath string
	// DataDir holds the engine's databases. Required; created if missing.
	DataDir string
	// Limits bound read-only queries; zero fields take store defaults.
	Limits store.Limits
}

// Store is an open embedded engine. Its methods are safe for concurrent
// use; statements on one connection run one at a time, so writes run one
// at a time and read-only statements up to len(readers) at once.
type Store struct {
	dir    string
	limits store.Limits
	writer *conn
	// readers are the read-only connections. A panel sends several
	// statements at once (a band panel its values and its bands, a wall
	// screen a dozen panels); on one connection they waited for each other.
	readers []*conn
	idle    chan *conn // the readers not running a statement
	enc     rowEncoder // guarded by the writer connection's lock

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// conn is one chDB connection. sem is its lock (a channel, so that waiting
// for it honours a context).
type conn struct {
	name string
	sem  chan struct{}
	pp   unsafe.Pointer // chdb_connection *, nil once closed
	argv [][]byte       // C strings passed to chdb_connect, kept alive
}

// The process's one engine.
var engine struct {
	mu   sync.Mutex
	dir  string
	refs int
}

// outputSettings make JSONCompact output match store.Result: 64-bit integers
// and decimals as bare numbers, non-finite floats as null, dates in ISO 8601
// UTC ("2026-11-22T05:33:24.123Z"), tuples as arrays.
const outputSettings = "output_format_json_quote_64bit_integers = 0, " +
	"output_format_json_quote_64bit_floats = 0, " +
	"output_format_json_quote_denormals = 0, " +
	"output_format_json_quote_decimals = 0, " +
	"output_format_json_named_tuples_as_objects = 0, " +
	"output_format_json_map_as_array_of_tuples = 0, " +
	"output_format_write_statistics = 0, " +
	"date_time_output_format = 'iso', " +
	"session_timezone = 'UTC', " +
	arrowSettings

// arrowSettings shape QueryArrow's streams: strings as Arrow utf8 (not
// binary), LowCardinality as plain values rather than dictionaries, and no
// compression (the engine's default is lz4_frame), which would cost CPU at
// both ends of the loopback or LAN between the read API and its clients.
const arrowSettings = "output_format_arrow_string_as_string = 1, " +
	"output_format_arrow_low_cardinality_as_dictionary = 0, " +
	"output_format_arrow_compression_method = 'none'"

const (
	resultFormat = "JSONCompact"
	arrowFormat  = "ArrowStream"
)

// Open loads the library (once per process), starts the engine on
// cfg.DataDir (or joins it, if this process already runs it there) and
// opens the writer and read-only connections.
func Open(cfg Config) (*Store, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("chdb: Config.DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("chdb: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb: data directory: %w", err)
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	libPath := cfg.LibPath
	if libPath == "" {
		if libPath, err = chdblib.Locate(); err != nil {
			return nil, fmt.Errorf("chdb: %w", err)
		}
	}
	if err := loadLibrary(libPath); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}

	engine.mu.Lock()
	defer engine.mu.Unlock()
	if engine.refs > 0 && engine.dir != dir {
		return nil, fmt.Errorf("chdb: the embedded engine is already open on %s in this process; "+
			"it runs one data directory per process, so close that store before opening %s", engine.dir, dir)
	}

	s := &Store{dir: dir, limits: cfg.Limits.WithDefaults()}
	if s.writer, err = connect("writer", dir); err != nil {
		return nil, err
	}
	n := min(max(runtime.NumCPU(), 2), maxReaders)
	s.idle = make(chan *conn, n)
	for i := range n {
		c, err := connect(fmt.Sprintf("reader %d", i+1), dir)
		if err != nil {
			s.closeConns()
			return nil, err
		}
		s.readers = append(s.readers, c)
		s.idle <- c
	}
	if err := s.configure(); err != nil {
		s.closeConns()
		return nil, err
	}
	engine.dir = dir
	engine.refs++
	return s, nil
}

func connect(name, dir string) (*conn, error) {
	c := &conn{name: name, sem: make(chan struct{}, 1)}
	c.argv = [][]byte{[]byte("clickhouse\x00"), []byte("--path=" + dir + "\x00")}
	argv := make([]*byte, len(c.argv))
	for i, a := range c.argv {
		argv[i] = &a[0]
	}
	guardSignals(func() {
		c.pp = cConnect(int32(len(argv)), &argv[0])
	})
	if c.pp == nil || *(*unsafe.Pointer)(c.pp) == nil {
		c.pp = nil
		return nil, fmt.Errorf("%w: chdb: cannot open the %s connection on %s (chdb_connect failed without a message: "+
			"is another process using this directory, or is it not writable?)", store.ErrUnavailable, name, dir)
	}
	return c, nil
}

// configure sets each connection's session settings. On the reader, limits
// come before readonly=1, which then forbids changing any of them.
func (s *Store) configure() error {
	ctx := context.Background()
	if err := s.exec(ctx, s.writer, "SET "+outputSettings); err != nil {
		return fmt.Errorf("chdb: configure writer: %w", err)
	}
	l := s.limits
	limits := fmt.Sprintf("max_result_rows = %d, result_overflow_mode = 'throw', "+
		"max_execution_time = %s, timeout_overflow_mode = 'throw', max_memory_usage = %d",
		l.MaxResultRows, strconv.FormatFloat(l.MaxExecutionSecs, 'f', -1, 64), l.MaxMemoryBytes)
	for _, c := range s.readers {
		for _, q := range []string{"SET " + outputSettings + ", " + limits, "SET readonly = 1"} {
			if err := s.exec(ctx, c, q); err != nil {
				return fmt.Errorf("chdb: configure read-only connection: %w", err)
			}
		}
	}
	return nil
}

// maxReaders caps the read-only connections: one a core, at most this many.
const maxReaders = 8

// takeReader waits for an idle read-only connection and locks it.
func (s *Store) takeReader(ctx context.Context) (*conn, error) {
	select {
	case c := <-s.idle:
		if err := c.lock(ctx); err != nil {
			s.idle <- c
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// giveBack unlocks a reader from takeReader and makes it idle again.
func (s *Store) giveBack(c *conn) {
	c.unlock()
	s.idle <- c
}

func (c *conn) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.pp == nil {
		<-c.sem
		return fmt.Errorf("%w: chdb store is closed", store.ErrUnavailable)
	}
	return nil
}

func (c *conn) unlock() { <-c.sem }

// handle is the chdb_connection the query functions take.
func (c *conn) handle() unsafe.Pointer { return *(*unsafe.Pointer)(c.pp) }

func (c *conn) close() {
	if c.pp != nil {
		cCloseConn(c.pp)
		c.pp = nil
	}
}

// Close closes the connections, after waiting for running statements.
// Closing the last store of the process stops the engine; Open may then
// start it again, on any directory.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeConns()
		engine.mu.Lock()
		engine.refs--
		engine.mu.Unlock()
	})
	return nil
}

// closeConns closes each connection once its running statement ends.
func (s *Store) closeConns() {
	for _, c := range append([]*conn{s.writer}, s.readers...) {
		c.sem <- struct{}{}
		c.close()
		<-c.sem
	}
}

// Kind reports "chdb".
func (s *Store) Kind() string { return "chdb" }

// Exec runs one statement on the writer connection, discarding any output.
func (s *Store) Exec(ctx context.Context, sql string) error {
	if err := s.writer.lock(ctx); err != nil {
		return err
	}
	defer s.writer.unlock()
	return s.exec(ctx, s.writer, sql)
}

// exec runs sql on a locked connection.
func (s *Store) exec(_ context.Context, c *conn, sql string) error {
	res, err := c.query(sql, "TabSeparated")
	if err != nil {
		return err
	}
	cDestroyQueryResult(res)
	return nil
}

// Query runs one statement and decodes its whole result. With opts.ReadOnly
// it runs on one of the read-only connections under the store's Limits.
// ctx bounds the wait for the connection; a statement, once started, runs
// to its end (read-only ones are bounded by Limits.MaxExecutionSecs).
func (s *Store) Query(ctx context.Context, sql string, opts store.QueryOptions) (*store.Result, error) {
	var c *conn
	if opts.ReadOnly {
		var err error
		if c, err = s.takeReader(ctx); err != nil {
			return nil, err
		}
		defer s.giveBack(c)
		if err := c.vet(sql); err != nil {
			return nil, err
		}
	} else {
		c = s.writer
		if err := c.lock(ctx); err != nil {
			return nil, err
		}
		defer c.unlock()
	}
	res, err := c.query(sql, resultFormat)
	if err != nil {
		return nil, err
	}
	defer cDestroyQueryResult(res)
	return decodeResult(resultBytes(res))
}

var _ store.ArrowQuerier = (*Store)(nil)

// QueryArrow runs a read-only statement, as Query with ReadOnly does, and
// returns the engine's ArrowStream output, copied out of the engine's
// buffer before the connection is released.
func (s *Store) QueryArrow(ctx context.Context, sql string) ([]byte, error) {
	c, err := s.takeReader(ctx)
	if err != nil {
		return nil, err
	}
	defer s.giveBack(c)
	if err := c.vet(sql); err != nil {
		return nil, err
	}
	res, err := c.query(sql, arrowFormat)
	if err != nil {
		return nil, err
	}
	defer cDestroyQueryResult(res)
	buf := resultBytes(res)
	if !isArrowStream(buf) {
		return nil, &store.QueryError{Message: "the query's output is not an Arrow stream: remove its FORMAT clause, " +
			"results are returned in the format the request asks for"}
	}
	return bytes.Clone(buf), nil
}

// arrowContinuation opens every message of an Arrow IPC stream.
var arrowContinuation = []byte{0xff, 0xff, 0xff, 0xff}

// isArrowStream reports whether buf starts as an Arrow IPC stream does:
// a continuation marker and a non-empty first (schema) message.
func isArrowStream(buf []byte) bool {
	return len(buf) >= 8 && bytes.Equal(buf[:4], arrowContinuation) && !bytes.Equal(buf[4:8], []byte{0, 0, 0, 0})
}

// vet refuses, before it runs, a read-only query that readonly=1 would not
// stop. chDB trap: the embedded engine runs ClickHouse's client side too, so
// with readonly=1 `SELECT ... INTO OUTFILE` still writes a file on this
// machine and `USE db` still changes the connection's database. ClickHouse's
// own parser (chdb_classify_query_n) classifies the statement: reads pass;
// writes and DDL run so that the engine refuses them with its own message;
// text that does not parse runs so that the engine reports the syntax error;
// the rest (SET, USE, SYSTEM, KILL, INTO OUTFILE, INSERT INTO FUNCTION,
// BACKUP, access control, several statements) is refused here.
func (c *conn) vet(sql string) error {
	a := queryAnalysis{structSize: uint32(unsafe.Sizeof(queryAnalysis{}))}
	q, ql := strArg(sql)
	if cClassifyQueryN(c.handle(), q, ql, nil, 0, &a) != 0 {
		return fmt.Errorf("%w: chdb could not classify the query", store.ErrUnavailable)
	}
	switch {
	case a.statementCount == 0 && a.queryClass == queryUnknown:
		return nil // does not parse: let the engine say why
	case a.statementCount > 1:
		return &store.QueryError{Message: fmt.Sprintf("read-only queries take one statement, this text holds %d", a.statementCount)}
	case a.queryClass == queryReadOnly || a.queryClass == queryMutating:
		return nil
	default:
		return &store.QueryError{Message: "read-only query refused: it would change the session or write outside " +
			"the database (SET, USE, SYSTEM, KILL, INTO OUTFILE, INSERT INTO FUNCTION, BACKUP, " +
			"CREATE FUNCTION/USER and similar statements are not allowed)"}
	}
}

// query runs sql on a locked connection; the caller destroys the result.
func (c *conn) query(sql, format string) (unsafe.Pointer, error) {
	if !libraryLoaded() {
		return nil, fmt.Errorf("%w: chdb library not loaded", store.ErrUnavailable)
	}
	q, ql := strArg(sql)
	f, fl := strArg(format)
	res := cQueryN(c.handle(), q, ql, f, fl)
	if res == nil {
		return nil, fmt.Errorf("%w: chdb returned no result", store.ErrUnavailable)
	}
	if msg := cString(cResultError(res)); msg != "" {
		cDestroyQueryResult(res)
		c.drain()
		return nil, engineError(msg)
	}
	return res, nil
}

// drain clears what a failed statement leaves behind. chDB trap: a query
// that fails after it has produced output (a result-row limit, a timeout,
// throwIf in the middle of a scan) keeps that partial output in the
// connection, and the next successful statement's result is that output
// followed by its own. A throwaway statement after every error absorbs it.
func (c *conn) drain() {
	q, ql := strArg("SELECT 1")
	f, fl := strArg("Null")
	if res := cQueryN(c.handle(), q, ql, f, fl); res != nil {
		cDestroyQueryResult(res)
	}
}

func engineError(msg string) error {
	msg = strings.TrimSpace(msg)
	if strings.Contains(msg, "connection is closed") || strings.Contains(msg, "null connection") {
		return fmt.Errorf("%w: %s", store.ErrUnavailable, msg)
	}
	return &store.QueryError{Message: msg}
}

// resultBytes views a result's buffer in place (valid until it is destroyed).
func resultBytes(res unsafe.Pointer) []byte {
	p, n := cResultBuffer(res), cResultLength(res)
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice(p, n)
}

// decodeResult parses JSONCompact output into a store.Result. Strings are
// copied, so the buffer may be freed afterwards.
func decodeResult(buf []byte) (*store.Result, error) {
	r := &store.Result{Columns: []store.Column{}, Rows: [][]any{}}
	if len(bytes.TrimSpace(buf)) == 0 {
		return r, nil // a statement that produces no result set
	}
	var out struct {
		Meta []store.Column `json:"meta"`
		Data [][]any        `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || out.Meta == nil && out.Data == nil {
		// Not our format: the SQL carried its own FORMAT clause.
		return nil, &store.QueryError{Message: fmt.Sprintf("the query's output is not %s (%v): "+
			"remove its FORMAT clause, results are returned as JSON", resultFormat, err)}
	}
	if dec.More() || dec.InputOffset() < int64(len(bytes.TrimRight(buf, " \t\r\n"))) {
		return nil, &store.QueryError{Message: "the query produced more than one result set: send one statement per query"}
	}
	if out.Meta != nil {
		r.Columns = out.Meta
	}
	if out.Data != nil {
		r.Rows = out.Data
	}
	return r, nil
}

// Ping runs SELECT 1 on the read-only connection.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.scalar(ctx, "SELECT 1")
	return err
}

// Version is the engine's SELECT version().
func (s *Store) Version(ctx context.Context) (string, error) {
	v, err := s.scalar(ctx, "SELECT version()")
	if err != nil {
		return "", err
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("chdb: version() returned %T", v)
	}
	return str, nil
}

func (s *Store) scalar(ctx context.Context, sql string) (any, error) {
	r, err := s.Query(ctx, sql, store.QueryOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		return nil, fmt.Errorf("chdb: %s returned %d rows", sql, len(r.Rows))
	}
	return r.Rows[0][0], nil
}

// Identifiers spliced into SQL must match these.
var (
	tableRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
	columnRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// insertChunk is how much RowBinary is handed to the engine at a time.
const insertChunk = 4 << 20

// insertFormat has a header naming each column and its type, so the engine
// checks the data against the table (and converts where it can) instead of
// misreading bytes when a Block's types disagree with the table's.
const insertFormat = "RowBinaryWithNamesAndTypes"

// Insert appends the block with one streamed INSERT (RowBinary through
// chdb_stream_insert; binary data never travels in the query text). A
// non-empty DedupToken becomes the INSERT's insert_deduplication_token.
func (s *Store) Insert(ctx context.Context, b *store.Block) error {
	query, err := insertQuery(b)
	if err != nil {
		return err
	}
	if err := s.writer.lock(ctx); err != nil {
		return err
	}
	defer s.writer.unlock()
	e := &s.enc
	defer e.release()
	rows, err := e.prepare(b)
	if err != nil {
		return fmt.Errorf("chdb: insert into %s: %w", b.Table, err)
	}
	if rows == 0 {
		return nil
	}
	if !libraryLoaded() {
		return fmt.Errorf("%w: chdb library not loaded", store.ErrUnavailable)
	}
	err = s.stream(query, b, rows)
	if cap(e.buf) > 4*insertChunk {
		e.buf = nil // a block of huge values: do not keep its buffer
	}
	if err != nil {
		s.writer.drain()
		return err
	}
	return nil
}

// stream runs one streamed INSERT of the prepared block on the locked writer.
func (s *Store) stream(query string, b *store.Block, rows int) error {
	e := &s.enc
	q, ql := strArg(query)
	f, fl := strArg(insertFormat)
	st := cStreamInsertN(s.writer.handle(), q, ql, f, fl)
	if st == nil {
		return fmt.Errorf("%w: chdb_stream_insert returned no stream", store.ErrUnavailable)
	}
	defer cDestroyInsertStream(st)
	if msg := cString(cStreamInsertError(st)); msg != "" {
		return engineError(msg)
	}

	e.buf = e.buf[:0]
	e.appendHeader(b)
	for i := range rows {
		e.appendRow(i)
		if len(e.buf) >= insertChunk {
			if err := appendChunk(st, e.buf); err != nil {
				return err
			}
			e.buf = e.buf[:0]
		}
	}
	if len(e.buf) > 0 {
		if err := appendChunk(st, e.buf); err != nil {
			return err
		}
	}
	res := cStreamDone(st)
	if res == nil {
		return fmt.Errorf("%w: chdb_stream_done returned no result", store.ErrUnavailable)
	}
	defer cDestroyQueryResult(res)
	if msg := cString(cResultError(res)); msg != "" {
		return engineError(msg)
	}
	return nil
}

func appendChunk(st unsafe.Pointer, buf []byte) error {
	if cStreamAppend(st, &buf[0], uintptr(len(buf))) != 0 {
		msg := cString(cStreamInsertError(st))
		if msg == "" {
			msg = "chdb_stream_append failed"
		}
		return engineError(msg)
	}
	return nil
}

// insertQuery builds "INSERT INTO `t` (`a`, `b`) [SETTINGS ...]".
func insertQuery(b *store.Block) (string, error) {
	if !tableRe.MatchString(b.Table) {
		return "", fmt.Errorf("chdb: invalid table name %q", b.Table)
	}
	if len(b.Columns) == 0 {
		return "", fmt.Errorf("chdb: insert into %s: block has no columns", b.Table)
	}
	var q strings.Builder
	q.WriteString("INSERT INTO ")
	for i, part := range strings.Split(b.Table, ".") {
		if i > 0 {
			q.WriteByte('.')
		}
		q.WriteString("`" + part + "`")
	}
	q.WriteString(" (")
	for i, c := range b.Columns {
		if !columnRe.MatchString(c.Name) {
			return "", fmt.Errorf("chdb: insert into %s: invalid column name %q", b.Table, c.Name)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("`" + c.Name + "`")
	}
	q.WriteString(")")
	if b.DedupToken != "" {
		q.WriteString(" SETTINGS insert_deduplication_token = ")
		q.WriteString(quoteString(b.DedupToken))
	}
	return q.String(), nil
}

// quoteString renders s as a ClickHouse string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// strArg passes a Go string's bytes to C for the duration of one call.
func strArg(s string) (*byte, uintptr) {
	if s == "" {
		return &zeroByte, 0
	}
	return unsafe.StringData(s), uintptr(len(s))
}

var zeroByte byte

// cString copies a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
