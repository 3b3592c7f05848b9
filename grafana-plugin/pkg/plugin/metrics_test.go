package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

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
	f := seriesFrame(s, []time.Time{time.Unix(60, 0)}, column{name: FieldValue, values: []*float64{&one}})
	want := `http_requests_total{code="5\"xx", service="checkout"}`
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
	u := seriesFrame(s, []time.Time{time.Unix(60, 0)}, column{name: FieldUpper, values: []*float64{&one}})
	if u.Name != want+" upper" || u.Fields[1].Name != "upper" || u.Fields[1].Config.DisplayNameFromDS != want+" upper" ||
		u.Fields[1].Config.Custom["fillBelowTo"] != want+" lower" || u.Fields[1].Labels["service"] != "checkout" {
		t.Fatalf("upper frame %q: %+v", u.Name, u.Fields[1].Config)
	}
	sc := seriesFrame(s, []time.Time{time.Unix(60, 0)}, column{name: FieldScore, values: []*float64{&one}})
	if sc.Fields[1].Config.Unit != "percentunit" || *sc.Fields[1].Config.Max != 1 {
		t.Fatalf("score config %+v", sc.Fields[1].Config)
	}
	if got := displayName(firebreak.Series{MetricName: "up"}); got != "up" {
		t.Fatalf("displayName without labels = %q", got)
	}
}
