package ingest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/time/rate"
)

// Guard protects a collector endpoint: bearer tokens and a token-bucket
// rate limit per source. It is the one place these rules live; every
// collector's handler is wrapped by it in cmd/firebreak.
type Guard struct {
	metrics *Metrics
	// tokens per source; a source without tokens is open. "*" applies to
	// every source that has none of its own.
	tokens map[string][]string
	// limits per source, requests per second with a burst; "*" as above.
	limits map[string]Limit

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// Limit is a token bucket: Rate requests per second, Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// NewGuard builds a guard. tokens maps source → accepted bearer tokens.
func NewGuard(m *Metrics, tokens map[string][]string, limits map[string]Limit) *Guard {
	return &Guard{metrics: m, tokens: tokens, limits: limits, limiters: map[string]*rate.Limiter{}}
}

// Wrap returns h protected for source.
func (g *Guard) Wrap(source string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tokens := g.tokensFor(source); len(tokens) > 0 && !validToken(r, tokens) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
			g.metrics.WriteError(w, source, Errorf(http.StatusUnauthorized, "unauthorized",
				"missing or wrong bearer token for %s: send Authorization: Bearer <token> as configured with --ingest-token", source))
			return
		}
		if lim := g.limiter(source); lim != nil && !lim.Allow() {
			e := Errorf(http.StatusTooManyRequests, "rate_limited", "%s is over its rate limit (%.0f requests/s): retry later", source, float64(lim.Limit()))
			e.RetryAfter = "1"
			g.metrics.WriteError(w, source, e)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (g *Guard) tokensFor(source string) []string {
	if t, ok := g.tokens[source]; ok {
		return t
	}
	return g.tokens["*"]
}

func (g *Guard) limiter(source string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	if l, ok := g.limiters[source]; ok {
		return l
	}
	lim, ok := g.limits[source]
	if !ok {
		lim, ok = g.limits["*"]
	}
	var l *rate.Limiter
	if ok && lim.Rate > 0 {
		l = rate.NewLimiter(rate.Limit(lim.Rate), max(1, lim.Burst))
	}
	g.limiters[source] = l
	return l
}

func validToken(r *http.Request, tokens []string) bool {
	auth := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	valid := false
	for _, t := range tokens {
		// Constant time, and no early exit that would reveal which matched.
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			valid = true
		}
	}
	return valid
}

// ParseTokens reads --ingest-token values "source=token" or "token" (all
// sources).
func ParseTokens(specs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, s := range specs {
		src, tok, ok := strings.Cut(s, "=")
		if !ok {
			src, tok = "*", s
		}
		if tok == "" {
			return nil, fmt.Errorf("--ingest-token %q: empty token", s)
		}
		out[src] = append(out[src], tok)
	}
	return out, nil
}

// ParseLimits reads --ingest-rate values "source=RATE[:BURST]" or
// "RATE[:BURST]" (all sources), in requests per second.
func ParseLimits(specs []string) (map[string]Limit, error) {
	out := map[string]Limit{}
	for _, s := range specs {
		src, v, ok := strings.Cut(s, "=")
		if !ok {
			src, v = "*", s
		}
		var l Limit
		rateStr, burstStr, hasBurst := strings.Cut(v, ":")
		if _, err := fmt.Sscanf(rateStr, "%g", &l.Rate); err != nil || l.Rate <= 0 {
			return nil, fmt.Errorf("--ingest-rate %q: want SOURCE=REQUESTS_PER_SECOND[:BURST], e.g. remote_write=200:400", s)
		}
		l.Burst = int(l.Rate)
		if hasBurst {
			if _, err := fmt.Sscanf(burstStr, "%d", &l.Burst); err != nil || l.Burst <= 0 {
				return nil, fmt.Errorf("--ingest-rate %q: burst must be a positive whole number", s)
			}
		}
		out[src] = l
	}
	return out, nil
}
