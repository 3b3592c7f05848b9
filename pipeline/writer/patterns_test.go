package writer

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Minute counts, template changes and per-line template ids are stored,
// and a line joins its template.
func TestPatternTablesStored(t *testing.T) {
	var specs []bus.TopicSpec
	for _, tp := range records.PatternTopics {
		specs = append(specs, bus.TopicSpec{Name: tp, Partitions: 1})
	}
	e := newEnv(t, specs...)
	minute, err1 := records.EncodePattern(&records.Pattern{Kind: "minute", Service: "payment", TemplateID: 42, Template: "payment gateway timeout after <*>ms",
		TimeMs: t0, Count: 12, Errors: 12, FirstSeenMs: t0, Sample: "payment gateway timeout after 3100ms", SampleEntryID: 7})
	changed, err2 := records.EncodePattern(&records.Pattern{Kind: "changed", Service: "payment", TemplateID: 43, Template: "payment gateway <*> after <*>ms",
		TimeMs: t0 + 60_000, FirstSeenMs: t0, PrevIDs: []uint64{42}})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var b records.LogTemplateBatchBuilder
	b.Add("payment", 7, t0*1_000_000+123, 42)
	b.Add("payment", 8, t0*1_000_000+456, 42)
	e.publish(t, kafka.Message{Topic: records.TopicPatterns, Value: minute}, kafka.Message{Topic: records.TopicPatterns, Value: changed},
		kafka.Message{Topic: records.TopicLogTemplates, Value: b.AppendRecord(nil)},
		kafka.Message{Topic: records.TopicPatterns, Value: minute}) // a replay
	_, stop := e.runWriter(t, Config{})
	e.waitScalar(t, `SELECT count() FROM log_templates WHERE template_id = 42 AND toUnixTimestamp64Nano(time) % 1000000 IN (123, 456)`, "2", 20*time.Second)
	e.waitScalar(t, `SELECT concat(toString(sum(count)), ' ', toString(sum(errors))) FROM patterns FINAL WHERE kind = 'minute'`, "12 12", 10*time.Second)
	e.waitScalar(t, `SELECT arrayStringConcat(prev_ids, ',') FROM patterns FINAL WHERE kind = 'changed'`, "42", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
