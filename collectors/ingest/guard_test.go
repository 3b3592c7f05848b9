package ingest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGuardTokensAndRateLimits(t *testing.T) {
	tokens, err := ParseTokens([]string{"remote_write=s3cret", "loki=other"})
	if err != nil {
		t.Fatal(err)
	}
	limits, err := ParseLimits([]string{"loki=1:2"})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	g := NewGuard(m, tokens, limits)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	call := func(source, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		g.Wrap(source, ok).ServeHTTP(rec, r)
		return rec
	}
	if c := call("remote_write", "").Code; c != 401 {
		t.Fatalf("no token: %d", c)
	}
	if c := call("remote_write", "Bearer other").Code; c != 401 {
		t.Fatalf("another source's token: %d", c)
	}
	if c := call("remote_write", "Bearer s3cret").Code; c != 204 {
		t.Fatalf("right token: %d", c)
	}
	if c := call("jsonlines", "").Code; c != 204 {
		t.Fatalf("source without tokens must stay open: %d", c)
	}
	// Burst 2, then 429 with Retry-After; other sources unaffected.
	call("loki", "Bearer other")
	call("loki", "Bearer other")
	rec := call("loki", "Bearer other")
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v", rec.Code, rec.Header())
	}
	if c := call("remote_write", "Bearer s3cret").Code; c != 204 {
		t.Fatalf("a limited source must not limit others: %d", c)
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues("loki", "rate_limited")) != 1 ||
		testutil.ToFloat64(m.Rejected.WithLabelValues("remote_write", "unauthorized")) != 2 {
		t.Fatal("guard refusals not counted")
	}
	for _, bad := range []string{"x=0", "x=abc", "x=5:0"} {
		if _, err := ParseLimits([]string{bad}); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
	if _, err := ParseTokens([]string{"x="}); err == nil {
		t.Error("empty token accepted")
	}
}
