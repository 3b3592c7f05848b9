package records

import (
	"errors"
	"testing"
)

type logCollector struct {
	streams  []string
	entries  []LogEntryRef
	bodies   []string
	attrsLen []int
}

func (c *logCollector) Stream(id uint64, service []byte, labels [][]byte) error {
	c.streams = append(c.streams, string(service))
	return nil
}

func (c *logCollector) Entry(e *LogEntryRef) {
	c.entries = append(c.entries, LogEntryRef{ID: e.ID, TimeNs: e.TimeNs, SeverityNumber: e.SeverityNumber})
	c.bodies = append(c.bodies, string(e.Body))
	c.attrsLen = append(c.attrsLen, len(e.Attributes)/2)
}

func TestLogBatchRoundTripAndEntryIDs(t *testing.T) {
	labels := []Label{{"host", "web-1"}}
	sid := StreamID("checkout", labels)
	entries := []LogEntry{
		{TimeNs: 1, SeverityNumber: 17, SeverityText: "ERROR", Body: "payment failed", Attributes: []Label{{"order", "42"}}},
		{TimeNs: 1, SeverityNumber: 17, SeverityText: "ERROR", Body: "payment failed", Attributes: []Label{{"order", "42"}}},
		{TimeNs: 2, Body: "ok"},
	}
	var ids EntryIDs
	got := make([]uint64, len(entries))
	for i := range entries {
		got[i] = ids.Next(sid, &entries[i])
	}
	if got[0] == got[1] {
		t.Fatal("the same line twice in one request must keep both copies")
	}
	ids.Reset()
	for i := range entries {
		if again := ids.Next(sid, &entries[i]); again != got[i] {
			t.Fatal("a retried request must give the same entry ids")
		}
	}
	var b LogBatchBuilder
	b.Add(sid, "checkout", labels, entries, got)
	rec := b.AppendRecord(nil)
	var c logCollector
	var sc LogScratch
	if err := DecodeLogs(rec, &c, &sc); err != nil {
		t.Fatal(err)
	}
	if len(c.streams) != 1 || c.streams[0] != "checkout" || len(c.entries) != 3 {
		t.Fatalf("decoded %+v", c)
	}
	if c.entries[0].ID != got[0] || c.entries[0].SeverityNumber != 17 || c.bodies[0] != "payment failed" || c.attrsLen[0] != 1 {
		t.Fatalf("entry 0: %+v %q", c.entries[0], c.bodies[0])
	}
	for _, bad := range [][]byte{nil, rec[:len(rec)-1], append(append([]byte{}, rec...), 1), {recordMagic, kindLogs, 2, 0}} {
		if err := DecodeLogs(bad, &logCollector{}, &sc); !errors.Is(err, ErrMalformed) {
			t.Fatalf("malformed record accepted: %v", err)
		}
	}
}

func FuzzDecodeLogs(f *testing.F) {
	var b LogBatchBuilder
	e := []LogEntry{{TimeNs: 5, Body: "x", Attributes: []Label{{"a", "b"}}}}
	b.Add(1, "svc", []Label{{"k", "v"}}, e, []uint64{9})
	f.Add(b.AppendRecord(nil))
	f.Fuzz(func(t *testing.T, rec []byte) {
		var sc LogScratch
		_ = DecodeLogs(rec, &logCollector{}, &sc)
	})
}

func TestSupportRoundTrip(t *testing.T) {
	m := &SupportMessage{TimeMs: 1700000000000, Source: "generic", Channel: "chat", Text: "payment failed again",
		Service: "payment", Sentiment: -0.7, Label: "negative", Categories: []string{"payment"}}
	m.EnsureID()
	if m.ID == "" {
		t.Fatal("no content id")
	}
	rec, err := EncodeSupport(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSupport(rec)
	if err != nil || got.ID != m.ID || got.Sentiment != -0.7 || got.Categories[0] != "payment" {
		t.Fatalf("%v %+v", err, got)
	}
	for _, bad := range []string{`{}`, `{"v":2,"id":"x","time_ms":1}`, `{"v":1,"id":"x","time_ms":1,"evil":1}`, `not json`} {
		if _, err := DecodeSupport([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s accepted: %v", bad, err)
		}
	}
}
