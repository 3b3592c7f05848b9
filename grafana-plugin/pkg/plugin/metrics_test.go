package plugin

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

func TestMetricsStep(t *testing.T) {
	day := backend.TimeRange{From: time.Unix(0, 0), To: time.Unix(86400, 0)}
	tests := []struct {
		name    string
		dq      backend.DataQuery
		step    time.Duration
		want    time.Duration
		wantErr string
	}{
		{name: "explicit step", dq: backend.DataQuery{TimeRange: day, Interval: time.Minute}, step: 5 * time.Minute, want: 5 * time.Minute},
		{name: "panel interval", dq: backend.DataQuery{TimeRange: day, Interval: 2 * time.Minute}, want: 2 * time.Minute},
		{name: "interval below the point limit is raised", dq: backend.DataQuery{TimeRange: day, Interval: time.Second}, want: 7855 * time.Millisecond},
		{name: "no interval: range over max data points", dq: backend.DataQuery{TimeRange: day, MaxDataPoints: 1440}, want: time.Minute},
		{name: "explicit step over the point limit", dq: backend.DataQuery{TimeRange: day}, step: time.Second, wantErr: "use a step of at least 7855ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metricsStep(tt.dq, query.Query{StepDuration: tt.step})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("metricsStep() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestSeriesFrame(t *testing.T) {
	s := firebreak.Series{SeriesID: "42", MetricName: "http_requests_total", Labels: map[string]string{"service": "checkout", "code": `5"xx`}}
	one := 1.0
	want := `http_requests_total{code="5\"xx", service="checkout"}`
	f := seriesFrame(displayName(s), []time.Time{time.Unix(60, 0)}, time.Minute, newSeriesFields(s).field(FieldValue, []*float64{&one}))
	if f.Name != want || f.Fields[1].Config.DisplayNameFromDS != want {
		t.Fatalf("name %q, display %q; want %q", f.Name, f.Fields[1].Config.DisplayNameFromDS, want)
	}
	if f.Fields[0].Name != "time" || f.Fields[1].Name != "value" || f.Fields[1].Labels["__name__"] != "http_requests_total" || f.Fields[1].Labels["code"] != `5"xx` {
		t.Fatalf("fields %v", f.Fields)
	}
	if len(f.Fields) != 2 || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Fatalf("a series frame is one time and one value field: %v", f.Fields)
	}

	// A band column: named after the series, styled to draw the band.
	u := newSeriesFields(s).field(FieldUpper, []*float64{&one})
	if u.Name != "upper" || u.Config.DisplayNameFromDS != want+" upper" ||
		u.Config.Custom["fillBelowTo"] != want+" lower" || u.Labels["service"] != "checkout" {
		t.Fatalf("upper field: %+v", u.Config)
	}
	sc := newSeriesFields(s).field(FieldScore, []*float64{&one})
	if sc.Config.Unit != "percentunit" || *sc.Config.Max != 1 {
		t.Fatalf("score config %+v", sc.Config)
	}
	if got := displayName(firebreak.Series{MetricName: "up"}); got != "up" {
		t.Fatalf("displayName without labels = %q", got)
	}
}

// TestWideFrame: a panel's frame holds every step of any series or band
// once, each series' fields null where it has no step, and the same
// fields, steps and values as the frame-per-field layout Grafana's
// alerting gets.
func TestWideFrame(t *testing.T) {
	at := func(minutes ...int) []time.Time {
		out := make([]time.Time, len(minutes))
		for i, m := range minutes {
			out[i] = time.Unix(int64(m)*60, 0).UTC()
		}
		return out
	}
	nums := func(vs ...float64) []*float64 {
		out := make([]*float64, len(vs))
		for i := range vs {
			if !math.IsNaN(vs[i]) {
				out[i] = &vs[i]
			}
		}
		return out
	}
	band := func(times []time.Time, vs ...float64) *converters.SeriesSteps {
		s := &converters.SeriesSteps{Times: times, Values: map[string][]*float64{}}
		for _, name := range query.BandColumns {
			s.Values[name] = nums(vs...)
		}
		return s
	}
	series := []firebreak.Series{
		{SeriesID: "1", MetricName: "m", Labels: map[string]string{"i": "a"}},
		{SeriesID: "2", MetricName: "m", Labels: map[string]string{"i": "b"}},
		{SeriesID: "3", MetricName: "m", Labels: map[string]string{"i": "c"}},
	}
	values := []*converters.SeriesSteps{
		{Times: at(0, 1, 2, 3), Values: map[string][]*float64{FieldValue: nums(1, 2, math.NaN(), 4)}},
		{Times: at(0, 2, 4), Values: map[string][]*float64{FieldValue: nums(10, 20, 40)}}, // misses steps 1 and 3, has 4
		{Times: at(0, 1, 2, 3), Values: map[string][]*float64{FieldValue: nums(5, 6, 7, 8)}},
	}
	bands := []*converters.SeriesSteps{
		band(at(2, 3), 0.5, 0.6), // learned after two steps
		band(at(0, 2, 4), 1, 2, 3),
		{}, // not scored yet
	}
	frames, unbanded, err := seriesFrames(series, values, bands, query.BandColumns, time.Minute, layoutWide, func(i int) string { return "series " + series[i].SeriesID.String() })
	if err != nil || len(frames) != 1 || unbanded != 1 {
		t.Fatalf("%d frames, %d unbanded, %v; want one frame, one series without a band", len(frames), unbanded, err)
	}
	wide := frames[0]
	if wide.Meta.Type != data.FrameTypeTimeSeriesWide || wide.Meta.ExecutedQueryString != "series 1\nseries 2\nseries 3" {
		t.Fatalf("meta %+v", wide.Meta)
	}
	if got := wide.Fields[0].Config.Interval; got != 60_000 {
		t.Fatalf("time field interval %v ms, want the step", got)
	}
	times := wide.Fields[0]
	if times.Len() != 5 || times.At(0).(time.Time).Unix() != 0 || times.At(4).(time.Time).Unix() != 240 {
		t.Fatalf("times %v, want minutes 0 to 4 once each", times)
	}
	// time, a value and a band of four; b value and a band; c value.
	if len(wide.Fields) != 1+5+5+1 {
		t.Fatalf("%d fields", len(wide.Fields))
	}
	render := func(f *data.Field) string {
		var parts []string
		for i := range f.Len() {
			if v := floatAt(f, i); v != nil {
				parts = append(parts, strconv.FormatFloat(*v, 'g', -1, 64))
			} else {
				parts = append(parts, "null")
			}
		}
		return f.Config.DisplayNameFromDS + ": " + strings.Join(parts, " ")
	}
	var got []string
	for _, f := range wide.Fields[1:] {
		got = append(got, render(f))
	}
	want := []string{
		`m{i="a"}: 1 2 null 4 null`, `m{i="a"} expected: null null 0.5 0.6 null`, `m{i="a"} lower: null null 0.5 0.6 null`,
		`m{i="a"} upper: null null 0.5 0.6 null`, `m{i="a"} score: null null 0.5 0.6 null`,
		`m{i="b"}: 10 null 20 null 40`, `m{i="b"} expected: 1 null 2 null 3`, `m{i="b"} lower: 1 null 2 null 3`,
		`m{i="b"} upper: 1 null 2 null 3`, `m{i="b"} score: 1 null 2 null 3`,
		`m{i="c"}: 5 6 7 8 null`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("wide fields\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Alerting's layout: the same fields, a frame each, on the series' own steps.
	perField, _, err := seriesFrames(series, values, bands, query.BandColumns, time.Minute, layoutFramePerField, func(i int) string { return "" })
	if err != nil || len(perField) != 3+4+4 {
		t.Fatalf("%d frames, %v", len(perField), err)
	}
	for k, f := range perField {
		if len(f.Fields) != 2 || f.Meta.Type != data.FrameTypeTimeSeriesMulti || f.Fields[1].Config.DisplayNameFromDS != wide.Fields[k+1].Config.DisplayNameFromDS {
			t.Fatalf("frame %d: %v", k, f.Fields)
		}
	}
	if render(perField[6].Fields[1]) != `m{i="b"} expected: 1 2 3` {
		t.Fatalf("alerting band field %s", render(perField[6].Fields[1]))
	}

	// A column on every step of the frame without a null is a plain float64
	// field; one with a null (a or b here) stays nullable.
	plain, _, err := seriesFrames(series[2:], values[2:], nil, nil, time.Minute, layoutWide, func(int) string { return "" })
	if err != nil || plain[0].Fields[1].Type() != data.FieldTypeFloat64 || render(plain[0].Fields[1]) != `m{i="c"}: 5 6 7 8` {
		t.Fatalf("a series without gaps: %v, %v", plain[0].Fields[1].Type(), err)
	}
	for _, f := range wide.Fields[1:] {
		if f.Type() != data.FieldTypeNullableFloat64 {
			t.Fatalf("%s: %v, want nullable (it has a null)", f.Config.DisplayNameFromDS, f.Type())
		}
	}
}

func TestLayoutFor(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    frameLayout
	}{
		{"a panel", nil, layoutWide},
		{"an alert rule", map[string]string{backend.FromAlertHeaderName: "true"}, layoutFramePerField},
		{"a server-side expression, forwarded", map[string]string{"http_X-Grafana-From-Expr": "true"}, layoutFramePerField},
		{"a server-side expression", map[string]string{"X-Grafana-From-Expr": "true"}, layoutFramePerField},
	} {
		if got := layoutFor(&backend.QueryDataRequest{Headers: tt.headers}); got != tt.want {
			t.Errorf("%s: layout %d, want %d", tt.name, got, tt.want)
		}
	}
}

// BenchmarkBandFrames measures the band panel's frames (100 series ×
// 1,441 steps, each band starting 30 steps later, after the detector's
// learning, as in BenchmarkBandPanel24h): building them in the plugin
// (seriesFrames), the SDK's encoding of them (Frames.MarshalArrow) and
// its decoding on Grafana's side (data.UnmarshalArrowFrames), for each
// band layout.
//
//	go test ./pkg/plugin -run '^$' -bench BandFrames -benchmem
func BenchmarkBandFrames(b *testing.B) {
	const nSeries, steps, learning = 100, 1441, 30
	series := make([]firebreak.Series, nSeries)
	values := make([]*converters.SeriesSteps, nSeries)
	bands := make([]*converters.SeriesSteps, nSeries)
	for k := range series {
		series[k] = firebreak.Series{SeriesID: json.Number(strconv.Itoa(k)), MetricName: "fbbench_latency_seconds",
			Labels: map[string]string{"idx": fmt.Sprintf("%03d", k), "service": "bench"}}
		times := make([]time.Time, steps)
		numbers := make([]float64, steps)
		column := make([]*float64, steps)
		for i := range steps {
			times[i] = time.UnixMilli(int64(i) * 60_000).UTC()
			numbers[i] = 0.2 + float64(i%11)/500
			column[i] = &numbers[i]
		}
		values[k] = &converters.SeriesSteps{Times: times, Values: map[string][]*float64{FieldValue: column}}
		bands[k] = &converters.SeriesSteps{Times: slices.Clone(times[learning:]), Values: map[string][]*float64{}}
		for _, name := range query.BandColumns {
			bands[k].Values[name] = slices.Clone(column[learning:])
		}
	}
	for _, layout := range []struct {
		name   string
		layout frameLayout
	}{{"frame per field", layoutFramePerField}, {"wide", layoutWide}} {
		build := func() data.Frames {
			frames, _, err := seriesFrames(series, values, bands, query.BandColumns, time.Minute, layout.layout, func(int) string { return "" })
			if err != nil {
				b.Fatal(err)
			}
			return frames
		}
		frames := build()
		encoded, err := frames.MarshalArrow()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(layout.name+"/build", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				build()
			}
		})
		b.Run(layout.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := frames.MarshalArrow(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(layout.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := data.UnmarshalArrowFrames(encoded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// floatAt is a number field's value at row i, nil for null: a metrics
// field is float64 when it has no null, *float64 when it has.
func floatAt(f *data.Field, i int) *float64 {
	v, err := f.NullableFloatAt(i)
	if err != nil {
		panic(err)
	}
	return v
}
