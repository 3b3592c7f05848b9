package logdetect

import (
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// BenchmarkConsume is the stage's per-line work without Kafka: decode a
// logs record (10 services × 50 lines), strip headers, mine every line,
// assign it (the log-templates record), count its minute, and at minute
// ends publish pattern records (JSON) and judge the rates. lines/cpu-s is
// per core (one partition is one goroutine).
//
//	go test -run '^$' -bench Consume -benchmem ./detectors/logdetect
func BenchmarkConsume(b *testing.B) {
	// plain: bodies are messages (OTLP, most JSON loggers); header: each
	// body starts with an RFC 3339 time and a level, which StripHeader
	// drops.
	b.Run("plain", func(b *testing.B) { benchmarkConsume(b, false) })
	b.Run("header", func(b *testing.B) { benchmarkConsume(b, true) })
}

func benchmarkConsume(b *testing.B, header bool) {
	const nServices, perService, nRecords = 10, 50, 400
	gens := make([]*shop, nServices)
	streams := make([]stream, nServices)
	for i := range gens {
		gens[i] = newShop(uint64(100 + i))
		streams[i] = newStream(fmt.Sprintf("svc-%d", i), "host-1")
	}
	// 200 lines per service per minute: a record is a quarter minute.
	recs := make([][]byte, nRecords)
	bytesTotal := 0
	for r := range recs {
		var bb records.LogBatchBuilder
		for i, g := range gens {
			var entries []records.LogEntry
			for k := range perService {
				l := g.steady()
				n := r*perService + k
				ts := g.t0 + int64(n)*int64(time.Minute)/200
				body := l.body
				if header {
					body = time.Unix(0, ts).UTC().Format(time.RFC3339Nano) + " " + l.text + " " + l.body
				}
				entries = append(entries, records.LogEntry{TimeNs: ts, SeverityNumber: l.sev, SeverityText: l.text, Body: body})
			}
			var ids records.EntryIDs
			eids := make([]uint64, len(entries))
			for k := range entries {
				eids[k] = ids.Next(streams[i].id, &entries[k])
			}
			bb.Add(streams[i].id, streams[i].service, streams[i].labels, entries, eids)
		}
		recs[r] = bb.AppendRecord(nil)
		bytesTotal += len(recs[r])
	}
	st := New(Config{}, nil, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	var p *partition
	reset := func() {
		p = newPartition(st, 0)
		// Warm: every service and template exists.
		for i, rec := range recs[:40] {
			p.consume(kafka.Message{Offset: int64(i), Value: rec})
			p.drop()
		}
	}
	reset()
	next := 40
	b.SetBytes(int64(bytesTotal / nRecords))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if next == nRecords {
			b.StopTimer()
			reset()
			next = 40
			b.StartTimer()
		}
		p.consume(kafka.Message{Offset: int64(next), Value: recs[next]})
		next++
		if p.pendingBytes() >= 512<<10 || i%8 == 7 {
			p.lineBuf.AppendRecord(nil) // the flush's encoding, without Kafka
			p.drop()
		}
	}
	lines := float64(b.N * nServices * perService)
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		// The machine may be shared: CPU time gives the per-core rate.
		b.ReportMetric(lines/cpu, "lines/cpu-s")
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
