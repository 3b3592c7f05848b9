// Package settings loads and validates a Firebreak data source's
// configuration, in one place. Everything the backend needs from Grafana's
// data source settings passes through Load.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

const (
	// DefaultTimeout bounds one call to the Firebreak API when the data
	// source leaves timeoutSeconds empty.
	DefaultTimeout = 30 * time.Second
	// MaxTimeout is the longest timeout accepted.
	MaxTimeout = 10 * time.Minute
	// DefaultStepCache is how long the backend reuses the metrics steps it
	// read (the plugin's step cache) when stepCacheSeconds is not set.
	DefaultStepCache = 5 * time.Minute
	// MaxStepCache is the longest step cache accepted.
	MaxStepCache = time.Hour
)

// Settings is a validated Firebreak data source configuration.
type Settings struct {
	// URL is the base address of `firebreak run`'s HTTP API, without a
	// trailing slash (a path prefix behind a reverse proxy is kept).
	URL string
	// Timeout bounds each call to the API.
	Timeout time.Duration
	// APIToken, when set, is sent as "Authorization: Bearer <token>". It only
	// ever comes from secureJsonData.
	APIToken string
	// StepCache is how long metrics steps read from Firebreak are reused
	// before they are read again (0: never reused). A panel refreshed over a
	// moving range then reads only its recent steps; points backfilled
	// into older steps show after at most this long.
	StepCache time.Duration
}

// jsonData is the shape the config editor stores in jsonData.
type jsonData struct {
	URL              string          `json:"url"`
	TimeoutSeconds   json.RawMessage `json:"timeoutSeconds"`
	StepCacheSeconds json.RawMessage `json:"stepCacheSeconds"`
}

// Load reads and validates the settings Grafana sends with every request.
// jsonData.url wins over the data source's top-level URL, which provisioning
// files often use instead.
func Load(s backend.DataSourceInstanceSettings) (Settings, error) {
	var jd jsonData
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &jd); err != nil {
			return Settings{}, fmt.Errorf("data source jsonData is not a JSON object: %w", err)
		}
	}
	raw := strings.TrimSpace(jd.URL)
	if raw == "" {
		raw = strings.TrimSpace(s.URL)
	}
	u, err := parseURL(raw)
	if err != nil {
		return Settings{}, err
	}
	timeout, err := parseTimeout(jd.TimeoutSeconds)
	if err != nil {
		return Settings{}, err
	}
	stepCache, err := parseStepCache(jd.StepCacheSeconds)
	if err != nil {
		return Settings{}, err
	}
	return Settings{
		URL:       u,
		Timeout:   timeout,
		APIToken:  strings.TrimSpace(s.DecryptedSecureJSONData["apiToken"]),
		StepCache: stepCache,
	}, nil
}

func parseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("the Firebreak URL is empty: set it to the address of `firebreak run`, e.g. http://127.0.0.1:8480")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("the Firebreak URL %q is not an http:// or https:// address such as http://127.0.0.1:8480", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the Firebreak URL %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// seconds reads a JSON number or a numeric string (provisioning YAML
// often quotes it) of seconds: the text as given, and set false when it is
// empty or null.
func seconds(raw json.RawMessage) (text string, secs float64, set bool, err error) {
	text = strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if text == "" || text == "null" {
		return text, 0, false, nil
	}
	secs, err = strconv.ParseFloat(text, 64)
	return text, secs, true, err
}

// parseTimeout reads timeoutSeconds: empty or 0 means the default.
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	s, secs, set, err := seconds(raw)
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("timeout %s is not a number of seconds", s)
	}
	if !set || secs == 0 {
		return DefaultTimeout, nil
	}
	d := time.Duration(secs * float64(time.Second))
	if d < time.Second || d > MaxTimeout {
		return 0, fmt.Errorf("timeout %s s is outside 1 to %d seconds", s, int(MaxTimeout.Seconds()))
	}
	return d, nil
}

// parseStepCache reads stepCacheSeconds: empty means the default, 0 turns
// the step cache off.
func parseStepCache(raw json.RawMessage) (time.Duration, error) {
	s, secs, set, err := seconds(raw)
	if err != nil || secs < 0 || secs > MaxStepCache.Seconds() {
		return 0, fmt.Errorf("stepCacheSeconds %s is not a number of seconds from 0 (off) to %d", s, int(MaxStepCache.Seconds()))
	}
	if !set {
		return DefaultStepCache, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}
