package chdb

import "unsafe"

// The C functions, bound once by loadLibrary. Handles are opaque
// unsafe.Pointers to C memory; Go's collector ignores such pointers.
var (
	cConnect                  func(argc int32, argv **byte) unsafe.Pointer // chdb_connection *
	cCloseConn                func(conn unsafe.Pointer)                    // chdb_connection *
	cQueryN                   func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr) unsafe.Pointer
	cResultBuffer             func(res unsafe.Pointer) *byte
	cResultLength             func(res unsafe.Pointer) uintptr
	cResultError              func(res unsafe.Pointer) *byte
	cResultRowsWritten        func(res unsafe.Pointer) uint64
	cDestroyQueryResult       func(res unsafe.Pointer)
	cStreamInsertN            func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr) unsafe.Pointer
	cStreamAppend             func(stream unsafe.Pointer, data *byte, n uintptr) int32
	cStreamDone               func(stream unsafe.Pointer) unsafe.Pointer
	cStreamInsertError        func(stream unsafe.Pointer) *byte
	cDestroyInsertStream      func(stream unsafe.Pointer)
	cSetSignalHandlersEnabled func(enabled int32)
	cVersion                  func() *byte
	cClassifyQueryN           func(conn unsafe.Pointer, sql *byte, sqlLen uintptr, targetDB *byte, targetDBLen uintptr, out *queryAnalysis) int32
)

// queryAnalysis is chdb_query_analysis_v1.
type queryAnalysis struct {
	structSize     uint32
	statementCount uint32
	flags          uint32
	queryClass     uint32
}

// chdb_query_class values.
const (
	queryReadOnly       = 0
	queryMutating       = 1
	queryMutatingGlobal = 2
	queryControl        = 3
	queryUnknown        = 4
)
