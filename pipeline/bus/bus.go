// Package bus is Firebreak's Kafka plumbing on segmentio/kafka-go: topic
// creation, the producer the collectors share, and the consumer-group
// readers of the pipeline stages. It knows nothing of record contents.
package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TopicSpec is a topic Firebreak needs.
type TopicSpec struct {
	Name       string
	Partitions int
	// Configs are topic configs such as retention.ms or cleanup.policy.
	Configs map[string]string
}

// EnsureTopics creates the topics that do not exist yet. Existing topics are
// left as they are (an operator may have more partitions on purpose).
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: -1}
		for k, v := range s.Configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics on %v: %w", brokers, err)
	}
	for name, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, terr)
		}
	}
	return nil
}

// PartitionCount asks the brokers how many partitions topic has.
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return 0, fmt.Errorf("metadata for %s: %w", topic, t.Error)
			}
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("topic %s not found on %v", topic, brokers)
}

// Reachable dials the first broker that answers, for readiness checks.
func Reachable(ctx context.Context, brokers []string) error {
	var d net.Dialer
	var last error
	for _, b := range brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			c.Close()
			return nil
		}
		last = err
	}
	return last
}

// HeaderInt renders an int for a record header.
func HeaderInt(v int64) []byte { return strconv.AppendInt(nil, v, 10) }
