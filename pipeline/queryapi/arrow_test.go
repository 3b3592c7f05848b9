package queryapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

func TestPrefersArrow(t *testing.T) {
	for _, tt := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"*/*"}, false},
		{[]string{"application/json"}, false},
		{[]string{ArrowStreamType}, true},
		{[]string{"application/vnd.apache.arrow.stream, application/json;q=0.5"}, true},
		{[]string{"application/json, application/vnd.apache.arrow.stream;q=0.5"}, false},
		{[]string{"application/json;q=0.9", "Application/Vnd.Apache.Arrow.Stream"}, true},
		{[]string{"application/vnd.apache.arrow.stream;q=0"}, false},
		{[]string{"application/vnd.apache.arrow.stream ; q=0.8, */*;q=0.1"}, true},
	} {
		if got := prefersArrow(tt.accept); got != tt.want {
			t.Errorf("prefersArrow(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

// TestSQLArrowEqualsJSON: the Arrow answer of /api/v1/sql, read back by
// the engine, holds the rows of the JSON answer to the same query; a
// store without Arrow answers JSON whatever the request prefers.
func TestSQLArrowEqualsJSON(t *testing.T) {
	st, err := chdb.Open(chdb.Config{LibPath: testkit.ChdbLib(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE TABLE steps (id UInt64, t Int64, v Float64, name LowCardinality(String)) ENGINE = MergeTree ORDER BY (id, t)",
		"INSERT INTO steps VALUES (18446744073709551615, 60000, 1.5, 'checkout'), (18446744073709551615, 120000, nan, 'checkout'), (7, 60000, -2e-300, 'cart \\'é\\'')",
	} {
		if err := st.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	const query = "SELECT id, t, v, name, toNullable(if(v > 0, v, NULL)) AS positive FROM steps ORDER BY id, t"
	withArrow := httptest.NewServer(mux(New(st, slog.New(slog.DiscardHandler))))
	defer withArrow.Close()
	jsonOnly := httptest.NewServer(mux(New(struct{ store.Store }{st}, slog.New(slog.DiscardHandler))))
	defer jsonOnly.Close()

	status, contentType, body := postSQL(t, withArrow.URL, query, "")
	if status != http.StatusOK || contentType != "application/json" {
		t.Fatalf("default answer: HTTP %d, %s: %s", status, contentType, body)
	}
	fromJSON := store.Result{Rows: mustRows(t, body)}
	if len(fromJSON.Rows) != 3 {
		t.Fatalf("JSON answer %s", body)
	}

	status, contentType, stream := postSQL(t, withArrow.URL, query, ArrowStreamType+", application/json;q=0.5")
	if status != http.StatusOK || contentType != ArrowStreamType {
		t.Fatalf("Arrow answer: HTTP %d, %s: %s", status, contentType, stream)
	}
	readBack, err := st.Query(ctx, "SELECT * FROM format(ArrowStream, "+binaryLiteral(stream)+")", store.QueryOptions{})
	if err != nil {
		t.Fatalf("the engine cannot read the Arrow answer back: %v", err)
	}
	if got, want := jsonText(t, readBack.Rows), jsonText(t, fromJSON.Rows); got != want {
		t.Fatalf("Arrow answer holds\n%s\nJSON answer\n%s", got, want)
	}

	status, contentType, body = postSQL(t, jsonOnly.URL, query, ArrowStreamType)
	if status != http.StatusOK || contentType != "application/json" || jsonText(t, mustRows(t, body)) != jsonText(t, fromJSON.Rows) {
		t.Fatalf("a store without Arrow: HTTP %d, %s: %s", status, contentType, body)
	}

	// Errors stay JSON, whatever was asked for.
	for sql, want := range map[string]string{
		"SELECT nope FROM steps":     "nope",
		"SELECT 1 FORMAT JSON":       "not an Arrow stream",
		"SELECT 1; SELECT 2":         "one statement",
		"INSERT INTO steps SELECT *": "readonly",
	} {
		status, contentType, body := postSQL(t, withArrow.URL, sql, ArrowStreamType)
		if status != http.StatusBadRequest || contentType != "application/json" || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(want)) {
			t.Errorf("%s: HTTP %d, %s: %s; want 400 naming %q", sql, status, contentType, body, want)
		}
	}
}

func mux(a *API) *http.ServeMux {
	m := http.NewServeMux()
	a.Register(m)
	return m
}

// postSQL posts a query with an Accept header (none when empty).
func postSQL(t *testing.T, base, sql, accept string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/sql", strings.NewReader(sql))
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Vary") != "Accept" {
		t.Errorf("%s: Vary %q, want Accept", sql, resp.Header.Get("Vary"))
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// binaryLiteral is a ClickHouse string literal of arbitrary bytes.
func binaryLiteral(b []byte) string {
	var s strings.Builder
	s.WriteByte('\'')
	for _, c := range b {
		fmt.Fprintf(&s, "\\x%02x", c)
	}
	s.WriteByte('\'')
	return s.String()
}

// mustRows are a JSON answer's rows, numbers kept exact.
func mustRows(t *testing.T, body []byte) [][]any {
	t.Helper()
	var r store.Result
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return r.Rows
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
