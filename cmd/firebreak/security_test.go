package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testIngestToken = "ingest-s3cret"
	testReadToken   = "read-s3cret"
)

func do(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every endpoint that accepts data wants the ingest token, every read
// endpoint the read token, and neither token opens the other side.
func TestTokensGuardEveryEndpoint(t *testing.T) {
	p := start(t, t.TempDir(), "", "", "--ingest-token", testIngestToken, "--read-token", testReadToken,
		"--slack-signing-secret", "slack-secret")
	writes := []string{
		"/api/v1/write", "/v1/metrics", "/v1/logs", "/loki/api/v1/push", "/api/v1/logs",
		"/api/v1/support", "/api/v1/support/ticket", "/api/v1/support/slack",
		"/api/v1/events", "/api/v1/alertmanager/webhook",
		"/api/v1/incidents/0123456789abcdef/ack", "/api/v1/incidents/0123456789abcdef/resolve",
		"/api/v1/incidents/0123456789abcdef/notes",
	}
	for _, path := range writes {
		for _, tok := range []string{"", testReadToken, "wrong"} {
			if code, body := do(t, "POST", p.base+path, tok, `{}`); code != http.StatusUnauthorized {
				t.Errorf("POST %s with token %q: %d %s, want 401", path, tok, code, body)
			}
		}
	}
	reads := []string{
		"/api/v1/sql?query=" + url.QueryEscape("SELECT 1"),
		"/api/v1/series?match[]=" + url.QueryEscape(`{__name__="up"}`),
		"/api/v1/query_range?match=" + url.QueryEscape(`{__name__="up"}`) + "&start=0&end=60&step=15",
		"/api/v1/incidents",
		"/api/v1/incidents/0123456789abcdef",
		"/api/v1/incidents/0123456789abcdef/report",
		"/api/v1/topology",
	}
	for _, path := range reads {
		for _, tok := range []string{"", testIngestToken, "wrong"} {
			if code, body := do(t, "GET", p.base+path, tok, ""); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d %s, want 401", path, tok, code, body)
			} else if !strings.Contains(body, "--read-token") {
				t.Errorf("GET %s 401 does not say what to configure: %s", path, body)
			}
		}
		if code, body := do(t, "GET", p.base+path, testReadToken, ""); code == http.StatusUnauthorized || code >= 500 {
			t.Errorf("GET %s with the read token: %d %s", path, code, body)
		}
	}
	// The ingest token is accepted where it belongs.
	if code, body := do(t, "POST", p.base+"/api/v1/events", testIngestToken,
		`{"type":"deploy","service":"checkout","title":"v2.4.1"}`); code/100 != 2 {
		t.Errorf("POST /api/v1/events with the ingest token: %d %s", code, body)
	}
	// Operations endpoints stay open for Prometheus and probes.
	for _, path := range []string{"/healthz", "/metrics"} {
		if code, _ := do(t, "GET", p.base+path, "", ""); code != 200 {
			t.Errorf("GET %s without a token: %d, want 200", path, code)
		}
	}
}

// The SQL endpoint is read-only by the engine's own setting, and its row,
// time and memory limits hold whatever the query asks for.
func TestSQLEndpointIsReadOnlyAndLimited(t *testing.T) {
	p := start(t, t.TempDir(), "", "", "--sql-max-rows", "1000", "--sql-timeout", "2s",
		"--sql-max-memory-bytes", "200000000")
	sql := func(q string) (int, string) {
		return do(t, "POST", p.base+"/api/v1/sql", "", q)
	}
	refused := []string{
		"INSERT INTO samples (metric_name, series_id, time, value) VALUES ('x', 1, now(), 1)",
		"CREATE TABLE pwned (x UInt8) ENGINE = Memory",
		"DROP TABLE samples",
		"TRUNCATE TABLE samples",
		"ALTER TABLE samples DELETE WHERE 1",
		"SET readonly = 0",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT number FROM system.numbers LIMIT 5000 SETTINGS max_result_rows = 0",
		"SELECT count() FROM system.numbers SETTINGS max_execution_time = 0",
	}
	for _, q := range refused {
		code, body := sql(q)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 from the engine", q, code, body)
		}
	}
	// Limits the engine enforces, with its reason in the answer.
	limits := map[string]string{
		"SELECT number FROM system.numbers LIMIT 5000":      "limit",
		"SELECT count() FROM system.numbers":                "timeout",
		"SELECT groupArray(number) FROM numbers(100000000)": "memory",
	}
	for q, what := range limits {
		start := time.Now()
		code, body := sql(q)
		if code != http.StatusBadRequest {
			t.Errorf("%s (%s limit): %d %s, want 400", q, what, code, truncate(body))
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("%s took %v: the %s limit did not stop it", q, took, what)
		}
	}
	// The store still has its tables and answers.
	code, body := sql("SELECT count() FROM samples")
	if code != 200 {
		t.Fatalf("after the attempts: %d %s", code, body)
	}
}

// Parameters of the read API never reach SQL unescaped: quotes, comments
// and statement breaks in every parameter give a 4xx or an empty answer,
// never the engine's syntax error (which would mean the text was spliced).
func TestReadAPIResistsInjection(t *testing.T) {
	p := start(t, t.TempDir(), "", "")
	attacks := []string{
		`' OR 1=1 --`, `x'); DROP TABLE samples; --`, `\' OR \'1\'=\'1`, "x\x00y", `" OR ""="`,
		`1 UNION ALL SELECT name FROM system.tables`, `$__timeFilter(time)`, `{{7*7}}`,
	}
	for _, a := range attacks {
		e := url.QueryEscape(a)
		paths := []string{
			"/api/v1/series?match[]=" + url.QueryEscape(`{__name__="up",job="`+strings.ReplaceAll(a, `"`, `\"`)+`"}`),
			"/api/v1/series?match[]=" + e,
			"/api/v1/series?match[]=" + url.QueryEscape(`{__name__=~"`+strings.ReplaceAll(a, `"`, `\"`)+`"}`),
			"/api/v1/query_range?series_id=" + e + "&start=0&end=60&step=15",
			"/api/v1/query_range?match=" + url.QueryEscape(`{job="`+strings.ReplaceAll(a, `"`, `\"`)+`"}`) + "&start=0&end=60&step=" + e,
			"/api/v1/query_range?match=" + url.QueryEscape(`{job="x"}`) + "&start=0&end=60&step=15&agg=" + e,
			"/api/v1/incidents?service=" + e + "&state=" + e + "&severity=" + e,
			"/api/v1/incidents/" + url.PathEscape(a),
			"/api/v1/incidents/" + url.PathEscape(a) + "/report",
		}
		for _, path := range paths {
			code, body := do(t, "GET", p.base+path, "", "")
			if code >= 500 || strings.Contains(strings.ToLower(body), "syntax error") {
				t.Errorf("GET %s: %d %s", path, code, truncate(body))
			}
		}
	}
	code, body := do(t, "POST", p.base+"/api/v1/sql", "", "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'samples'")
	var r sqlResult
	json.Unmarshal([]byte(body), &r)
	if code != 200 || len(r.Rows) != 1 || string(r.Rows[0][0]) != "1" && string(r.Rows[0][0]) != `"1"` {
		t.Fatalf("samples table after the attempts: %d %s", code, body)
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
