package plugin

import (
	"encoding/json"
	"fmt"
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
	f := seriesFrame(displayName(s), []time.Time{time.Unix(60, 0)}, seriesField(s, column{name: FieldValue, values: []*float64{&one}}))
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
	u := seriesField(s, column{name: FieldUpper, values: []*float64{&one}})
	if u.Name != "upper" || u.Config.DisplayNameFromDS != want+" upper" ||
		u.Config.Custom["fillBelowTo"] != want+" lower" || u.Labels["service"] != "checkout" {
		t.Fatalf("upper field: %+v", u.Config)
	}
	sc := seriesField(s, column{name: FieldScore, values: []*float64{&one}})
	if sc.Config.Unit != "percentunit" || *sc.Config.Max != 1 {
		t.Fatalf("score config %+v", sc.Config)
	}
	if got := displayName(firebreak.Series{MetricName: "up"}); got != "up" {
		t.Fatalf("displayName without labels = %q", got)
	}
}

func TestLayoutFor(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    bandLayout
	}{
		{"a panel", nil, bandInOneFrame},
		{"an alert rule", map[string]string{backend.FromAlertHeaderName: "true"}, bandFramePerField},
		{"a server-side expression, forwarded", map[string]string{"http_X-Grafana-From-Expr": "true"}, bandFramePerField},
		{"a server-side expression", map[string]string{"X-Grafana-From-Expr": "true"}, bandFramePerField},
	} {
		if got := layoutFor(&backend.QueryDataRequest{Headers: tt.headers}); got != tt.want {
			t.Errorf("%s: layout %d, want %d", tt.name, got, tt.want)
		}
	}
}

// BenchmarkBandFrames measures what the SDK does with the band panel's
// frames (100 series × 1,441 steps with their bands): encoding them in
// the plugin (Frames.MarshalArrow) and decoding them on Grafana's side
// (data.UnmarshalArrowFrames), for each band layout.
//
//	go test ./pkg/plugin -run '^$' -bench BandFrames -benchmem
func BenchmarkBandFrames(b *testing.B) {
	const nSeries, steps = 100, 1441
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
		bands[k] = &converters.SeriesSteps{Times: times, Values: map[string][]*float64{}}
		for _, name := range query.BandColumns {
			bands[k].Values[name] = column
		}
	}
	for _, layout := range []struct {
		name   string
		layout bandLayout
	}{{"band frame per field", bandFramePerField}, {"band in one frame", bandInOneFrame}} {
		frames, _, err := seriesFrames(series, values, bands, layout.layout, func(int) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
		encoded, err := frames.MarshalArrow()
		if err != nil {
			b.Fatal(err)
		}
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
