package chdb

import (
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

var benchMetrics = []string{"cpu_seconds_total", "mem_bytes", "http_requests_total", "disk_io_time", "net_rx_bytes"}

// sampleBlock is rows of the samples table: 1000 series, one point each per
// 10 s step, starting at step.
func sampleBlock(rows, step int) *store.Block {
	ids := make([]uint64, rows)
	ts := make([]int64, rows)
	names := make([]string, rows)
	vals := make([]float64, rows)
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range rows {
		ids[i] = uint64(i % 1000)
		ts[i] = base + int64(step+i/1000)*10_000
		names[i] = benchMetrics[i%len(benchMetrics)]
		vals[i] = float64(i) * 0.25
	}
	return &store.Block{Table: "bench_samples", Columns: []store.ColumnData{
		{Name: "series_id", Type: "UInt64", Data: ids},
		{Name: "time", Type: "DateTime64(3)", Data: ts},
		{Name: "metric_name", Type: "LowCardinality(String)", Data: names},
		{Name: "value", Type: "Float64", Data: vals},
	}}
}

// BenchmarkInsertSamples inserts 100k-row blocks through chdb_stream_insert.
func BenchmarkInsertSamples(b *testing.B) {
	needEngine(b)
	if err := testStore.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_samples (
		series_id UInt64, time DateTime64(3), metric_name LowCardinality(String), value Float64
	) ENGINE = MergeTree ORDER BY (series_id, time)`); err != nil {
		b.Fatal(err)
	}
	const rows = 100_000
	blocks := make([]*store.Block, 4)
	for i := range blocks {
		blocks[i] = sampleBlock(rows, i*rows/1000)
	}
	// Warm up: the encoder's buffer grows once, then is reused.
	if err := testStore.Insert(ctx, blocks[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := testStore.Insert(ctx, blocks[i%len(blocks)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkRowBinaryEncode is the encoder alone (no engine): 0 allocs/op.
func BenchmarkRowBinaryEncode(b *testing.B) {
	needEngine(b)
	const rows = 100_000
	blk := sampleBlock(rows, 0)
	var e rowEncoder
	var size int64
	encode := func() {
		n, err := e.prepare(blk)
		if err != nil {
			b.Fatal(err)
		}
		size = 0
		e.buf = e.buf[:0]
		e.appendHeader(blk)
		for i := range n {
			e.appendRow(i)
			if len(e.buf) >= insertChunk {
				size += int64(len(e.buf))
				e.buf = e.buf[:0] // as Insert does after each append to the stream
			}
		}
		size += int64(len(e.buf))
		e.release()
	}
	encode() // warm up: the buffer grows once
	b.SetBytes(size)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		encode()
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}
