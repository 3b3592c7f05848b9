package bus_test

// The Kafka hop's ceilings, alone: the collectors' Producer into the embedded
// broker (produce), and a consumer group reading the records back with the
// writer's reader settings (consume). Records are SampleBatch records of
// realistic series, built the way remotewrite builds them.
//
//	go test -run '^$' -bench . -benchtime 2000x ./pipeline/bus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const benchPartitions = 8 // firebreak run's default --partitions

// startBroker starts an embedded broker with a data directory, as
// `firebreak run` does.
func startBroker(b *testing.B) string {
	b.Helper()
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	return br.Addr()
}

var topicSeq atomic.Int64

func newTopic(b *testing.B, addr string) string {
	b.Helper()
	topic := fmt.Sprintf("bench.metrics.%d", topicSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, []string{addr}, []bus.TopicSpec{{Name: topic, Partitions: benchPartitions}}); err != nil {
		b.Fatal(err)
	}
	return topic
}

// benchRecords returns n SampleBatch records of perRecord series with one
// point each and eight labels, every record holding series of one partition
// only (as producers must), keyed as remotewrite keys them.
func benchRecords(topic string, n, perRecord int) []kafka.Message {
	builders := make([]records.SampleBatchBuilder, benchPartitions)
	var out []kafka.Message
	ts := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixMilli()
	modes := []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}
	for i := 0; len(out) < n; i++ {
		host := i / len(modes)
		ls := []records.Label{
			{Name: records.MetricNameLabel, Value: "node_cpu_seconds_total"},
			{Name: "cluster", Value: "prod-eu-" + strconv.Itoa(host%4)},
			{Name: "env", Value: "production"},
			{Name: "instance", Value: fmt.Sprintf("10.16.%d.%d:9100", host>>8&0xff, host&0xff)},
			{Name: "job", Value: "node"},
			{Name: "mode", Value: modes[i%len(modes)]},
			{Name: "namespace", Value: "shop"},
			{Name: "region", Value: "eu-west-1"},
		}
		id := records.SeriesID(ls)
		bb := &builders[records.Partition(id, benchPartitions)]
		bb.Add(id, ls, []records.Point{{TimestampMs: ts, Value: float64(i)}})
		if bb.Points() == perRecord {
			out = append(out, kafka.Message{Topic: topic, Key: bb.Key(), Value: bb.AppendRecord(nil)})
			bb.Reset()
		}
	}
	return out
}

// BenchmarkProduce publishes records through bus.Producer (acks=all, lz4,
// 2 ms batch timeout: the collectors' settings) from concurrent publishers,
// as concurrent remote_write requests do. One op is one Publish call.
func BenchmarkProduce(b *testing.B) {
	addr := startBroker(b)
	for _, c := range []struct {
		name                        string
		perRecord, perCall, callers int
	}{
		{"record=1000samples/publishers=8", 1000, 1, 8},
		{"record=1000samples/publishers=64", 1000, 1, 64},
		// A 2000-sample remote_write request on 8 partitions: 8 records of 250.
		{"request=8x250samples/publishers=8", 250, 8, 8},
	} {
		b.Run(c.name, func(b *testing.B) {
			topic := newTopic(b, addr)
			pool := benchRecords(topic, 256, c.perRecord)
			var bytes int64
			for _, m := range pool {
				bytes += int64(len(m.Value))
			}
			p := bus.NewProducer([]string{addr}, "bench")
			defer p.Close()
			ctx := context.Background()
			if err := p.Publish(ctx, pool[0]); err != nil { // connect, metadata
				b.Fatal(err)
			}
			b.SetBytes(bytes / int64(len(pool)) * int64(c.perCall))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, c.callers)
			for range c.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msgs := make([]kafka.Message, c.perCall)
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						for k := range msgs {
							msgs[k] = pool[(int(i)*c.perCall+k)%len(pool)]
						}
						if err := p.Publish(ctx, msgs...); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N*c.perCall*c.perRecord)/elapsed.Seconds(), "samples/s")
		})
	}
}

// BenchmarkConsume reads b.N records of 1000 samples back with a consumer
// group and the writer's reader settings, committing every 200 records (one
// 200,000-row writer batch) synchronously as the writer does. Joining the
// group is not timed.
func BenchmarkConsume(b *testing.B) {
	const perRecord = 1000
	addr := startBroker(b)
	topic := newTopic(b, addr)
	pool := benchRecords(topic, 256, perRecord)
	var bytes int64
	for _, m := range pool {
		bytes += int64(len(m.Value))
	}
	// Produce b.N records, untimed.
	p := bus.NewProducer([]string{addr}, "bench")
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := p.Publish(ctx, pool[int(i)%len(pool)]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p.Close()
	if b.Failed() {
		return
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:          []string{addr},
		GroupID:          "bench-" + topic,
		GroupTopics:      []string{topic},
		MinBytes:         1,
		MaxBytes:         32 << 20,
		MaxWait:          100 * time.Millisecond,
		ReadBatchTimeout: 2 * time.Second,
		QueueCapacity:    1000,
		CommitInterval:   0,
		StartOffset:      kafka.FirstOffset,
	})
	defer r.Close()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	first, err := r.FetchMessage(fctx) // joins the group
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(bytes / int64(len(pool)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	pending := map[int]kafka.Message{first.Partition: first}
	commit := func() {
		msgs := make([]kafka.Message, 0, len(pending))
		for _, m := range pending {
			msgs = append(msgs, m)
		}
		if err := r.CommitMessages(fctx, msgs...); err != nil {
			b.Fatal(err)
		}
		clear(pending)
	}
	var samples int
	for i := 1; i < b.N; i++ {
		m, err := r.FetchMessage(fctx)
		if err != nil {
			b.Fatalf("after %d of %d records: %v", i, b.N, err)
		}
		samples += perRecord
		pending[m.Partition] = m
		if i%200 == 0 {
			commit()
		}
	}
	commit()
	elapsed := time.Since(start)
	b.StopTimer()
	if b.N > 1 {
		b.ReportMetric(float64(samples)/elapsed.Seconds(), "samples/s")
	}
}
