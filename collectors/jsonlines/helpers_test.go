package jsonlines

// The log collectors share their test helpers (internal/testkit/logstest);
// these names keep the tests short.

import (
	"context"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/internal/testkit/logstest"
)

const testPartitions = logstest.Partitions

type (
	line        = logstest.Line
	acceptSink  = logstest.AcceptSink
	failingSink = logstest.FailingSink
)

var (
	partitions  = logstest.PartitionCount
	startBroker = logstest.StartBroker
	readLogs    = logstest.ReadLogs
	byBody      = logstest.ByBody
)

// countingSink accepts and counts the lines of the records it is given.
type countingSink struct{ lines int }

func (c *countingSink) Publish(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		lines, err := logstest.Decode(0, m.Value)
		if err != nil {
			return err
		}
		c.lines += len(lines)
	}
	return nil
}
