package writer

// The writer's two steps alone: decoding SampleBatch records into the column
// blocks the store inserts, and inserting them into the embedded engine with
// the real schema (one op = one 200,000-row batch, the writer's default
// --batch-rows).
//
//	go test -run '^$' -bench . ./pipeline/writer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/chdblib"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/schema"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

// benchBatch returns n records of perRecord series with one point each and
// eight labels, starting at series first.
func benchBatch(first, n, perRecord int, ts int64) [][]byte {
	modes := []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}
	var out [][]byte
	var bb records.SampleBatchBuilder
	for i := first; len(out) < n; i++ {
		host := i / len(modes)
		ls := []records.Label{
			{Name: records.MetricNameLabel, Value: "node_cpu_seconds_total"},
			{Name: "cluster", Value: "prod-eu-" + strconv.Itoa(host%4)},
			{Name: "env", Value: "production"},
			{Name: "instance", Value: fmt.Sprintf("10.%d.%d.%d:9100", 16+host>>16&0xf, host>>8&0xff, host&0xff)},
			{Name: "job", Value: "node"},
			{Name: "mode", Value: modes[i%len(modes)]},
			{Name: "namespace", Value: "shop"},
			{Name: "region", Value: "eu-west-1"},
		}
		bb.Add(records.SeriesID(ls), ls, []records.Point{{TimestampMs: ts, Value: float64(i)}})
		if bb.Points() == perRecord {
			out = append(out, bb.AppendRecord(nil))
			bb.Reset()
		}
	}
	return out
}

func BenchmarkSamplesEncoder(b *testing.B) {
	const perRecord, nRecords = 1000, 200
	ts := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixMilli()
	recs := benchBatch(0, nRecords, perRecord, ts)
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	run := func(b *testing.B, fresh bool) {
		seen := newSeriesCache(time.Hour.Milliseconds(), 2_000_000)
		enc := newSamplesEncoder(seen)
		batch := func() {
			for _, r := range recs {
				if err := enc.Add(r); err != nil {
					b.Fatal(err)
				}
			}
			if blocks := enc.Blocks(); len(blocks) == 0 {
				b.Fatal("no blocks")
			}
			enc.Reset()
		}
		batch() // warm up: buffers grow once; series become known
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if fresh {
				b.StopTimer()
				clear(seen.written)
				b.StartTimer()
			}
			batch()
		}
		b.ReportMetric(float64(perRecord*nRecords)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	// Steady state: every series was written within --series refresh, so
	// only samples_data rows are built.
	b.Run("known-series", func(b *testing.B) { run(b, false) })
	// Every series new to this writer (first sight, or after a restart):
	// a series row with its label map per series too.
	b.Run("new-series", func(b *testing.B) { run(b, true) })
}

// BenchmarkInsertBatch is the insert hop alone with the real schema: one op
// inserts one 200,000-row samples_data block, as the writer's inserter does
// (steady state: no series rows), into the embedded engine. Sub-benchmarks
// separate the costs: the migrated samples_data (ReplacingMergeTree, codecs,
// the samples_1m materialized view), the same table without the view, and a
// plain MergeTree like pipeline/store/chdb's BenchmarkInsertSamples. Merges
// run in the engine's background threads during the loop, as in production.
func BenchmarkInsertBatch(b *testing.B) {
	lib, err := chdblib.Locate()
	if err != nil {
		b.Skipf("embedded ClickHouse not installed (%v): run go run ./cmd/firebreak setup", err)
	}
	dir, err := os.MkdirTemp("", "firebreak-writer-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := schema.Migrate(ctx, st, schema.Options{}, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE bench_no_mv AS samples_data`,
		`CREATE TABLE bench_plain (metric_name LowCardinality(String), series_id UInt64,
			time DateTime64(3, 'UTC'), value Float64) ENGINE = MergeTree ORDER BY (series_id, time)`,
	} {
		if err := st.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}

	const perRecord, nRecords = 1000, 200
	start := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	enc := newSamplesEncoder(newSeriesCache(time.Hour.Milliseconds(), 2_000_000))
	for _, r := range benchBatch(0, nRecords, perRecord, start) {
		if err := enc.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	var blk *store.Block
	for _, bl := range enc.Blocks() {
		if bl.Table == "samples_data" {
			blk = bl
		}
	}
	rows, _ := blk.Rows()
	times := enc.timeMs
	for _, table := range []string{"samples_data", "bench_no_mv", "bench_plain"} {
		b.Run("table="+table, func(b *testing.B) {
			blk.Table = table
			round := 0
			next := func() { // the next scrape round: every sample distinct
				round++
				for i := range times {
					times[i] += 1000
				}
			}
			if err := st.Insert(ctx, blk); err != nil { // warm up
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				next()
				b.StartTimer()
				if err := st.Insert(ctx, blk); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
