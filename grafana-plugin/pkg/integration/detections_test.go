package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The detector stage of `firebreak run` scores every seeded point: it
// publishes a band per point and, for the spike that ends the spiky series,
// an anomaly, which the alerter records as a firing alert.

var (
	detectOnce sync.Once
	detectErr  error
)

// detections waits until the detector's rows for the spiky series are
// stored: its bands, the spike's anomaly and its alert.
func detections(t *testing.T, e *env) {
	t.Helper()
	detectOnce.Do(func() {
		checks := []struct {
			what, sql string
			want      int
		}{
			{"bands of every point", fmt.Sprintf("SELECT count() FROM bands FINAL WHERE metric_name = '%s'", metricSpiky), spikyPoints},
			{"the spike's anomaly", fmt.Sprintf("SELECT count() FROM anomalies FINAL WHERE kind = 'anomaly' AND service = '%s' AND state = 'open'", spikyService), 1},
			{"the spike's alert", fmt.Sprintf("SELECT count() FROM alerts FINAL WHERE service = '%s' AND state = 'firing'", spikyService), 1},
		}
		deadline := time.Now().Add(90 * time.Second)
		for _, c := range checks {
			for {
				n, err := e.count(c.sql)
				if err != nil {
					detectErr = err
					return
				}
				if n >= c.want {
					break
				}
				if time.Now().After(deadline) {
					detectErr = fmt.Errorf("waiting for %s: %d rows, want ≥ %d after 90 s (%s)", c.what, n, c.want, c.sql)
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	})
	if detectErr != nil {
		t.Fatal(detectErr)
	}
}

func TestGRPCBands(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	detections(t, e)
	resp := queryAll(t, c, e,
		dq("band", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"max","step":"1m","withBand":true,"withScore":true}`),
		dq("plain", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"max","step":"1m"}`),
		dq("count", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"count","withBand":true,"withScore":true}`),
		dq("bandOnly", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"max","step":"1m","withBand":true}`),
		dq("scoreOnly", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"count","step":"1m","withScore":true}`),
	)
	frames := ok(t, resp, "band").Frames
	series := `fbtest_spiky_seconds{instance="p1", service="payments"}`
	// For a panel: one wide frame, the series' value then its band's four
	// fields, on the steps of both.
	if len(frames) != 1 || frames[0].Meta.Type != data.FrameTypeTimeSeriesWide || frames[0].Fields[0].Config.Interval != 60_000 {
		t.Fatalf("%d frames, want one wide frame with the step as the time field's interval: %v", len(frames), frames)
	}
	var names []string
	for _, f := range frames[0].Fields[1:] {
		names = append(names, f.Config.DisplayNameFromDS)
		if f.Labels["service"] != spikyService {
			t.Fatalf("field %s: labels %v", f.Name, f.Labels)
		}
	}
	if want := []string{series, series + " expected", series + " lower", series + " upper", series + " score"}; strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("fields %q, want %q", names, want)
	}
	byName := fieldsByDisplayName(frames)
	if plain := ok(t, resp, "plain").Frames; len(plain) != 1 || len(plain[0].Fields) != 2 {
		t.Fatalf("without the band: %v, want one frame of time and value", plain)
	}
	// withBand alone draws the band without the score; withScore alone
	// adds the score (a step's highest, whatever the values' aggregation).
	for refID, want := range map[string][]string{
		"bandOnly":  {series, series + " expected", series + " lower", series + " upper"},
		"scoreOnly": {series, series + " score"},
	} {
		var got []string
		for _, f := range ok(t, resp, refID).Frames[0].Fields[1:] {
			got = append(got, f.Config.DisplayNameFromDS)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: fields %q, want %q", refID, got, want)
		}
	}
	bandOnly := fieldsByDisplayName(ok(t, resp, "bandOnly").Frames)
	for _, name := range []string{series + " expected", series + " lower", series + " upper"} {
		if !reflect.DeepEqual(bandOnly[name], byName[name]) {
			t.Fatalf("%s without the score differs from %s with it", name, name)
		}
	}
	if scores := fieldsByDisplayName(ok(t, resp, "scoreOnly").Frames)[series+" score"]; !reflect.DeepEqual(scores[1], byName[series+" score"][1]) {
		t.Fatal("the score alone (count) differs from the score with the band (max)")
	}
	upper := byName[series+" upper"][1]
	if upper == nil || upper.Config.Custom["fillBelowTo"] != series+" lower" {
		t.Fatalf("upper %v", upper)
	}

	// For an alert rule: one frame per field, the same fields.
	q := dq("band", "metrics", `{"selector":"{__name__=\"fbtest_spiky_seconds\"}","aggregation":"max","step":"1m","withBand":true,"withScore":true}`)
	q.TimeRange, q.Interval, q.MaxDataPoints = backend.TimeRange{From: e.rangeFrom, To: e.rangeTo}, time.Minute, 1000
	alertResp, err := c.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pluginContext("firebreak", e.settingsJSON(), nil),
		Headers: map[string]string{backend.FromAlertHeaderName: "true"}, Queries: []backend.DataQuery{q}})
	if err != nil {
		t.Fatal(err)
	}
	alertFrames := ok(t, alertResp, "band").Frames
	names = names[:0]
	for _, f := range alertFrames {
		names = append(names, f.Name)
		if len(f.Fields) != 2 {
			t.Fatalf("alerting frame %s has %d fields, want time and one number", f.Name, len(f.Fields))
		}
	}
	if want := []string{series, series + " expected", series + " lower", series + " upper", series + " score"}; strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("alerting frames %q, want %q", names, want)
	}
	if !reflect.DeepEqual(fieldsByDisplayName(alertFrames), byName) {
		t.Fatal("the frames for alerting hold other fields than the panel's")
	}

	// The band's steps are the values' steps; in the spike's step the value
	// is above the band and the score is high, before it the values are
	// inside the band.
	values := byName[series]
	bandTimes := byName[series+" upper"][0]
	lower := byName[series+" lower"][1]
	score := byName[series+" score"][1]
	valueAt := map[time.Time]float64{}
	for i := 0; i < values[0].Len(); i++ {
		valueAt[values[0].At(i).(time.Time)] = *floatAt(values[1], i)
	}
	last := bandTimes.Len() - 1
	if last < 10 {
		t.Fatalf("only %d band steps", last+1)
	}
	spikeStep := e.seedEnd.Truncate(time.Minute)
	if got := bandTimes.At(last).(time.Time); !got.Equal(spikeStep) {
		t.Fatalf("last band step %s, want the spike's %s", got, spikeStep)
	}
	if v := valueAt[spikeStep]; v != spikyValue || *floatAt(upper, last) >= v || *floatAt(score, last) < 0.5 {
		t.Fatalf("spike step: value %v, upper %v, score %v", v, *floatAt(upper, last), *floatAt(score, last))
	}
	inside := 0
	for i := 0; i < last; i++ {
		v, found := valueAt[bandTimes.At(i).(time.Time)]
		if !found {
			t.Fatalf("band step %s has no value step", bandTimes.At(i))
		}
		if lo, up := *floatAt(lower, i), *floatAt(upper, i); lo <= v && v <= up {
			inside++
		}
	}
	if inside < last*3/4 {
		t.Fatalf("only %d of %d steps before the spike lie inside their band", inside, last)
	}
	failed(t, resp, "count", "a band has no count")
}

// fieldsByDisplayName are the frames' number fields by the name Grafana
// displays, each as its points: the steps where it has a value (a time
// field) and those values, whichever frames and layout they came in. A
// panel's wide frame and alerting's frame per field hold the same points.
func fieldsByDisplayName(frames data.Frames) map[string][2]*data.Field {
	out := map[string][2]*data.Field{}
	for _, f := range frames {
		for _, field := range f.Fields[1:] {
			var times []time.Time
			var values []*float64
			for i := range field.Len() {
				if v := floatAt(field, i); v != nil {
					times = append(times, f.Fields[0].At(i).(time.Time))
					values = append(values, v)
				}
			}
			points := data.NewField(field.Name, field.Labels, values)
			points.Config = field.Config
			out[field.Config.DisplayNameFromDS] = [2]*data.Field{data.NewField(f.Fields[0].Name, nil, times), points}
		}
	}
	return out
}

func TestGRPCAnomaliesQuery(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	detections(t, e)
	resp := queryAll(t, c, e,
		dq("table", "anomalies", `{"kinds":["anomaly"],"service":"payments","minScore":0.5}`),
		dq("annotations", "anomalies", `{"kinds":["anomaly","silence"],"service":"cart,payments","state":"open","format":"annotations"}`),
		dq("predictive", "anomalies", `{"kinds":["predictive"],"service":"payments"}`),
		dq("inject", "anomalies", `{"service":"x' OR 1=1 --"}`),
		dq("bad", "anomalies", `{"kinds":["incident"]}`),
	)
	table := ok(t, resp, "table").Frames[0]
	var cols []string
	for _, f := range table.Fields {
		cols = append(cols, f.Name)
	}
	if strings.Join(cols, ",") != "time,kind,state,service,metric,labels,value,expected,score,direction,rule,severity,predicted_breach_at" {
		t.Fatalf("columns %v", cols)
	}
	if n, _ := table.RowLen(); n < 1 {
		t.Fatalf("no anomaly for the spike")
	}
	row := func(name string) any { return fieldByName(t, table, name).At(0) }
	if !row("time").(time.Time).Equal(e.seedEnd) || row("kind") != "anomaly" || row("metric") != metricSpiky ||
		*row("value").(*float64) != spikyValue || *row("score").(*float64) < 0.5 || row("direction") != "up" {
		t.Fatalf("anomaly row: %v", table)
	}
	var labels map[string]string
	if err := json.Unmarshal([]byte(row("labels").(string)), &labels); err != nil || labels["instance"] != "p1" {
		t.Fatalf("labels %v: %v", row("labels"), err)
	}
	if row("predicted_breach_at").(*time.Time) != nil {
		t.Fatal("an anomaly has no predicted breach: want null")
	}

	// Both kinds were asked for: the seed's silences (its series stop)
	// join the spike once the detector has noticed them.
	anno := ok(t, resp, "annotations").Frames[0]
	spike := -1
	for i := range anno.Rows() {
		if fieldByName(t, anno, "title").At(i) == "anomaly in payments" {
			spike = i
		}
	}
	if anno.Meta.DataTopic != data.DataTopicAnnotations || spike < 0 ||
		!strings.HasPrefix(fieldByName(t, anno, "text").At(spike).(string), `fbtest_spiky_seconds{instance="p1", service="payments"}: value 3.2`) ||
		fieldByName(t, anno, "tags").At(spike) != "anomaly,open,payments" {
		t.Fatalf("annotations frame: %v", anno)
	}
	for _, ref := range []string{"predictive", "inject"} {
		if n, _ := ok(t, resp, ref).Frames[0].RowLen(); n != 0 {
			t.Fatalf("%s: %d rows, want none", ref, n)
		}
	}
	failed(t, resp, "bad", `kind "incident" is not one of`)
}

func TestGRPCAlertsQuery(t *testing.T) {
	e := firebreak(t)
	c := grpcPlugin(t)
	detections(t, e)
	resp := queryAll(t, c, e,
		dq("current", "alerts", `{"service":"payments"}`),
		dq("firing", "alerts", `{"mode":"current","service":"payments","state":"firing","kinds":["anomaly"]}`),
		dq("resolved", "alerts", `{"service":"payments","state":"resolved"}`),
		dq("history", "alerts", `{"mode":"history","service":"payments"}`),
	)
	// The seed's series stop where the seed ends, so about a minute later
	// each source's silence pages too: "current" holds the spike's alert
	// and, once the suite has run a while, the payments silence.
	for _, ref := range []string{"current", "firing"} {
		f := ok(t, resp, ref).Frames[0]
		n, _ := f.RowLen()
		anomaly := -1
		for i := range n {
			switch kind := fieldByName(t, f, "kind").At(i); {
			case kind == "anomaly" && anomaly < 0:
				anomaly = i
			case kind == "silence" && ref == "current":
			default:
				t.Fatalf("%s: alert %d of kind %v: want the spike's anomaly alert (and, in current, the seed's silence): %v", ref, i, kind, f)
			}
		}
		if anomaly < 0 {
			t.Fatalf("%s: no anomaly alert: %v", ref, f)
		}
		if fieldByName(t, f, "state").At(anomaly) != "firing" || fieldByName(t, f, "alertname").At(anomaly) == "" ||
			fieldByName(t, f, "summary").At(anomaly) == "" || fieldByName(t, f, "ends_at").At(anomaly).(*time.Time) != nil ||
			fieldByName(t, f, "generator_url").At(anomaly) == "" {
			t.Fatalf("%s: %v", ref, f)
		}
	}
	if n, _ := ok(t, resp, "resolved").Frames[0].RowLen(); n != 0 {
		t.Fatalf("resolved: %d alerts, want none", n)
	}
	h := ok(t, resp, "history").Frames[0]
	if n, _ := h.RowLen(); n < 1 || fieldByName(t, h, "time").Type() != data.FieldTypeTime {
		t.Fatalf("history: %v", h)
	}
}
