// Package records defines what travels on Firebreak's Kafka topics: the topic
// names, one record type per topic, and its versioned binary encoding.
// Encoders and decoders live beside each type; every stage that reads or
// writes a topic goes through them.
package records

// Topic names. Every record of a data topic carries points of exactly one
// partition (see Partition), so partition-local state never needs another
// partition's data.
const (
	TopicMetrics    = "firebreak.metrics"
	TopicDeadLetter = "firebreak.deadletter"
	// TopicSelfMetrics carries firebreak's own metrics (collectors/selfmetrics),
	// in the metrics topic's format. The writer stores them in samples like any
	// series; detectors do not read this topic, so firebreak's own counters
	// never page anyone through firebreak and cannot feed back into it.
	TopicSelfMetrics = "firebreak.self-metrics"
)

// DataTopics are the topics the writer stores in ClickHouse.
var DataTopics = []string{TopicMetrics, TopicLogs, TopicSupport}

// Dead-letter record headers: where the record came from and why it failed.
const (
	HeaderSourceTopic     = "firebreak-source-topic"
	HeaderSourcePartition = "firebreak-source-partition"
	HeaderSourceOffset    = "firebreak-source-offset"
	HeaderError           = "firebreak-error"
)

// HeaderPartition pins a record to a partition (decimal), overriding its
// key: detector checkpoints go to the partition of the data they reflect.
const HeaderPartition = "firebreak-partition"

// Partition maps a series (stream, service) id to a partition. Producers
// group points by it and key each record with the id of one of its series;
// the producer's balancer applies the same function to the key, so every
// point of a series lands in one partition.
func Partition(id uint64, partitions int) int {
	if partitions <= 1 {
		return 0
	}
	return int(id % uint64(partitions))
}
