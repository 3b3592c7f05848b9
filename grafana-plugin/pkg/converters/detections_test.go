package converters

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

func TestSteps(t *testing.T) {
	res := &firebreak.Result{
		Columns: []firebreak.Column{{Name: "t", Type: "Int64"}, {Name: "expected", Type: "Float64"}, {Name: "score", Type: "Float64"}},
		Rows: [][]any{
			{json.Number("60000"), json.Number("1.5"), json.Number("0.25")},
			{json.Number("120000"), nil, json.Number("1")},
		},
	}
	times, cols, err := Steps(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || !times[1].Equal(time.Unix(120, 0)) {
		t.Fatalf("times %v", times)
	}
	if *cols["expected"][0] != 1.5 || cols["expected"][1] != nil || *cols["score"][1] != 1 {
		t.Fatalf("columns %v", cols)
	}

	// A DateTime first column works too.
	times, _, err = Steps(&firebreak.Result{Columns: []firebreak.Column{{Name: "t", Type: "DateTime64(3, 'UTC')"}, {Name: "v", Type: "Float64"}},
		Rows: [][]any{{"2026-11-22T06:00:00Z", json.Number("1")}}})
	if err != nil || !times[0].Equal(time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("DateTime steps: %v %v", times, err)
	}

	for _, bad := range []*firebreak.Result{
		{},
		{Columns: []firebreak.Column{{Name: "t", Type: "String"}, {Name: "v", Type: "Float64"}}, Rows: [][]any{{"x", json.Number("1")}}},
		{Columns: res.Columns, Rows: [][]any{{json.Number("1")}}},
		{Columns: res.Columns, Rows: [][]any{{json.Number("1"), "many", json.Number("1")}}},
	} {
		if _, _, err := Steps(bad); err == nil {
			t.Errorf("Steps(%+v) accepted", bad)
		}
	}
}

// anomaliesTable is an anomalies answer as the API returns it.
func anomaliesTable(t *testing.T) *data.Frame {
	t.Helper()
	cols := []firebreak.Column{
		{Name: "time", Type: "DateTime64(3, 'UTC')"}, {Name: "kind", Type: "LowCardinality(String)"}, {Name: "state", Type: "LowCardinality(String)"},
		{Name: "service", Type: "LowCardinality(String)"}, {Name: "metric", Type: "LowCardinality(String)"}, {Name: "labels", Type: "Map(LowCardinality(String), String)"},
		{Name: "value", Type: "Float64"}, {Name: "expected", Type: "Float64"}, {Name: "score", Type: "Float64"}, {Name: "direction", Type: "LowCardinality(String)"},
		{Name: "rule", Type: "LowCardinality(String)"}, {Name: "severity", Type: "LowCardinality(String)"}, {Name: "predicted_breach_at", Type: "DateTime64(3, 'UTC')"},
	}
	rows := [][]any{
		{"2026-11-22T06:05:00Z", "anomaly", "open", "checkout", "latency_seconds", map[string]any{"service": "checkout", "instance": "a"},
			json.Number("3.2"), json.Number("0.1"), json.Number("0.97"), "up", "", "", "1970-01-01T00:00:00Z"},
		{"2026-11-22T06:00:00Z", "predictive", "open", "inventory", "disk_used_ratio", map[string]any{},
			json.Number("0.62"), json.Number("0.62"), json.Number("0.8"), "", "DiskWillFill", "critical", "2026-11-22T06:47:00Z"},
		{"2026-11-22T05:00:00Z", "silence", "resolved", "", "heartbeat", map[string]any{"job": "x"},
			nil, nil, json.Number("1"), "", "", "", "1970-01-01T00:00:00Z"},
	}
	frame, err := Frame("A", &firebreak.Result{Columns: cols, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

func TestNullEpoch(t *testing.T) {
	frame := anomaliesTable(t)
	NullEpoch(frame, "predicted_breach_at", "absent")
	f, _ := frame.FieldByName("predicted_breach_at")
	if f.Type() != data.FieldTypeNullableTime {
		t.Fatalf("type %s", f.Type())
	}
	if f.At(0).(*time.Time) != nil || f.At(2).(*time.Time) != nil {
		t.Fatalf("epoch kept: %v %v", f.At(0), f.At(2))
	}
	if got := f.At(1).(*time.Time); got == nil || !got.Equal(time.Date(2026, 11, 22, 6, 47, 0, 0, time.UTC)) {
		t.Fatalf("breach time %v", got)
	}
	if tf, _ := frame.FieldByName("time"); tf.Type() != data.FieldTypeTime {
		t.Fatalf("time field changed to %s", tf.Type())
	}
	labels, _ := frame.FieldByName("labels")
	if labels.At(0) != `{"instance":"a","service":"checkout"}` {
		t.Fatalf("labels as JSON: %v", labels.At(0))
	}
}

func TestAnomalyAnnotations(t *testing.T) {
	table := anomaliesTable(t)
	NullEpoch(table, "predicted_breach_at")
	frame, err := AnomalyAnnotations(table)
	if err != nil {
		t.Fatal(err)
	}
	if frame.Meta.DataTopic != data.DataTopicAnnotations {
		t.Fatalf("data topic %q", frame.Meta.DataTopic)
	}
	var names []string
	for _, f := range frame.Fields {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "time,title,text,tags,kind,state,service,score" {
		t.Fatalf("fields %v", names)
	}
	want := []struct{ title, text, tags string }{
		{"anomaly in checkout", `latency_seconds{instance="a", service="checkout"}: value 3.2, expected 0.1 (up), score 0.97`, "anomaly,open,checkout"},
		{"predictive in inventory", "disk_used_ratio: rule DiskWillFill (critical) predicts a breach at 2026-11-22T06:47:00Z, score 0.8", "predictive,open,inventory,critical"},
		{"silence (resolved)", `heartbeat{job="x"}: no points when due, score 1`, "silence,resolved"},
	}
	for r, w := range want {
		if got := frame.Fields[1].At(r); got != w.title {
			t.Errorf("row %d title %q, want %q", r, got, w.title)
		}
		if got := frame.Fields[2].At(r); got != w.text {
			t.Errorf("row %d text %q, want %q", r, got, w.text)
		}
		if got := frame.Fields[3].At(r); got != w.tags {
			t.Errorf("row %d tags %q, want %q", r, got, w.tags)
		}
	}

	// A table without the anomalies columns is refused.
	if _, err := AnomalyAnnotations(data.NewFrame("A", data.NewField("time", nil, []time.Time{}))); err == nil || !strings.Contains(err.Error(), "no kind column") {
		t.Fatalf("bad table: %v", err)
	}
}
