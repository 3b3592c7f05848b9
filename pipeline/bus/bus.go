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

	"github.com/firebreak-aiops/firebreak/pipeline/records"
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

// Topics are every topic Firebreak uses, with partitions and retention:
// data topics and their derived streams (bands) share the partition count
// so a series keeps its partition through every stage; the anomalies,
// alerts, events and incident topics have one partition (one active
// alerter and correlator see everything);
// the detector-state topic is compacted (the newest checkpoint per key).
func Topics(partitions int, retention time.Duration) []TopicSpec {
	ms := func(d time.Duration) map[string]string {
		return map[string]string{"retention.ms": strconv.FormatInt(d.Milliseconds(), 10)}
	}
	var specs []TopicSpec
	for _, t := range append(append([]string(nil), records.DataTopics...), records.TopicBands) {
		specs = append(specs, TopicSpec{Name: t, Partitions: partitions, Configs: ms(retention)})
	}
	week := 7 * 24 * time.Hour
	return append(specs,
		TopicSpec{Name: records.TopicDeadLetter, Partitions: 1, Configs: ms(week)},
		TopicSpec{Name: records.TopicSelfMetrics, Partitions: 1, Configs: ms(retention)},
		TopicSpec{Name: records.TopicAnomalies, Partitions: 1, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicAlerts, Partitions: 1, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicEvents, Partitions: 1, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicIncidents, Partitions: 1, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicIncidentEvents, Partitions: 1, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicDetectorState, Partitions: partitions,
			Configs: map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.5"}},
		TopicSpec{Name: records.TopicPatterns, Partitions: partitions, Configs: ms(max(retention, week))},
		TopicSpec{Name: records.TopicLogTemplates, Partitions: partitions, Configs: ms(retention)},
	)
}
