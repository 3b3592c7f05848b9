package firebreak

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientRequestsAndErrors(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" auth="+r.Header.Get("Authorization")+" body="+string(body))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"broker":"unreachable: dial tcp: refused","store":"ok","writer":"ok","version":"v1","store_kind":"chdb"}`)
		case "/api/v1/sql":
			if strings.Contains(string(body), "bad") {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":"Syntax error"}`)
				return
			}
			io.WriteString(w, `{"columns":[{"name":"n","type":"UInt64"}],"rows":[[18446744073709551615]]}`)
		case "/api/v1/series":
			io.WriteString(w, `{"series":[{"series_id":18446744073709551615,"metric_name":"up","labels":{"job":"a"},"last_seen":"2026-01-01T00:00:00Z"}]}`)
		case "/api/v1/query_range":
			io.WriteString(w, `{"series":{"series_id":1,"metric_name":"up","labels":{}},"points":[[1700000000000,1.5],[1700000060000,null]]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "404 page not found")
		}
	}))
	defer srv.Close()
	c := New(srv.URL+"/", "tok", 5*time.Second)
	ctx := context.Background()

	h, err := c.Health(ctx)
	if StatusOf(err) != http.StatusServiceUnavailable || h.Broker != "unreachable: dial tcp: refused" || h.Version != "v1" {
		t.Fatalf("Health() = %+v, %v", h, err)
	}
	res, err := c.SQL(ctx, "SELECT 1")
	if err != nil || len(res.Rows) != 1 || res.Rows[0][0].(interface{ String() string }).String() != "18446744073709551615" {
		t.Fatalf("SQL() = %+v, %v", res, err)
	}
	_, err = c.SQL(ctx, "bad")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != "Syntax error" {
		t.Fatalf("SQL(bad) error = %v", err)
	}
	series, err := c.Series(ctx, []string{`{job="a"}`}, time.Unix(1700000000, 0), 101)
	if err != nil || len(series) != 1 || series[0].SeriesID.String() != "18446744073709551615" || series[0].Labels["job"] != "a" {
		t.Fatalf("Series() = %+v, %v", series, err)
	}
	r, err := c.QueryRange(ctx, RangeQuery{SeriesID: "1", Start: time.Unix(1700000000, 0), End: time.Unix(1700003600, 500_000_000), Step: 90 * time.Second, Aggregation: "max"})
	if err != nil || len(r.Points) != 2 || *r.Points[0].Value != 1.5 || r.Points[1].Value != nil || !r.Points[1].Time.Equal(time.UnixMilli(1700000060000)) {
		t.Fatalf("QueryRange() = %+v, %v", r, err)
	}
	if c.do(ctx, http.MethodGet, "/nope", nil, nil, nil) == nil {
		t.Fatal("404 not an error")
	}

	want := []string{
		"GET /healthz auth=Bearer tok body=",
		"POST /api/v1/sql auth=Bearer tok body=SELECT 1",
		"POST /api/v1/sql auth=Bearer tok body=bad",
		"GET /api/v1/series?limit=101&match%5B%5D=%7Bjob%3D%22a%22%7D&start=1700000000.000 auth=Bearer tok body=",
		"GET /api/v1/query_range?agg=max&end=1700003600.500&series_id=1&start=1700000000.000&step=90 auth=Bearer tok body=",
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("request %d:\n got  %s\n want %s", i, got[i], w)
		}
	}
}

// TestSQLTable: the client asks for Arrow, takes JSON from a server that
// answers it instead, and refuses an Arrow answer that is not a stream.
func TestSQLTable(t *testing.T) {
	var accept []string
	answer := map[string]string{
		"json":  `{"columns":[{"name":"n","type":"UInt64"}],"rows":[[18446744073709551615]]}`,
		"arrow": "not an Arrow stream",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		accept = append(accept, r.Header.Get("Accept"))
		if string(body) == "json" {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", ArrowStreamType)
		}
		io.WriteString(w, answer[string(body)])
	}))
	defer srv.Close()
	c := New(srv.URL, "", 5*time.Second)
	table, err := c.SQLTable(context.Background(), "json")
	if err != nil || table.Records != nil || table.Rows == nil || table.Rows.Rows[0][0].(interface{ String() string }).String() != "18446744073709551615" {
		t.Fatalf("SQLTable(json) = %+v, %v", table, err)
	}
	if _, err := c.SQLTable(context.Background(), "arrow"); err == nil || !strings.Contains(err.Error(), "Arrow") {
		t.Fatalf("a broken Arrow answer: %v", err)
	}
	if accept[0] != "application/vnd.apache.arrow.stream, application/json;q=0.5" {
		t.Fatalf("Accept %q", accept[0])
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := New(url, "", time.Second).Health(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "cannot reach Firebreak at "+url) {
		t.Fatalf("error = %v", err)
	}
}

func TestCatalogSQL(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"metric names", metricNamesSQL(), `SELECT DISTINCT metric_name AS v FROM series FINAL ORDER BY v LIMIT 10000`},
		{"label names", labelNamesSQL(""), `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS v FROM series FINAL ORDER BY v LIMIT 10000`},
		{"label names of a metric", labelNamesSQL("up"), `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS v FROM series FINAL WHERE metric_name = 'up' ORDER BY v LIMIT 10000`},
		{"label values", labelValuesSQL("job", ""), `SELECT DISTINCT labels['job'] AS v FROM series FINAL WHERE mapContains(labels, 'job') ORDER BY v LIMIT 10000`},
		{"label values of a metric", labelValuesSQL("job", "up"), `SELECT DISTINCT labels['job'] AS v FROM series FINAL WHERE mapContains(labels, 'job') AND metric_name = 'up' ORDER BY v LIMIT 10000`},
		{"__name__ values", labelValuesSQL("__name__", ""), metricNamesSQL()},
		{"quote in a label", labelValuesSQL(`x'] OR 1=1 --`, ""),
			`SELECT DISTINCT labels['x\'] OR 1=1 --'] AS v FROM series FINAL WHERE mapContains(labels, 'x\'] OR 1=1 --') ORDER BY v LIMIT 10000`},
		{"backslash cannot escape the quote", labelNamesSQL(`a\' OR 1=1`),
			`SELECT DISTINCT arrayJoin(mapKeys(labels)) AS v FROM series FINAL WHERE metric_name = 'a\\\' OR 1=1' ORDER BY v LIMIT 10000`},
		{"NUL", labelNamesSQL("a\x00b"), `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS v FROM series FINAL WHERE metric_name = 'a\0b' ORDER BY v LIMIT 10000`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, tt.got, tt.want)
		}
	}
}
