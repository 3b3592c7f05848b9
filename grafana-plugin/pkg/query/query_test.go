package query

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		queryType string
		json      string
		want      Query
		wantErr   string
	}{
		{name: "sql defaults to table", queryType: "sql", json: `{"rawSql":"SELECT 1"}`,
			want: Query{Model: Model{QueryType: TypeSQL, RawSQL: "SELECT 1", Format: FormatTable}}},
		{name: "sql time series", json: `{"queryType":"sql","rawSql":"SELECT 1","format":"time_series"}`,
			want: Query{Model: Model{QueryType: TypeSQL, RawSQL: "SELECT 1", Format: FormatTimeSeries}}},
		{name: "type inferred from rawSql", json: `{"rawSql":"SELECT 1"}`,
			want: Query{Model: Model{QueryType: TypeSQL, RawSQL: "SELECT 1", Format: FormatTable}}},
		{name: "metrics defaults", json: `{"queryType":"metrics","selector":" {service=\"a\"} "}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: `{service="a"}`, Aggregation: "avg"}}},
		{name: "metrics with step", json: `{"queryType":"metrics","selector":"up","aggregation":"max","step":"5m"}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: "up", Aggregation: "max", Step: "5m"}, StepDuration: 5 * time.Minute}},
		{name: "metrics auto step", json: `{"queryType":"metrics","selector":"up","step":"auto"}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: "up", Aggregation: "avg", Step: "auto"}}},
		{name: "DataQuery type wins", queryType: "metrics", json: `{"queryType":"sql","selector":"up"}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: "up", Aggregation: "avg"}}},
		{name: "metrics with band", json: `{"queryType":"metrics","selector":"up","aggregation":"max","withBand":true}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: "up", Aggregation: "max", WithBand: true}}},
		{name: "band of a count", json: `{"queryType":"metrics","selector":"up","aggregation":"count","withBand":true}`, wantErr: "a band has no count"},
		{name: "score of a count", json: `{"queryType":"metrics","selector":"up","aggregation":"count","withScore":true}`,
			want: Query{Model: Model{QueryType: TypeMetrics, Selector: "up", Aggregation: "count", WithScore: true}}},
		{name: "anomalies defaults", json: `{"queryType":"anomalies"}`,
			want: Query{Model: Model{QueryType: TypeAnomalies, Format: FormatTable, Limit: DefaultLimit}}},
		{name: "anomalies filters", json: `{"queryType":"anomalies","kinds":["anomaly","predictive"],"service":" cart, checkout ,","minScore":0.5,"state":"open","format":"annotations","limit":50}`,
			want: Query{Model: Model{QueryType: TypeAnomalies, Kinds: []string{"anomaly", "predictive"}, Service: " cart, checkout ,", MinScore: ptr(0.5),
				State: "open", Format: FormatAnnotations, Limit: 50}, Services: []string{"cart", "checkout"}}},
		{name: "anomalies bad kind", json: `{"queryType":"anomalies","kinds":["anomaly","x' OR 1=1"]}`, wantErr: `kind "x' OR 1=1" is not one of anomaly, silence, predictive`},
		{name: "anomalies bad state", json: `{"queryType":"anomalies","state":"firing"}`, wantErr: `state "firing" is not one of open, resolved`},
		{name: "anomalies bad score", json: `{"queryType":"anomalies","minScore":2}`, wantErr: "minimum score 2 is not between 0 and 1"},
		{name: "anomalies bad limit", json: `{"queryType":"anomalies","limit":100000}`, wantErr: "limit 100000 is not between 1 and 10000"},
		{name: "anomalies bad format", json: `{"queryType":"anomalies","format":"time_series"}`, wantErr: `format "time_series" is not one of table, annotations`},
		{name: "alerts defaults", json: `{"queryType":"alerts"}`,
			want: Query{Model: Model{QueryType: TypeAlerts, Mode: ModeCurrent, Format: FormatTable, Limit: DefaultLimit}}},
		{name: "alerts history", queryType: "alerts", json: `{"mode":"history","state":"resolved","severity":"critical,page","kinds":["silence"]}`,
			want: Query{Model: Model{QueryType: TypeAlerts, Mode: ModeHistory, State: "resolved", Severity: List{"critical", "page"}, Kinds: []string{"silence"},
				Format: FormatTable, Limit: DefaultLimit}, Severities: []string{"critical", "page"}}},
		{name: "alerts bad mode", json: `{"queryType":"alerts","mode":"future"}`, wantErr: `mode "future" is neither current nor history`},
		{name: "alerts bad state", json: `{"queryType":"alerts","state":"open"}`, wantErr: `state "open" is not one of firing, resolved`},
		{name: "unknown type", json: `{"queryType":"traces"}`, wantErr: `unknown query type "traces"`},
		{name: "bad json", json: `{`, wantErr: "not valid JSON"},
		{name: "empty sql", json: `{"queryType":"sql","rawSql":"  "}`, wantErr: "SQL query is empty"},
		{name: "bad format", json: `{"queryType":"sql","rawSql":"SELECT 1","format":"logs"}`, wantErr: `format "logs"`},
		{name: "no selector", json: `{"queryType":"metrics"}`, wantErr: "needs a selector"},
		{name: "bad aggregation", json: `{"queryType":"metrics","selector":"up","aggregation":"avg(value)); DROP"}`, wantErr: "is not one of avg"},
		{name: "bad step", json: `{"queryType":"metrics","selector":"up","step":"often"}`, wantErr: "step:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(backend.DataQuery{RefID: "A", QueryType: tt.queryType, JSON: []byte(tt.json)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestBands: what a metrics query reads of the bands table.
func TestBands(t *testing.T) {
	for _, tt := range []struct {
		band, score bool
		want        []string
	}{
		{false, false, nil},
		{true, false, []string{"expected", "lower", "upper"}},
		{false, true, []string{"score"}},
		{true, true, BandColumns},
	} {
		if got := (Query{Model: Model{WithBand: tt.band, WithScore: tt.score}}).Bands(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("withBand %v, withScore %v: %q, want %q", tt.band, tt.score, got, tt.want)
		}
	}
}
