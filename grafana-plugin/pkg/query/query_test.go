package query

import (
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
		{name: "unknown type", json: `{"queryType":"incidents"}`, wantErr: `unknown query type "incidents"`},
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
			if got != tt.want {
				t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
