// Package store is Firebreak's one way into ClickHouse. Two implementations
// share it and the same SQL: the embedded engine (package chdb, libchdb loaded
// in-process) and a ClickHouse server over the native protocol (package
// chserver, clickhouse-go/v2). Only the pipeline writer inserts; the query API
// reads through Query with ReadOnly set.
package store

import (
	"context"
	"errors"
	"fmt"
)

// Store is implemented by chdb.Store and chserver.Store.
type Store interface {
	// Exec runs one statement that returns no rows (DDL, migrations, OPTIMIZE).
	Exec(ctx context.Context, sql string) error
	// Query runs one statement and returns every row it produces. With
	// opts.ReadOnly the engine itself refuses writes and settings changes
	// (readonly=1) and applies the store's Limits; analysts' SQL only ever
	// runs that way.
	Query(ctx context.Context, sql string, opts QueryOptions) (*Result, error)
	// Insert appends one block of rows as a single INSERT. A non-empty
	// Block.DedupToken is passed as insert_deduplication_token so a replayed
	// block is dropped by the engine.
	Insert(ctx context.Context, b *Block) error
	// Ping reports whether the engine answers a trivial query.
	Ping(ctx context.Context) error
	// Kind is "chdb" or "clickhouse", for logs, /healthz and the API.
	Kind() string
	// Version is the engine's SELECT version().
	Version(ctx context.Context) (string, error)
	Close() error
}

// ArrowQuerier is a Store that can answer a read-only query in the Arrow
// IPC streaming format (the engine's ArrowStream output, passed on as it
// is), so that a client reading columns skips the JSON rows of Query
// entirely. The embedded engine implements it; the read API answers JSON
// when the store does not.
type ArrowQuerier interface {
	// QueryArrow runs one statement as Query with ReadOnly does (readonly=1,
	// the store's Limits) and returns the stream: a schema message, the
	// record batches, the end-of-stream marker. A statement whose output is
	// not an Arrow stream (it carries its own FORMAT clause) is a
	// *QueryError.
	QueryArrow(ctx context.Context, sql string) ([]byte, error)
}

// QueryOptions select how a query runs.
type QueryOptions struct {
	// ReadOnly runs the query with readonly=1 and the store's Limits.
	ReadOnly bool
}

// Limits bound analysts' read-only queries. They are enforced by the engine
// (max_result_rows with result_overflow_mode=throw, max_execution_time,
// max_memory_usage) and cannot be lifted by the query itself.
type Limits struct {
	MaxResultRows    int64   // default 100000
	MaxExecutionSecs float64 // default 30
	MaxMemoryBytes   int64   // default 2 GiB
}

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxResultRows <= 0 {
		l.MaxResultRows = 100_000
	}
	if l.MaxExecutionSecs <= 0 {
		l.MaxExecutionSecs = 30
	}
	if l.MaxMemoryBytes <= 0 {
		l.MaxMemoryBytes = 2 << 30
	}
	return l
}

// Column describes one result column as ClickHouse names it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result holds a whole query result. Values are JSON-ready and identical
// across implementations: integers and floats as json.Number (64-bit
// integers exact, never quoted), non-finite floats as nil, strings as string,
// Date/DateTime/DateTime64 as RFC 3339 strings in UTC (fraction as the type's
// precision), Bool as bool, Nullable NULL as nil, Array as []any, Map as
// map[string]any, Tuple as []any.
type Result struct {
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Block is one INSERT's worth of rows, stored column by column so the
// writer fills it without allocating per row.
type Block struct {
	Table      string
	Columns    []ColumnData
	DedupToken string
}

// ColumnData is one column of a Block. Data's Go type follows Type:
//
//	UInt8 []uint8, UInt32 []uint32, UInt64 []uint64, Int32 []int32, Int64 []int64,
//	Float64 []float64, String and LowCardinality(String) []string,
//	DateTime64(3) []int64 (milliseconds since the Unix epoch),
//	DateTime64(9) []int64 (nanoseconds since the Unix epoch),
//	DateTime []uint32 (seconds), Array(String) and Array(LowCardinality(String)) [][]string,
//	Map(LowCardinality(String), String) and Map(String, String) []map[string]string.
type ColumnData struct {
	Name string
	Type string
	Data any
}

// Rows reports the block's row count, checking that every column agrees.
func (b *Block) Rows() (int, error) {
	n := -1
	for _, c := range b.Columns {
		l, err := columnLen(c.Data)
		if err != nil {
			return 0, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if n >= 0 && l != n {
			return 0, fmt.Errorf("column %s has %d rows, previous columns %d", c.Name, l, n)
		}
		n = l
	}
	if n < 0 {
		return 0, errors.New("block has no columns")
	}
	return n, nil
}

func columnLen(data any) (int, error) {
	switch d := data.(type) {
	case []uint8:
		return len(d), nil
	case []uint32:
		return len(d), nil
	case []uint64:
		return len(d), nil
	case []int32:
		return len(d), nil
	case []int64:
		return len(d), nil
	case []float64:
		return len(d), nil
	case []string:
		return len(d), nil
	case [][]string:
		return len(d), nil
	case []map[string]string:
		return len(d), nil
	default:
		return 0, fmt.Errorf("unsupported column data %T", data)
	}
}

// ErrUnavailable wraps errors that mean the engine cannot be reached or is
// not ready (as opposed to a bad query); callers back off and retry.
var ErrUnavailable = errors.New("store unavailable")

// QueryError is a query the engine refused (syntax, unknown column,
// readonly violation, limit exceeded). Message is ClickHouse's own text, which
// the API returns to the user with a 400.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }
