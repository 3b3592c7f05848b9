package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// ErrUnavailable wraps produce failures that mean the brokers could not take
// the write; collectors answer 503 with Retry-After so senders retry.
var ErrUnavailable = errors.New("kafka unavailable")

// Producer writes records and returns only once Kafka acknowledged them
// (acks=all), which is what lets collectors answer 2xx honestly.
type Producer struct {
	w *kafka.Writer
}

// NewProducer builds the shared producer. Records are placed by their key
// (see records.Partition), never round-robin.
func NewProducer(brokers []string, clientID string) *Producer {
	return &Producer{w: &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     keyBalancer{},
		RequiredAcks: kafka.RequireAll,
		// kafka-go's defaults (1 s batch timeout, no acks) are slow and unsafe.
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    1000,
		BatchBytes:   16 << 20,
		MaxAttempts:  3,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
		Compression:  compress.Lz4,
		Transport:    &kafka.Transport{ClientID: clientID, DialTimeout: 3 * time.Second},
	}}
}

// Publish writes msgs (each with Topic set) and waits for the acks.
func (p *Producer) Publish(ctx context.Context, msgs ...kafka.Message) error {
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Stats exposes kafka-go's writer counters for metrics.
func (p *Producer) Stats() kafka.WriterStats { return p.w.Stats() }

// Close flushes and closes.
func (p *Producer) Close() error { return p.w.Close() }

// keyBalancer places a record by the series id in its key, the same function
// producers used to group points, so one series stays in one partition.
// Keys that are not a series id (dead letters, foreign producers) hash.
// A record with a records.HeaderPartition header goes to that partition:
// detector checkpoints must sit in the partition of the data they reflect.
type keyBalancer struct{}

func (keyBalancer) Balance(msg kafka.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key == records.HeaderPartition {
			if p, err := strconv.Atoi(string(h.Value)); err == nil && p >= 0 && p < len(partitions) {
				return partitions[p]
			}
		}
	}
	if id, ok := records.KeyID(msg.Key); ok {
		return partitions[records.Partition(id, len(partitions))]
	}
	return (&kafka.Hash{}).Balance(msg, partitions...)
}
