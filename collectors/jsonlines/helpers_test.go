package jsonlines

// The log collectors share their test helpers (internal/testkit/logstest);
// these names keep the tests short.

import "github.com/firebreak-aiops/firebreak/internal/testkit/logstest"

const testPartitions = logstest.Partitions

type (
	line         = logstest.Line
	acceptSink   = logstest.AcceptSink
	countingSink = logstest.CountingSink
	failingSink  = logstest.FailingSink
)

var (
	partitions  = logstest.PartitionCount
	startBroker = logstest.StartBroker
	readLogs    = logstest.ReadLogs
	byBody      = logstest.ByBody
)
