package converters

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func fields(f *data.Frame) (names []string, types []data.FieldType) {
	for _, x := range f.Fields {
		names, types = append(names, x.Name), append(types, x.Type())
	}
	return names, types
}

func field(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	x, i := f.FieldByName(name)
	if i < 0 {
		t.Fatalf("frame %q has no field %q", f.Name, name)
	}
	return x
}

func incident() *firebreak.Incident {
	resolved, mttr := at(40), 2400.0
	return &firebreak.Incident{ID: "inc-20261203-1000-0000abcd", Title: "Payment failing", State: "resolved", Severity: "P2",
		Services: []string{"checkout", "payment"}, OpenedAt: at(0), ResolvedAt: &resolved, UpdatedAt: at(40), MTTRSeconds: &mttr,
		RootCauses: []firebreak.RootCause{{Service: "payment", Score: 1.8, Explanation: "first to show trouble"}, {Service: "checkout", Score: 0.4}}}
}

// A timeline as the API returns it: sorted by time, then kind.
func timeline() []firebreak.TimelineEntry {
	return []firebreak.TimelineEntry{
		{Time: at(0), Kind: "anomaly", Service: "payment", Title: "payment latency up"},
		{Time: at(0), Kind: "opened", Service: "payment", Title: "Incident opened"},
		{Time: at(2), Kind: "alert", Service: "payment", Title: "Alert firing: PaymentLatency", Ref: "alerts:fp1"},
		{Time: at(3), Kind: "silence", Service: "checkout", Title: "Data stopped: checkout_requests"},
		{Time: at(5), Kind: "change", Service: "checkout", Title: "deploy v2"},
		{Time: at(8), Kind: "silence", Service: "checkout", Title: "Data resumed: checkout_requests"},
		{Time: at(9), Kind: "alert", Service: "payment", Title: "Alert resolved: PaymentLatency", Ref: "alerts:fp1"},
		{Time: at(20), Kind: "mitigated", Title: "Mitigated"},
		{Time: at(40), Kind: "resolved", Title: "Resolved"},
	}
}

func TestIncidentsTable(t *testing.T) {
	in := incident()
	f := IncidentsTable("A", []firebreak.Incident{*in}, func(id string) string { return "http://fb/r/" + id }, "http://fb:8480/")
	names, types := fields(f)
	if strings.Join(names, ",") != strings.Join(IncidentColumns, ",") {
		t.Fatalf("fields %v", names)
	}
	want := map[string]data.FieldType{"opened_at": data.FieldTypeTime, "mitigated_at": data.FieldTypeNullableTime,
		"mtta": data.FieldTypeNullableFloat64, "signals": data.FieldTypeInt64, "services": data.FieldTypeString}
	for i, n := range names {
		if w, ok := want[n]; ok && types[i] != w {
			t.Errorf("%s: %s, want %s", n, types[i], w)
		}
	}
	if field(t, f, "services").At(0) != "checkout, payment" || field(t, f, "root_cause").At(0) != "payment" ||
		field(t, f, "mitigated_at").At(0).(*time.Time) != nil || *field(t, f, "mttr").At(0).(*float64) != 2400 ||
		field(t, f, "mtta").At(0).(*float64) != nil || field(t, f, "report").At(0) != "http://fb/r/"+in.ID {
		t.Fatalf("row: %v", f)
	}
	if l := field(t, f, "id").Config.Links; len(l) != 1 || l[0].URL != "http://fb:8480/api/v1/incidents/${__data.fields.id}/report?format=html" || !l[0].TargetBlank {
		t.Fatalf("id link %+v", l)
	}
	if c := field(t, f, "mttr").Config; c.Unit != "s" || c.DisplayName != "MTTR" {
		t.Fatalf("mttr config %+v", c)
	}
	if f.Meta.PreferredVisualization != data.VisTypeTable {
		t.Fatalf("meta %+v", f.Meta)
	}
}

func TestIncidentAnnotations(t *testing.T) {
	open := incident()
	open.ID, open.State, open.ResolvedAt = "inc-2", "open", nil
	now := at(90)
	f := IncidentAnnotations("A", []firebreak.Incident{*incident(), *open}, now)
	names, types := fields(f)
	if strings.Join(names[:5], ",") != "time,timeEnd,title,text,tags" || types[1] != data.FieldTypeTime {
		t.Fatalf("fields %v %v", names, types)
	}
	if f.Meta.DataTopic != data.DataTopicAnnotations {
		t.Fatalf("data topic %q", f.Meta.DataTopic)
	}
	if !field(t, f, "timeEnd").At(0).(time.Time).Equal(at(40)) || !field(t, f, "timeEnd").At(1).(time.Time).Equal(now) {
		t.Fatalf("ends: resolved at 40 min, open until now: %v", f)
	}
	if field(t, f, "title").At(0) != "P2 Payment failing" || field(t, f, "tags").At(0) != "P2,resolved,checkout,payment" ||
		!strings.Contains(field(t, f, "text").At(0).(string), "likely root cause payment (first to show trouble)") {
		t.Fatalf("row 0: %v", f)
	}
}

