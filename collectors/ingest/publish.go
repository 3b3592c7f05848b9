package ingest

import (
	"context"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Publisher turns decoded items into records, grouped by partition, and
// publishes them; every collector of logs and support messages goes
// through it, so keying and record size limits live in one place.
type Publisher struct {
	Sink       Sink
	Partitions Partitions
	// MaxRecordBytes splits a partition's items into several records. Default 1 MiB.
	MaxRecordBytes int
}

// LogStream is one stream's entries from one request.
type LogStream struct {
	Service string
	Labels  []records.Label // sorted by PublishLogs
	Entries []records.LogEntry
}

// PublishLogs publishes streams to the logs topic and returns once Kafka
// acknowledged every record. Entry ids are assigned per call, so a sender
// retrying the same request produces the same ids.
func (p *Publisher) PublishLogs(ctx context.Context, streams []LogStream) (entries int, err error) {
	parts := max(1, p.Partitions(records.TopicLogs))
	limit := p.MaxRecordBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	builders := make([]records.LogBatchBuilder, parts)
	var msgs []kafka.Message
	var ids records.EntryIDs
	var entryIDs []uint64
	for i := range streams {
		s := &streams[i]
		if len(s.Entries) == 0 {
			continue
		}
		records.SortLabels(s.Labels)
		sid := records.StreamID(s.Service, s.Labels)
		entryIDs = entryIDs[:0]
		for j := range s.Entries {
			entryIDs = append(entryIDs, ids.Next(sid, &s.Entries[j]))
		}
		b := &builders[records.Partition(sid, parts)]
		b.Add(sid, s.Service, s.Labels, s.Entries, entryIDs)
		entries += len(s.Entries)
		if b.Size() >= limit {
			msgs = append(msgs, kafka.Message{Topic: records.TopicLogs, Key: b.Key(), Value: b.AppendRecord(nil)})
			b.Reset()
		}
	}
	for i := range builders {
		if builders[i].Streams() > 0 {
			msgs = append(msgs, kafka.Message{Topic: records.TopicLogs, Key: builders[i].Key(), Value: builders[i].AppendRecord(nil)})
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := p.Sink.Publish(ctx, msgs...); err != nil {
		return 0, err
	}
	return entries, nil
}

// PublishSupport publishes messages (already redacted and scored) to the
// support topic, keyed by service.
func (p *Publisher) PublishSupport(ctx context.Context, msgs []*records.SupportMessage) error {
	out := make([]kafka.Message, 0, len(msgs))
	for _, m := range msgs {
		m.EnsureID()
		v, err := records.EncodeSupport(m)
		if err != nil {
			return err
		}
		out = append(out, kafka.Message{Topic: records.TopicSupport, Key: m.Key(), Value: v})
	}
	if len(out) == 0 {
		return nil
	}
	return p.Sink.Publish(ctx, out...)
}

// Series is one metric series' points from one request.
type Series struct {
	Labels []records.Label // must include __name__; sorted by PublishSamples
	Points []records.Point
}

// PublishSamples publishes series to the metrics topic, keyed by series id
// exactly as remote_write does (the same series from OTLP and from
// remote_write is the same series).
func (p *Publisher) PublishSamples(ctx context.Context, series []Series) (samples int, err error) {
	return p.PublishSamplesTo(ctx, records.TopicMetrics, series)
}

// PublishSamplesTo is PublishSamples to another topic of the same format
// (firebreak's own metrics go to records.TopicSelfMetrics).
func (p *Publisher) PublishSamplesTo(ctx context.Context, topic string, series []Series) (samples int, err error) {
	parts := max(1, p.Partitions(topic))
	limit := p.MaxRecordBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	builders := make([]records.SampleBatchBuilder, parts)
	var msgs []kafka.Message
	for i := range series {
		s := &series[i]
		if len(s.Points) == 0 {
			continue
		}
		records.SortLabels(s.Labels)
		id := records.SeriesID(s.Labels)
		b := &builders[records.Partition(id, parts)]
		b.Add(id, s.Labels, s.Points)
		samples += len(s.Points)
		if b.Size() >= limit {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: b.Key(), Value: b.AppendRecord(nil)})
			b.Reset()
		}
	}
	for i := range builders {
		if builders[i].Series() > 0 {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: builders[i].Key(), Value: builders[i].AppendRecord(nil)})
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := p.Sink.Publish(ctx, msgs...); err != nil {
		return 0, err
	}
	return samples, nil
}
