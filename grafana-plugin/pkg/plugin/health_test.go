package plugin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Health answers that a live firebreak cannot easily be made to give: a
// component down, a refused token, another server at the URL. The happy path
// and an unreachable URL are proven against a real firebreak in
// pkg/integration.
func TestCheckHealthMessages(t *testing.T) {
	tests := []struct {
		name    string
		healthz func(w http.ResponseWriter)
		sql     int
		status  backend.HealthStatus
		want    []string
	}{
		{
			name: "ok",
			healthz: func(w http.ResponseWriter) {
				io.WriteString(w, `{"broker":"ok","store":"ok","writer":"ok","version":"v0.3.0","store_kind":"clickhouse"}`)
			},
			sql: 200, status: backend.HealthStatusOk, want: []string{"Firebreak v0.3.0, store clickhouse, broker ok"},
		},
		{
			name: "broker down",
			healthz: func(w http.ResponseWriter) {
				w.WriteHeader(503)
				io.WriteString(w, `{"broker":"unreachable: dial tcp 127.0.0.1:19092: connection refused","store":"ok","writer":"ok","version":"v0.3.0","store_kind":"chdb"}`)
			},
			status: backend.HealthStatusError,
			want:   []string{"Firebreak v0.3.0 at", "is not healthy: broker unreachable: dial tcp 127.0.0.1:19092: connection refused (check the embedded broker or --kafka-brokers)"},
		},
		{
			name: "store and writer down",
			healthz: func(w http.ResponseWriter) {
				w.WriteHeader(503)
				io.WriteString(w, `{"broker":"ok","store":"unavailable: timeout","writer":"inserts failing","version":"v1","store_kind":"clickhouse"}`)
			},
			status: backend.HealthStatusError,
			want:   []string{"store unavailable: timeout (check the embedded engine or --clickhouse-dsn); writer inserts failing (see firebreak's log)"},
		},
		{
			name: "token refused by the read API",
			healthz: func(w http.ResponseWriter) {
				io.WriteString(w, `{"broker":"ok","store":"ok","writer":"ok","version":"v1"}`)
			},
			sql: 401, status: backend.HealthStatusError, want: []string{"refused the API token (HTTP 401): check the API token"},
		},
		{
			name:    "another server",
			healthz: func(w http.ResponseWriter) { w.WriteHeader(404) },
			status:  backend.HealthStatusError, want: []string{"answered HTTP 404 on /healthz: is this the address of firebreak run"},
		},
		{
			name:    "not JSON",
			healthz: func(w http.ResponseWriter) { io.WriteString(w, `<html>`) },
			status:  backend.HealthStatusError, want: []string{"answer is not the expected JSON"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/healthz" {
					tt.healthz(w)
					return
				}
				if r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("%s without the token", r.URL.Path)
				}
				w.WriteHeader(tt.sql)
				io.WriteString(w, `{"columns":[],"rows":[]}`)
			}))
			defer srv.Close()
			inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
				JSONData:                []byte(`{"url":"` + srv.URL + `"}`),
				DecryptedSecureJSONData: map[string]string{"apiToken": "tok"},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := inst.(*Datasource).CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Fatalf("status %s, want %s: %s", res.Status, tt.status, res.Message)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.Message, w) {
					t.Fatalf("message %q lacks %q", res.Message, w)
				}
			}
		})
	}
}