func TestTimelineOrder(t *testing.T) {
	f := Timeline("A", timeline())
	names, _ := fields(f)
	if strings.Join(names, ",") != "time,kind,service,title,detail,source" {
		t.Fatalf("fields %v", names)
	}
	// The opening first at its time, though the store sorted anomaly first.
	if field(t, f, "kind").At(0) != "opened" || field(t, f, "kind").At(1) != "anomaly" || field(t, f, "source").At(2) != "alerts:fp1" {
		t.Fatalf("timeline %v", f)
	}
}

func TestStates(t *testing.T) {
	f := States("A", timeline(), at(40))
	names, types := fields(f)
	if strings.Join(names, ",") != "time,checkout,payment" || types[1] != data.FieldTypeString {
		t.Fatalf("fields %v", names)
	}
	if f.Meta.Type != data.FrameTypeTimeSeriesWide {
		t.Fatalf("meta %+v", f.Meta)
	}
	var times []int
	for i := 0; i < f.Fields[0].Len(); i++ {
		times = append(times, int(f.Fields[0].At(i).(time.Time).Sub(t0)/time.Minute))
	}
	// The change at 5 min is no state change; the end row repeats the last
	// row's time (40 min: resolved), so it is not added.
	if !reflect.DeepEqual(times, []int{0, 2, 3, 8, 9, 20, 40}) {
		t.Fatalf("times %v", times)
	}
	col := func(name string) []string {
		var out []string
		x := field(t, f, name)
		for i := 0; i < x.Len(); i++ {
			out = append(out, x.At(i).(string))
		}
		return out
	}
	if got := col("payment"); !reflect.DeepEqual(got, []string{"anomalous", "alerting", "alerting", "alerting", "anomalous", "ok", "resolved"}) {
		t.Fatalf("payment %v", got)
	}
	if got := col("checkout"); !reflect.DeepEqual(got, []string{"ok", "ok", "silent", "ok", "ok", "ok", "resolved"}) {
		t.Fatalf("checkout %v", got)
	}
	// An open incident: a last row at the end time carries the state on.
	open := States("A", timeline()[:4], at(30))
	if n := open.Fields[0].Len(); !open.Fields[0].At(n-1).(time.Time).Equal(at(30)) || field(t, open, "checkout").At(n-1) != "silent" {
		t.Fatalf("open incident's last row %v", open)
	}
}

func TestRootCausesAndSummary(t *testing.T) {
	in := incident()
	f := RootCauses("A", in, timeline())
	names, types := fields(f)
	if strings.Join(names, ",") != "rank,service,score,onset,explanation" || types[0] != data.FieldTypeInt64 || types[3] != data.FieldTypeNullableTime {
		t.Fatalf("fields %v %v", names, types)
	}
	if field(t, f, "rank").At(1) != int64(2) || !field(t, f, "onset").At(0).(*time.Time).Equal(at(0)) ||
		!field(t, f, "onset").At(1).(*time.Time).Equal(at(3)) {
		t.Fatalf("root causes %v", f)
	}
	s := Summary("A", in, timeline(), "http://fb/report")
	if n, _ := s.RowLen(); n != 1 {
		t.Fatalf("summary rows %d", n)
	}
	// MTTD: opened at 0, first alert fired at 2 min.
	if *field(t, s, "mttd").At(0).(*float64) != 120 || field(t, s, "mttd").Config.Unit != "s" || field(t, s, "report").At(0) != "http://fb/report" ||
		field(t, s, "title").Config.Links[0].URL != "http://fb/report" {
		t.Fatalf("summary %v", s)
	}
}

func TestPatternFrames(t *testing.T) {
	ts := []firebreak.PatternTemplate{
		{Service: "checkout", TemplateID: "00ab00000000cd01", Template: "upstream timeout after <*> ms", Count: 150, FirstSeen: at(0), Severity: "error",
			Points: [][2]int64{{at(0).UnixMilli(), 50}, {at(10).UnixMilli(), 100}}},
		{Service: "payment", TemplateID: "0000000000000042", Template: strings.Repeat("long ", 40), Severity: "warn"},
	}
	tbl := PatternsTable("A", ts)
	names, types := fields(tbl)
	if strings.Join(names, ",") != strings.Join(PatternColumns, ",") || types[3] != data.FieldTypeInt64 || types[4] != data.FieldTypeTime {
		t.Fatalf("fields %v %v", names, types)
	}
	rates := PatternRates(ts)
	if len(rates) != 2 || rates[0].Meta.Type != data.FrameTypeTimeSeriesMulti || rates[0].Name != "checkout: upstream timeout after <*> ms" {
		t.Fatalf("rates %v", rates)
	}
	c := rates[0].Fields[1]
	if c.Name != "count" || c.Labels["template_id"] != "00ab00000000cd01" || c.At(1).(float64) != 100 || c.Config.DisplayNameFromDS != rates[0].Name {
		t.Fatalf("count field %v", c)
	}
	if n := len([]rune(rates[1].Name)); n != len("payment: ")+maxDisplay {
		t.Fatalf("long template not clipped: %d runes", n)
	}
}

