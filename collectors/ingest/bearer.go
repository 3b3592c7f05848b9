package ingest

import (
	"encoding/json"
	"net/http"
)

// RequireBearer protects a non-collector endpoint (the read API) with its
// own bearer tokens, checked in constant time like the collectors' tokens.
// No tokens: open. flag names the setting in the 401's message so the
// caller knows what to configure.
func RequireBearer(tokens []string, flag string, h http.Handler) http.Handler {
	if len(tokens) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !validToken(r, tokens) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{
				"error": "missing or wrong bearer token: send Authorization: Bearer <token> as configured with " + flag,
			})
			return
		}
		h.ServeHTTP(w, r)
	})
}
