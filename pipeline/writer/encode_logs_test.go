package writer

import (
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit/logstest"
)

// TestLogsEncoderRows: every line of every record becomes one row with the
// record's values (text copied out of the record), a record that breaks
// part way leaves no row behind, and rows survive the record's buffer
// being reused.
func TestLogsEncoderRows(t *testing.T) {
	recs := logsBenchRecords(20_000, 2000, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixNano())
	enc := newLogsEncoder()
	var want []logstest.Line
	for i, r := range recs {
		lines, err := logstest.Decode(0, r)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, lines...)
		buf := append([]byte(nil), r...)
		if err := enc.Add(buf); err != nil {
			t.Fatal(err)
		}
		clear(buf) // the encoder must not point into the record
		if i == 3 {
			before := enc.Rows()
			if err := enc.Add(r[:len(r)-7]); err == nil {
				t.Fatal("truncated record accepted")
			}
			if enc.Rows() != before {
				t.Fatalf("truncated record left %d rows", enc.Rows()-before)
			}
		}
	}
	if enc.Rows() != len(want) {
		t.Fatalf("%d rows, want %d", enc.Rows(), len(want))
	}
	for i, l := range want {
		if enc.body[i] != l.Body || enc.entryID[i] != l.EntryID || enc.timeNs[i] != l.TimeNs || enc.service[i] != l.Service ||
			enc.streamID[i] != l.StreamID || enc.severity[i] != l.SevText || enc.sevNum[i] != l.SevNum ||
			enc.traceID[i] != l.TraceID || enc.spanID[i] != l.SpanID || len(enc.attrs[i]) != len(l.Attrs) ||
			len(enc.labels[i]) != len(l.Labels) {
			t.Fatalf("row %d differs from line %+v", i, l)
		}
		for k, v := range l.Labels {
			if enc.labels[i][k] != v {
				t.Fatalf("row %d label %s = %q, want %q", i, k, enc.labels[i][k], v)
			}
		}
	}
	enc.Reset()
	if enc.Rows() != 0 || len(enc.Blocks()) != 0 {
		t.Fatal("Reset kept rows")
	}
}