func TestLogsFrame(t *testing.T) {
	f, err := Logs("A", []firebreak.LogLine{
		{Time: at(1), Service: "checkout", Severity: "ERROR", SeverityNumber: 17, Body: "timeout", Labels: map[string]string{"pod": "c-1"}, ID: "7", TraceID: "ab"},
		{Time: at(0), Service: "checkout", Severity: "NOTICE", Body: "custom"},
	})
	if err != nil {
		t.Fatal(err)
	}
	names, types := fields(f)
	if strings.Join(names, ",") != "timestamp,body,severity,id,labels" || types[0] != data.FieldTypeTime || types[4] != data.FieldTypeJSON {
		t.Fatalf("fields %v %v", names, types)
	}
	if f.Meta.Type != data.FrameTypeLogLines || f.Meta.PreferredVisualization != data.VisTypeLogs {
		t.Fatalf("meta %+v", f.Meta)
	}
	var labels map[string]string
	if err := json.Unmarshal(field(t, f, "labels").At(0).(json.RawMessage), &labels); err != nil ||
		labels["service"] != "checkout" || labels["pod"] != "c-1" || labels["trace_id"] != "ab" {
		t.Fatalf("labels %v %v", labels, err)
	}
	if field(t, f, "severity").At(0) != "error" || field(t, f, "severity").At(1) != "notice" || field(t, f, "id").At(0) != "checkout/7" {
		t.Fatalf("levels and ids %v", f)
	}
}

func TestSentimentFrames(t *testing.T) {
	frames := SentimentSeries("channel", []firebreak.SentimentSeries{
		{Group: "chat", Points: [][3]int64{{at(0).UnixMilli(), 4, 1}, {at(1).UnixMilli(), 0, 0}}},
	})
	if len(frames) != 2 || frames[0].Name != "chat messages" || frames[1].Name != "chat negative share" {
		t.Fatalf("frames %v", frames)
	}
	share := frames[1].Fields[1]
	if share.Name != "negative_share" || share.Config.Unit != "percentunit" || *share.Config.Max != 1 || share.Labels["channel"] != "chat" ||
		*share.At(0).(*float64) != 0.25 || share.At(1).(*float64) != nil {
		t.Fatalf("negative share %v %+v", share, share.Config)
	}
	if frames[0].Meta.Type != data.FrameTypeTimeSeriesMulti || frames[0].Fields[1].At(0).(float64) != 4 {
		t.Fatalf("messages %v", frames[0])
	}
	s := SentimentSamples("A", []firebreak.SupportSample{{Time: at(0), Channel: "email", Service: "payment", Language: "zh",
		Sentiment: -0.9, Label: "negative", Categories: []string{"payment", "refund"}, Text: "付款失败 [CARD]"}})
	names, _ := fields(s)
	if strings.Join(names, ",") != strings.Join(SampleColumns, ",") || field(t, s, "categories").At(0) != "payment, refund" {
		t.Fatalf("samples %v", s)
	}
}

func TestAlertAnnotations(t *testing.T) {
	table := data.NewFrame("A",
		data.NewField("alertname", nil, []string{"PaymentLatency", "DiskFull"}),
		data.NewField("kind", nil, []string{"anomaly", "predictive"}),
		data.NewField("severity", nil, []string{"warning", "critical"}),
		data.NewField("service", nil, []string{"payment", "inventory"}),
		data.NewField("state", nil, []string{"resolved", "firing"}),
		data.NewField("starts_at", nil, []time.Time{at(0), at(5)}),
		data.NewField("ends_at", nil, []*time.Time{ptr(at(9)), nil}),
		data.NewField("summary", nil, []string{"latency up", "disk fills in 3h"}),
		data.NewField("fingerprint", nil, []string{"fp1", "fp2"}),
	)
	f, err := AlertAnnotations(table, at(60))
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fields(f)
	if strings.Join(names[:5], ",") != "time,timeEnd,title,text,tags" || f.Meta.DataTopic != data.DataTopicAnnotations {
		t.Fatalf("fields %v meta %+v", names, f.Meta)
	}
	if !field(t, f, "timeEnd").At(0).(time.Time).Equal(at(9)) || !field(t, f, "timeEnd").At(1).(time.Time).Equal(at(60)) ||
		field(t, f, "tags").At(1) != "critical,inventory,predictive" || field(t, f, "text").At(1) != "disk fills in 3h" {
		t.Fatalf("annotations %v", f)
	}
	if _, err := AlertAnnotations(data.NewFrame("A", data.NewField("alertname", nil, []string{})), at(0)); err == nil {
		t.Fatal("a table without the alert columns must fail")
	}
}
