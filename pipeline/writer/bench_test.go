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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
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

// logsBenchRecords returns LogBatch records shaped like `firebreak bench
// logs` sends through Loki: 60 streams of 8 services, 4 stream labels, ~100
// byte bodies, no attributes, 8 streams per record of perRecord lines.
func logsBenchRecords(nLines, perRecord int, t0 int64) [][]byte {
	services := []string{"checkout", "cart", "payments", "catalog", "search", "auth", "shipping", "frontend"}
	type stream struct {
		id     uint64
		svc    string
		labels []records.Label
	}
	streams := make([]stream, 60)
	for s := range streams {
		svc := services[s%len(services)]
		ls := []records.Label{
			{Name: "host", Value: fmt.Sprintf("node-%02d.eu-west-1.internal", s%23)},
			{Name: "instance", Value: fmt.Sprintf("%s-%08x-%d", svc, uint32(s)*2654435761, s/8)},
			{Name: "job", Value: "shop/" + svc},
			{Name: "service_name", Value: svc},
		}
		streams[s] = stream{records.StreamID(svc, ls), svc, ls}
	}
	var out [][]byte
	var bb records.LogBatchBuilder
	var ids records.EntryIDs
	n := 0
	for rec := 0; n < nLines; rec++ {
		ids.Reset()
		per := perRecord / 8
		for k := range 8 {
			st := streams[(rec*8+k)%len(streams)]
			entries := make([]records.LogEntry, per)
			eids := make([]uint64, per)
			for i := range entries {
				n++
				entries[i] = records.LogEntry{TimeNs: t0 + int64(n)*1000, SeverityNumber: 9, SeverityText: "info",
					Body: fmt.Sprintf("GET /api/products/%d 200 %dms request_id=%08x trace_id=%016x%016x", n%100000, n%1000, n*2654435761, n, n*7)}
				eids[i] = ids.Next(st.id, &entries[i])
			}
			bb.Add(st.id, st.svc, st.labels, entries, eids)
		}
		out = append(out, bb.AppendRecord(nil))
		bb.Reset()
	}
	return out
}

