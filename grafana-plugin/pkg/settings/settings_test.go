package settings

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		in      backend.DataSourceInstanceSettings
		want    Settings
		wantErr string
	}{
		{
			name: "jsonData url, timeout and token",
			in: backend.DataSourceInstanceSettings{
				JSONData:                []byte(`{"url":"http://127.0.0.1:8480/","timeoutSeconds":5}`),
				DecryptedSecureJSONData: map[string]string{"apiToken": " s3cret "},
			},
			want: Settings{URL: "http://127.0.0.1:8480", Timeout: 5 * time.Second, APIToken: "s3cret", StepCache: DefaultStepCache},
		},
		{
			name: "top-level url and default timeout",
			in:   backend.DataSourceInstanceSettings{URL: "https://firebreak.example:8480"},
			want: Settings{URL: "https://firebreak.example:8480", Timeout: DefaultTimeout, StepCache: DefaultStepCache},
		},
		{
			name: "jsonData url wins, path prefix kept, timeout as string",
			in: backend.DataSourceInstanceSettings{
				URL:      "http://ignored:1",
				JSONData: []byte(`{"url":"http://proxy/firebreak//","timeoutSeconds":"12.5","stepCacheSeconds":"60"}`),
			},
			want: Settings{URL: "http://proxy/firebreak", Timeout: 12500 * time.Millisecond, StepCache: time.Minute},
		},
		{
			name: "zero timeout means default",
			in:   backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"http://h:1","timeoutSeconds":0,"stepCacheSeconds":0}`)},
			want: Settings{URL: "http://h:1", Timeout: DefaultTimeout, StepCache: 0},
		},
		{name: "no url", in: backend.DataSourceInstanceSettings{}, wantErr: "URL is empty"},
		{name: "no scheme", in: backend.DataSourceInstanceSettings{URL: "127.0.0.1:8480"}, wantErr: "not an http://"},
		{name: "wrong scheme", in: backend.DataSourceInstanceSettings{URL: "tcp://127.0.0.1:8480"}, wantErr: "not an http://"},
		{name: "query string", in: backend.DataSourceInstanceSettings{URL: "http://h:1/?x=1"}, wantErr: "must not have a query"},
		{name: "bad json", in: backend.DataSourceInstanceSettings{JSONData: []byte(`[`)}, wantErr: "not a JSON object"},
		{
			name:    "timeout not a number",
			in:      backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"http://h:1","timeoutSeconds":"soon"}`)},
			wantErr: "not a number of seconds",
		},
		{
			name:    "step cache too long",
			in:      backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"http://h:1","stepCacheSeconds":7200}`)},
			wantErr: "stepCacheSeconds 7200 is not a number of seconds from 0 (off) to 3600",
		},
		{
			name:    "timeout too long",
			in:      backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"http://h:1","timeoutSeconds":3600}`)},
			wantErr: "outside 1 to 600 seconds",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if got != tt.want {
				t.Fatalf("Load() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
