package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// PartitionFunc works on one assigned partition until ctx ends (the
// partition is revoked or the process stops) and returns nil, or returns
// an error to be restarted after a backoff. It commits offsets through
// gen.CommitOffsets when it wants the group to see progress.
type PartitionFunc func(ctx context.Context, gen *kafka.Generation, partition int) error

// ConsumePartitions joins group on topic and runs fn once per assigned
// partition, for stages whose state lives per partition (detectors): they
// restore it on assignment, read with their own reader from their own
// checkpointed offset, and checkpoint when the partition is revoked. It
// returns when ctx ends.
func ConsumePartitions(ctx context.Context, brokers []string, group, topic string, log *slog.Logger, fn PartitionFunc) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                     group,
		Brokers:                brokers,
		Topics:                 []string{topic},
		StartOffset:            kafka.FirstOffset,
		HeartbeatInterval:      2 * time.Second,
		SessionTimeout:         20 * time.Second,
		RebalanceTimeout:       20 * time.Second,
		PartitionWatchInterval: 5 * time.Second,
		WatchPartitionChanges:  true,
		Timeout:                10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", group, err)
	}
	defer cg.Close()
	for {
		gen, ok := nextGeneration(ctx, cg, log, group, nil)
		if !ok {
			return nil
		}
		for _, a := range gen.Assignments[topic] {
			id := a.ID
			gen.Start(func(gctx context.Context) {
				for attempt := 0; gctx.Err() == nil; attempt++ {
					err := fn(gctx, gen, id)
					if err == nil || gctx.Err() != nil {
						return
					}
					log.Warn("partition worker failed, restarting it", "group", group, "partition", id, "err", err, "attempt", attempt)
					Sleep(gctx, Backoff(attempt))
				}
			})
		}
	}
}

// nextGeneration joins the group's next generation, retrying with a
// backoff while the group cannot be reached; onFailure (may be nil) runs
// on every failed attempt. ok is false once ctx ends or the group closed.
func nextGeneration(ctx context.Context, cg *kafka.ConsumerGroup, log *slog.Logger, group string, onFailure func(error)) (gen *kafka.Generation, ok bool) {
	for attempt := 1; ; attempt++ {
		gen, err := cg.Next(ctx)
		if err == nil {
			return gen, true
		}
		if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
			return nil, false
		}
		if onFailure != nil {
			onFailure(err)
		}
		log.Warn("consumer group: joining failed, retrying", "group", group, "err", err, "attempt", attempt)
		Sleep(ctx, Backoff(attempt))
	}
}

// Backoff is the wait before retry attempt n: 100 ms doubling, at most 10 s.
func Backoff(attempt int) time.Duration {
	return min(100*time.Millisecond<<min(attempt, 7), 10*time.Second)
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ReadToEnd calls fn for every record of one partition from its first
// offset to the end it has when the call starts (restoring checkpoints,
// replaying a compacted or short topic). An empty partition calls nothing.
func ReadToEnd(ctx context.Context, brokers []string, topic string, partition int, fn func(kafka.Message) error) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}}})
	if err != nil {
		return fmt.Errorf("list offsets of %s/%d: %w", topic, partition, err)
	}
	var first, last int64
	for _, po := range resp.Topics[topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return fmt.Errorf("list offsets of %s/%d: %w", topic, partition, po.Error)
		}
		first, last = po.FirstOffset, po.LastOffset
	}
	if last <= first {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: FetchWait})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return err
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s/%d: %w", topic, partition, err)
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.Offset >= last-1 {
			return nil
		}
	}
}

// FetchWait is how long a fetch waits at the broker for new records before
// it comes back empty. Every reader asks for at least one byte, so records
// arriving end the wait at once and it adds no latency; it only sets how
// often an idle reader polls. firebreak runs a reader per partition and
// stage, and each poll costs a request on both sides: at 100–250 ms an
// idle firebreak spent ~150 ms of CPU a second polling (BENCHMARKS.md).
const FetchWait = time.Second

// PartitionReader reads one partition from offset (negative: its first
// record), tuned for stages that own the partition and poll it with short
// fetch deadlines. The caller closes it.
func PartitionReader(brokers []string, topic string, partition int, offset int64) (*kafka.Reader, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		Topic:          topic,
		Partition:      partition,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        FetchWait,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
	})
	if offset < 0 {
		offset = kafka.FirstOffset
	}
	if err := r.SetOffset(offset); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}
