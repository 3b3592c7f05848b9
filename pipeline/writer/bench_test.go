package writer

// The writer's decode step alone: SampleBatch records into the column
// blocks the store inserts (one op = one 200,000-row batch, the writer's
// default --batch-rows). The insert itself is BenchmarkInsertSamples in
// pipeline/store/chdb.
//
//	go test -run '^$' -bench . ./pipeline/writer

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
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
