package queryapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/schema"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

// seedIncidents stores n incidents with perIncident timeline events each,
// the way the writer would, and returns the API over that store.
func seedIncidents(tb testing.TB, n, perIncident int) (*httptest.Server, []string) {
	tb.Helper()
	lib := testkit.ChdbLib(tb)
	st, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := schema.Migrate(ctx, st, schema.Options{}, slog.New(slog.DiscardHandler)); err != nil {
		tb.Fatal(err)
	}
	t0 := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
	services := []string{"gateway", "checkout", "payment", "payment-db", "inventory", "delivery"}
	var (
		ids, titles, states, sevs, rcs []string
		svcs, missing                  [][]string
		opened, acked, mit, res, upd   []int64
		signals                        []uint32
		evID, evKind, evSvc, evTitle   []string
		evDetail, evRef                []string
		evTime                         []int64
	)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("inc-20261101-0000-%08x", i)
		o := t0 + int64(i)*40*60_000
		s := []string{services[i%6], services[(i+1)%6]}
		ids, titles, states, sevs = append(ids, id), append(titles, "Trouble in "+s[0]), append(states, "resolved"), append(sevs, fmt.Sprintf("P%d", 1+i%4))
		svcs, missing = append(svcs, s), append(missing, []string{})
		opened, acked, mit, res, upd = append(opened, o), append(acked, o+120_000), append(mit, o+600_000), append(res, o+1_800_000), append(upd, o+1_800_000)
		signals = append(signals, uint32(perIncident))
		rcs = append(rcs, `[{"service":"`+s[0]+`","score":1.5,"explanation":"first to show trouble"}]`)
		for k := 0; k < perIncident; k++ {
			evID, evKind, evSvc = append(evID, id), append(evKind, "anomaly"), append(evSvc, s[k%2])
			evTitle, evDetail, evRef = append(evTitle, fmt.Sprintf("signal %d", k)), append(evDetail, ""), append(evRef, "anomalies:1@1")
			evTime = append(evTime, o+int64(k)*10_000)
		}
	}
	blocks := []*store.Block{
		{Table: "incidents", Columns: []store.ColumnData{
			{Name: "id", Type: "String", Data: ids}, {Name: "title", Type: "String", Data: titles},
			{Name: "state", Type: "LowCardinality(String)", Data: states}, {Name: "severity", Type: "LowCardinality(String)", Data: sevs},
			{Name: "services", Type: "Array(LowCardinality(String))", Data: svcs},
			{Name: "opened_at", Type: "DateTime64(3, 'UTC')", Data: opened}, {Name: "acked_at", Type: "DateTime64(3, 'UTC')", Data: acked},
			{Name: "mitigated_at", Type: "DateTime64(3, 'UTC')", Data: mit}, {Name: "resolved_at", Type: "DateTime64(3, 'UTC')", Data: res},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')", Data: upd}, {Name: "signals", Type: "UInt32", Data: signals},
			{Name: "missing_data", Type: "Array(String)", Data: missing}, {Name: "root_causes", Type: "String", Data: rcs},
		}},
		{Table: "incident_events", Columns: []store.ColumnData{
			{Name: "incident_id", Type: "String", Data: evID}, {Name: "time", Type: "DateTime64(3, 'UTC')", Data: evTime},
			{Name: "kind", Type: "LowCardinality(String)", Data: evKind}, {Name: "service", Type: "LowCardinality(String)", Data: evSvc},
			{Name: "title", Type: "String", Data: evTitle}, {Name: "detail", Type: "String", Data: evDetail},
			{Name: "ref", Type: "String", Data: evRef},
		}},
	}
	for _, b := range blocks {
		if err := st.Insert(ctx, b); err != nil {
			tb.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	New(st, slog.New(slog.DiscardHandler)).Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv, ids
}

func getBody(tb testing.TB, url string) (int, []byte) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	b := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(b)
		buf.Write(b[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, []byte(buf.String())
}

func TestIncidentEndpoints(t *testing.T) {
	srv, ids := seedIncidents(t, 50, 10)
	code, body := getBody(t, srv.URL+"/api/v1/incidents?severity=P1&service=payment&limit=100")
	var list struct{ Incidents []Incident }
	if code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("%d %s", code, body)
	}
	for _, in := range list.Incidents {
		if in.Severity != "P1" || !slices.Contains(in.Services, "payment") || in.MTTASeconds == nil || *in.MTTASeconds != 120 || *in.MTTRSeconds != 1800 {
			t.Fatalf("filtered incident %+v", in)
		}
	}
	if len(list.Incidents) == 0 {
		t.Fatal("no incident matched")
	}
	code, body = getBody(t, srv.URL+"/api/v1/incidents/"+ids[7])
	var one struct {
		Incident Incident
		Timeline []TimelineEntry
	}
	if code != 200 || json.Unmarshal(body, &one) != nil || one.Incident.ID != ids[7] || len(one.Timeline) != 10 || one.Timeline[0].Title != "signal 0" {
		t.Fatalf("%d %s", code, body)
	}
	if code, body = getBody(t, srv.URL+"/api/v1/incidents/"+ids[7]+"/report?format=markdown"); code != 200 || !strings.Contains(string(body), "## Similar past incidents") ||
		!strings.Contains(string(body), "similarity") {
		t.Fatalf("report %d %s", code, body)
	}
	for url, want := range map[string]int{
		"/api/v1/incidents/inc-nope":                         404,
		"/api/v1/incidents/x'OR'1":                           400,
		"/api/v1/incidents?severity=P1')%20OR%20('1'='1":     200, // quoted: matches nothing, breaks nothing
		"/api/v1/incidents?limit=0":                          400,
		"/api/v1/incidents/" + ids[0] + "/report?format=pdf": 400,
	} {
		if code, body := getBody(t, srv.URL+url); code != want {
			t.Errorf("%s: %d %s, want %d", url, code, body, want)
		}
	}
}

// BenchmarkIncidentTimeline: GET /api/v1/incidents/{id} (incident and a
// 20-event timeline) over 1,000 stored incidents; reports p95.
//
//	go test -run '^$' -bench IncidentTimeline ./pipeline/queryapi
func BenchmarkIncidentTimeline(b *testing.B) {
	srv, ids := seedIncidents(b, 1000, 20)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if code, body := getBody(b, srv.URL+"/api/v1/incidents/"+ids[(i*7919)%len(ids)]); code != 200 {
			b.Fatalf("%d %s", code, body)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