func BenchmarkLogsEncoder(b *testing.B) {
	recs := logsBenchRecords(200_000, 2000, time.Now().Add(-time.Hour).UnixNano())
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}
	enc := newLogsEncoder()
	batch := func() {
		for _, r := range recs {
			if err := enc.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		enc.Blocks()
		enc.Reset()
	}
	batch()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		batch()
	}
	b.ReportMetric(200_000*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkLogsInsert inserts 200,000-line logs blocks into the migrated
// logs table: on one connection, and split over 2 or 4 connections (Stores
// on the same data directory) inserting at once, as parallel insert
// workers would.
func BenchmarkLogsInsert(b *testing.B) {
	lib, err := chdblib.Locate()
	if err != nil {
		b.Skipf("embedded ClickHouse not installed (%v): run go run ./cmd/firebreak setup", err)
	}
	dir, err := os.MkdirTemp("", "firebreak-writer-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var stores []*chdb.Store
	for range 4 {
		st, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		stores = append(stores, st)
	}
	ctx := context.Background()
	if err := schema.Migrate(ctx, stores[0], schema.Options{}, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	const lines = 200_000
	t0 := time.Now().Add(-time.Hour).UnixNano()
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("connections=%d", workers), func(b *testing.B) {
			encs := make([]*logsEncoder, workers)
			for w := range encs {
				encs[w] = newLogsEncoder()
			}
			round := 0
			fill := func() {
				round++
				recs := logsBenchRecords(lines, 2000, t0+int64(round)*int64(time.Second))
				for i, r := range recs {
					if err := encs[i%workers].Add(r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for _, e := range encs {
					e.Reset()
				}
				fill()
				b.StartTimer()
				errs := make(chan error, workers)
				for w := range workers {
					go func() { errs <- stores[w].Insert(ctx, encs[w].Blocks()[0]) }()
				}
				for range workers {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkLogsInsertVariants separates what the logs table costs: the
// process CPU time (insert and the background merges it causes, measured
// with getrusage, so other load on the machine matters less than in
// wall-clock figures) per line for the migrated table and variants of it.
// One op = 20 inserts of 200,000 lines, then waiting until merges settle.
func BenchmarkLogsInsertVariants(b *testing.B) {
	lib, err := chdblib.Locate()
	if err != nil {
		b.Skipf("embedded ClickHouse not installed (%v)", err)
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
	variants := map[string][]string{
		"logs":           nil,
		"no_tokenbf":     {`ALTER TABLE %s DROP INDEX body_tokens`},
		"no_indexes":     {`ALTER TABLE %s DROP INDEX body_tokens`, `ALTER TABLE %s DROP INDEX trace`},
		"body_zstd1":     {`ALTER TABLE %s MODIFY COLUMN body String CODEC(ZSTD(1))`},
		"body_lz4":       {`ALTER TABLE %s MODIFY COLUMN body String CODEC(LZ4)`},
		"mergetree":      nil,
		"no_labels":      nil,
		"null":           nil,
		"null_no_labels": nil,
	}
	enc := newLogsEncoder()
	t0 := time.Now().Add(-time.Hour).UnixNano()
	for _, r := range logsBenchRecords(400_000, 2000, t0) {
		if err := enc.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	full := enc.Blocks()[0]
	noLabels := make([]map[string]string, len(enc.labels))
	for _, name := range []string{"logs", "logs_100k", "logs_400k", "no_tokenbf", "no_indexes", "body_zstd1", "body_lz4", "mergetree", "no_labels", "null", "null_no_labels"} {
		rows := 200_000
		switch name {
		case "logs_100k":
			rows = 100_000
		case "logs_400k":
			rows = 400_000
		}
		blk := headBlock(full, rows)
		b.Run("table="+name, func(b *testing.B) {
			table := "v_" + name
			create := `CREATE TABLE ` + table + ` AS logs`
			switch name {
			case "mergetree":
				create = `CREATE TABLE ` + table + ` AS logs ENGINE = MergeTree PARTITION BY toDate(time) ORDER BY (service, time, entry_id)`
			case "null", "null_no_labels": // parsing alone (and the Go side of the insert)
				create = `CREATE TABLE ` + table + ` AS logs ENGINE = Null`
			}
			if strings.HasSuffix(name, "no_labels") { // stream labels kept elsewhere, as series are for samples
				for i := range blk.Columns {
					if blk.Columns[i].Name == "labels" {
						blk.Columns[i].Data = noLabels[:rows]
					}
				}
			}
			for _, q := range append([]string{create}, variants[name]...) {
				if err := st.Exec(ctx, strings.ReplaceAll(q, "%s", table)); err != nil {
					b.Fatal(q, err)
				}
			}
			blk.Table = table
			var cpu time.Duration
			for b.Loop() {
				before := cpuTime()
				for range 4_000_000 / rows {
					for i := range enc.timeNs {
						enc.timeNs[i] += int64(time.Second)
					}
					if err := st.Insert(ctx, &blk); err != nil {
						b.Fatal(err)
					}
				}
				for range 300 { // merges settle
					res, err := st.Query(ctx, `SELECT count() FROM system.merges`, store.QueryOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if fmt.Sprint(res.Rows[0][0]) == "0" {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				cpu += cpuTime() - before
			}
			res, _ := st.Query(ctx, `SELECT count(), sum(bytes_on_disk) FROM system.parts WHERE active AND table = '`+table+`'`, store.QueryOptions{})
			b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(4_000_000*b.N), "cpu-µs/line")
			if res != nil {
				b.Logf("%s: parts, bytes: %v", table, res.Rows)
			}
			if err := st.Exec(ctx, `DROP TABLE `+table+` SYNC`); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// headBlock is the first n rows of b (the columns share b's memory).
func headBlock(b *store.Block, n int) store.Block {
	out := store.Block{Table: b.Table, Columns: append([]store.ColumnData(nil), b.Columns...)}
	for i, c := range out.Columns {
		switch d := c.Data.(type) {
		case []int64:
			out.Columns[i].Data = d[:n]
		case []uint64:
			out.Columns[i].Data = d[:n]
		case []uint8:
			out.Columns[i].Data = d[:n]
		case []string:
			out.Columns[i].Data = d[:n]
		case []map[string]string:
			out.Columns[i].Data = d[:n]
		default:
			panic(fmt.Sprintf("headBlock: %T", d))
		}
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriterDrain is the writer alone at full speed: a backlog of
// 1.2 M log lines (8 partitions, 2,000-line records shaped like `firebreak
// bench logs`) is consumed, inserted and committed by 1, 2 or 3 insert
// workers, each on its own connection to the embedded engine. One op =
// the whole backlog; lines/s is the drain rate, cpu-µs/line the process's
// CPU time per line (fetch, decode, insert and the merges that overlap).
//
//	go test -run '^$' -bench WriterDrain -benchtime 1x -count 3 ./pipeline/writer
func BenchmarkWriterDrain(b *testing.B) {
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			const lines = 1_200_000
			var elapsed, cpu time.Duration
			for range b.N {
				b.StopTimer()
				e := newEnv(b, bus.TopicSpec{Name: records.TopicLogs, Partitions: 8})
				var extra []store.Store
				for range workers - 1 {
					extra = append(extra, e.openStore(b))
				}
				t0 := time.Now().Add(-time.Hour).UnixNano()
				for i, r := range logsBenchRecords(lines, 2000, t0) {
					e.publish(b, kafka.Message{Topic: records.TopicLogs, Key: []byte{0, 0, 0, 0, 0, 0, 0, byte(i)}, Value: r})
				}
				w := New(Config{Brokers: e.brokers, Topics: []string{records.TopicLogs}, InsertStores: extra},
					e.st, e.producer, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				go func() { done <- w.Run(ctx) }()
				for testutil.ToFloat64(w.metrics.rows.WithLabelValues("logs")) < lines {
					time.Sleep(20 * time.Millisecond)
				}
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				for _, st := range extra {
					st.Close()
				}
				e.st.Close() // the next op opens its own data directory
			}
			b.ReportMetric(float64(lines)*float64(b.N)/elapsed.Seconds(), "lines/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(lines*b.N), "cpu-µs/line")
		})
	}
}
