package query

import (
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestParseReadTypes(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		check   func(q Query) bool
		wantErr string
	}{
		// incidents
		{name: "incidents defaults", json: `{"queryType":"incidents"}`, check: func(q Query) bool {
			return q.Format == FormatTable && q.Limit == DefaultIncidents && q.Services == nil && q.Severities == nil
		}},
		{name: "incidents severities as a list", json: `{"queryType":"incidents","severity":["P1"," p2 "],"state":"mitigated","format":"annotations"}`,
			check: func(q Query) bool {
				return reflect.DeepEqual(q.Severities, []string{"P1", "P2"}) && q.State == "mitigated" && q.Format == FormatAnnotations
			}},
		{name: "incidents severities as text", json: `{"queryType":"incidents","severity":"P3,P4"}`,
			check: func(q Query) bool { return reflect.DeepEqual(q.Severities, []string{"P3", "P4"}) }},
		{name: "incidents All service", json: `{"queryType":"incidents","service":"$__all","severity":["All"]}`,
			check: func(q Query) bool { return q.Services == nil && q.Severities == nil }},
		{name: "incidents service list", json: `{"queryType":"incidents","service":"payment, checkout"}`,
			check: func(q Query) bool { return reflect.DeepEqual(q.Services, []string{"payment", "checkout"}) }},
		{name: "incidents bad severity", json: `{"queryType":"incidents","severity":["P1","P0' OR 1=1"]}`, wantErr: `severity "P0' OR 1=1" is not one of P1, P2, P3, P4`},
		{name: "incidents bad severity type", json: `{"queryType":"incidents","severity":3}`, wantErr: "want text or a list of texts"},
		{name: "incidents bad state", json: `{"queryType":"incidents","state":"closed"}`, wantErr: `state "closed" is not one of open, mitigated, resolved`},
		{name: "incidents bad format", json: `{"queryType":"incidents","format":"time_series"}`, wantErr: `format "time_series" is not one of table, annotations`},
		{name: "incidents bad limit", json: `{"queryType":"incidents","limit":-1}`, wantErr: "limit -1 is not between 1 and 10000"},

		// incident
		{name: "incident default view", json: `{"queryType":"incident","incidentId":" inc-20261203-1015-0a1b2c3d "}`,
			check: func(q Query) bool { return q.IncidentID == "inc-20261203-1015-0a1b2c3d" && q.View == ViewTimeline }},
		{name: "incident view", json: `{"queryType":"incident","incidentId":"inc-1","view":"root_causes"}`,
			check: func(q Query) bool { return q.View == ViewRootCauses }},
		{name: "incident empty", json: `{"queryType":"incident"}`, wantErr: "choose an incident"},
		{name: "incident All", json: `{"queryType":"incident","incidentId":"$__all"}`, wantErr: "choose an incident"},
		{name: "incident variable unset", json: `{"queryType":"incident","incidentId":"$incident"}`, wantErr: "the variable $incident has no value"},
		{name: "incident injection", json: `{"queryType":"incident","incidentId":"inc-1' OR '1'='1"}`, wantErr: `is not inc-… as Firebreak names incidents`},
		{name: "incident path", json: `{"queryType":"incident","incidentId":"inc-1/../../sql"}`, wantErr: "is not inc-"},
		{name: "incident upper case", json: `{"queryType":"incident","incidentId":"INC-1"}`, wantErr: "is not inc-"},
		{name: "incident bad view", json: `{"queryType":"incident","incidentId":"inc-1","view":"graph"}`, wantErr: `view "graph" is not one of timeline, states, root_causes, series, summary`},

		// logPatterns
		{name: "patterns defaults", json: `{"queryType":"logPatterns"}`, check: func(q Query) bool { return q.Mode == PatternsTop && q.Limit == DefaultPatterns }},
		{name: "pattern rates default to 10", json: `{"queryType":"logPatterns","mode":"rates","service":"All"}`,
			check: func(q Query) bool { return q.Limit == DefaultPatternRates && q.Services == nil }},
		{name: "patterns bad mode", json: `{"queryType":"logPatterns","mode":"current"}`, wantErr: `mode "current" is not one of top, new, rates`},
		{name: "patterns bad limit", json: `{"queryType":"logPatterns","limit":1001}`, wantErr: "limit 1001 is not between 1 and 1000"},

		// logs
		{name: "logs defaults", json: `{"queryType":"logs"}`, check: func(q Query) bool { return q.Limit == DefaultLogLines && q.Severities == nil }},
		{name: "logs filters", json: `{"queryType":"logs","service":"checkout","search":"o'brien","templateId":"00AB00000000cd01","severity":"ERROR","limit":5000}`,
			check: func(q Query) bool {
				return q.Search == "o'brien" && q.TemplateID == "00AB00000000cd01" && reflect.DeepEqual(q.Severities, []string{"error"}) && q.Limit == 5000
			}},
		{name: "logs numeric level", json: `{"queryType":"logs","severity":"17","templateId":"12345"}`, check: func(q Query) bool { return q.Severities[0] == "17" }},
		{name: "logs bad level", json: `{"queryType":"logs","severity":"loud"}`, wantErr: `severity "loud" is not one of trace, debug, info, warn, error, fatal`},
		{name: "logs level number out of range", json: `{"queryType":"logs","severity":"30"}`, wantErr: "severity 30 is not an OpenTelemetry severity number"},
		{name: "logs two levels", json: `{"queryType":"logs","severity":["warn","error"]}`, wantErr: "give one minimum level"},
		{name: "logs bad template", json: `{"queryType":"logs","templateId":"1; DROP TABLE logs"}`, wantErr: "neither 16 hex digits"},
		{name: "logs limit", json: `{"queryType":"logs","limit":5001}`, wantErr: "limit 5001 is not between 1 and 5000"},
		{name: "logs long search", json: `{"queryType":"logs","search":"` + strings.Repeat("x", 1001) + `"}`, wantErr: "at most 1000"},

		// sentiment
		{name: "sentiment defaults", json: `{"queryType":"sentiment"}`,
			check: func(q Query) bool { return q.View == ViewSeries && q.GroupBy == "service" && q.Limit == DefaultSamples }},
		{name: "sentiment samples by channel", json: `{"queryType":"sentiment","view":"samples","channel":"chat,email","groupBy":"channel"}`,
			check: func(q Query) bool {
				return q.View == ViewSamples && reflect.DeepEqual(q.Channels, []string{"chat", "email"}) && q.GroupBy == "channel"
			}},
		{name: "sentiment bad view", json: `{"queryType":"sentiment","view":"timeline"}`, wantErr: `view "timeline" is not one of series, samples`},
		{name: "sentiment bad group", json: `{"queryType":"sentiment","groupBy":"language"}`, wantErr: `group by "language" is not one of service, channel`},

		// alerts as annotations
		{name: "alert annotations", json: `{"queryType":"alerts","format":"annotations"}`,
			check: func(q Query) bool { return q.Format == FormatAnnotations && q.Mode == ModeCurrent }},
		{name: "alert annotations of history", json: `{"queryType":"alerts","format":"annotations","mode":"history"}`, wantErr: "use mode current"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(backend.DataQuery{RefID: "A", JSON: []byte(tt.json)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Fatalf("Parse() = %+v", got)
			}
		})
	}
}

func TestFilterList(t *testing.T) {
	for in, want := range map[string][]string{
		"": nil, "All": nil, "$__all": nil, " All , ": nil, "*": nil,
		"a": {"a"}, "a, b,": {"a", "b"}, "All,b": {"All", "b"},
	} {
		if got := filterList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("filterList(%q) = %q, want %q", in, got, want)
		}
	}
}
