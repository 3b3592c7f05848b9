package writer

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Events, incident snapshots and timelines are stored; the newest snapshot
// of an incident wins and a replayed timeline collapses.
func TestIncidentTablesStored(t *testing.T) {
	var specs []bus.TopicSpec
	for _, tp := range records.IncidentTopics {
		specs = append(specs, bus.TopicSpec{Name: tp, Partitions: 1})
	}
	e := newEnv(t, specs...)
	msg := func(topic string, v []byte, err error) kafka.Message {
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Message{Topic: topic, Value: v}
	}
	ev := &records.Event{ID: "e1", Kind: records.EventChange, Type: "deploy", TimeMs: t0, Service: "payment", Title: "payment v42", Author: "ci"}
	evb, err := records.EncodeEvent(ev)
	in1 := &records.IncidentRecord{ID: "inc-1", Title: "Trouble in payment", State: "open", Severity: "P3", Services: []string{"payment"},
		OpenedMs: t0 + 1000, UpdatedMs: t0 + 1000, Signals: 1, RootCauses: []records.RootCause{{Service: "payment", Score: 1.5, Explanation: "first"}}}
	in1b, err1 := records.EncodeIncident(in1)
	in2 := *in1
	in2.State, in2.Severity, in2.Services, in2.UpdatedMs, in2.AckedMs = "mitigated", "P2", []string{"checkout", "payment"}, t0+9000, t0+5000
	in2b, err2 := records.EncodeIncident(&in2)
	tl := &records.TimelineEvent{IncidentID: "inc-1", TimeMs: t0 + 1000, Kind: "anomaly", Service: "payment", Title: "payment latency rose", Ref: "anomalies:1@1"}
	tlb, err3 := records.EncodeTimelineEvent(tl)
	e.publish(t, msg(records.TopicEvents, evb, err), msg(records.TopicIncidents, in1b, err1), msg(records.TopicIncidents, in2b, err2),
		msg(records.TopicIncidentEvents, tlb, err3), msg(records.TopicIncidentEvents, tlb, err3))
	_, stop := e.runWriter(t, Config{})
	e.waitScalar(t, `SELECT count() FROM incident_events FINAL`, "1", 20*time.Second)
	e.waitScalar(t, `SELECT count() FROM events WHERE kind = 'change' AND author = 'ci'`, "1", 10*time.Second)
	e.waitScalar(t, `SELECT concat(state, ' ', severity, ' ', arrayStringConcat(services, ','), ' ', toString(toUnixTimestamp64Milli(acked_at) - toUnixTimestamp64Milli(opened_at))) FROM incidents FINAL`,
		"mitigated P2 checkout,payment 4000", 10*time.Second)
	e.waitScalar(t, `SELECT JSONExtractString(root_causes, 1, 'service') FROM incidents FINAL`, "payment", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
