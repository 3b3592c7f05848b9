// Package firebreak is a small client for Firebreak's HTTP read API, the
// only way the plugin reaches the data: it never opens ClickHouse itself.
package firebreak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// Client calls one Firebreak server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the API at base (e.g. http://127.0.0.1:8480). A
// non-empty token is sent as "Authorization: Bearer <token>"; timeout bounds
// each call.
func New(base, token string, timeout time.Duration) *Client {
	return &Client{
		base:  strings.TrimRight(base, "/"),
		token: token,
		http:  &http.Client{Timeout: timeout},
	}
}

// URL is the base address the client calls.
func (c *Client) URL() string { return c.base }

// UnreachableError means no HTTP answer came back (refused, DNS, timeout).
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Firebreak at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// APIError is an answer with an HTTP error status. Message is the API's own
// {"error": "..."} text when it sent one.
type APIError struct {
	Status  int
	Path    string
	Message string
	// Body is the start of the answer (64 KiB at most).
	Body []byte
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("firebreak %s: HTTP %d", e.Path, e.Status)
	}
	return fmt.Sprintf("firebreak %s: HTTP %d: %s", e.Path, e.Status, e.Message)
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends one request and decodes a JSON answer into out. Error statuses
// become *APIError, transport failures *UnreachableError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, query, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return c.decodeJSON(resp.Body, path, out)
}

func (c *Client) decodeJSON(r io.Reader, path string, out any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("firebreak %s: answer is not the expected JSON (is %s the address of firebreak run?): %w", path, c.base, err)
	}
	return nil
}

// send sends one request accepting the accept media types and returns a
// successful answer, whose body the caller closes. Error statuses become
// *APIError, transport failures *UnreachableError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body []byte, accept string) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("firebreak %s: %w", path, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "firebreak-grafana-datasource")
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("firebreak %s: %w", path, ctxErr)
		}
		return nil, &UnreachableError{URL: c.base, Err: err}
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, &APIError{Status: resp.StatusCode, Path: path, Message: msg, Body: b}
	}
	return resp, nil
}

// Health is /healthz: "ok" or a reason per component.
type Health struct {
	Broker    string `json:"broker"`
	Store     string `json:"store"`
	Writer    string `json:"writer"`
	Version   string `json:"version"`
	StoreKind string `json:"store_kind"`
}

// Health calls /healthz. On a 503 the returned Health is filled from the
// body, which says what is down, as well as the *APIError.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &h)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
		_ = json.Unmarshal(ae.Body, &h)
	}
	return h, err
}

// Column is one result column as ClickHouse names and types it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is a read-only SQL answer. Values are as the API documents them:
// numbers as json.Number, non-finite floats and NULL as nil, times as
// RFC 3339 strings, Map as map[string]any, Array and Tuple as []any.
type Result struct {
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// SQL runs a read-only query through POST /api/v1/sql.
func (c *Client) SQL(ctx context.Context, query string) (*Result, error) {
	var r Result
	if err := c.do(ctx, http.MethodPost, "/api/v1/sql", nil, []byte(query), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ArrowStreamType is the media type of an Arrow IPC stream, which
// /api/v1/sql answers in when asked and its store can (docs/api.md).
const ArrowStreamType = "application/vnd.apache.arrow.stream"

// Table is a read-only SQL answer in the form the server chose: Arrow
// record batches when it could send them (firebreak on its embedded
// engine), else JSON rows (Records nil, Rows set). Release it when done.
type Table struct {
	Records []arrow.RecordBatch
	Rows    *Result
}

// Release releases the record batches.
func (t *Table) Release() {
	for _, r := range t.Records {
		r.Release()
	}
	t.Records = nil
}

// SQLTable runs a read-only query through POST /api/v1/sql asking for an
// Arrow stream, which spares both ends the JSON rows of SQL: numbers
// arrive as the engine's own columns. A server that cannot answer in
// Arrow answers JSON, which SQLTable returns as Rows.
func (c *Client) SQLTable(ctx context.Context, query string) (*Table, error) {
	const path = "/api/v1/sql"
	resp, err := c.send(ctx, http.MethodPost, path, nil, []byte(query), ArrowStreamType+", application/json;q=0.5")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != ArrowStreamType {
		var r Result
		if err := c.decodeJSON(resp.Body, path, &r); err != nil {
			return nil, err
		}
		return &Table{Rows: &r}, nil
	}
	rd, err := ipc.NewReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("firebreak %s: the Arrow answer has no schema: %w", path, err)
	}
	defer rd.Release()
	t := &Table{}
	for rd.Next() {
		rec := rd.RecordBatch()
		rec.Retain()
		t.Records = append(t.Records, rec)
	}
	if err := rd.Err(); err != nil {
		t.Release()
		return nil, fmt.Errorf("firebreak %s: reading the Arrow answer: %w", path, err)
	}
	return t, nil
}

// Series is one series in /api/v1/series answers.
type Series struct {
	SeriesID   json.Number       `json:"series_id"`
	MetricName string            `json:"metric_name"`
	Labels     map[string]string `json:"labels"`
	LastSeen   string            `json:"last_seen"`
}

// Series lists the series matching any of the Prometheus selectors, seen
// since start (zero: any time), at most limit of them.
func (c *Client) Series(ctx context.Context, selectors []string, start time.Time, limit int) ([]Series, error) {
	q := url.Values{"match[]": selectors}
	if !start.IsZero() {
		q.Set("start", unixSeconds(start))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Series []Series `json:"series"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/series", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Series, nil
}

// RangeQuery selects one series' points aggregated per step.
type RangeQuery struct {
	SeriesID    string
	Start, End  time.Time
	Step        time.Duration
	Aggregation string // avg, min, max, sum, count, last, first
}

// Point is one aggregated step: its start and value (nil when the engine
// returned a non-finite number).
type Point struct {
	Time  time.Time
	Value *float64
}

// Range is a /api/v1/query_range answer.
type Range struct {
	Series Series
	Points []Point
}

// QueryRange calls /api/v1/query_range for one series.
func (c *Client) QueryRange(ctx context.Context, rq RangeQuery) (*Range, error) {
	q := url.Values{
		"series_id": {rq.SeriesID},
		"start":     {unixSeconds(rq.Start)},
		"end":       {unixSeconds(rq.End)},
		"step":      {strconv.FormatFloat(rq.Step.Seconds(), 'f', -1, 64)},
		"agg":       {rq.Aggregation},
	}
	var out struct {
		Series Series               `json:"series"`
		Points [][2]json.RawMessage `json:"points"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/query_range", q, nil, &out); err != nil {
		return nil, err
	}
	r := &Range{Series: out.Series, Points: make([]Point, 0, len(out.Points))}
	for _, p := range out.Points {
		var ms int64
		if err := json.Unmarshal(p[0], &ms); err != nil {
			return nil, fmt.Errorf("firebreak /api/v1/query_range: point time %s: %w", p[0], err)
		}
		pt := Point{Time: time.UnixMilli(ms).UTC()}
		if s := string(p[1]); s != "null" {
			v, err := strconv.ParseFloat(strings.Trim(s, `"`), 64)
			if err != nil {
				return nil, fmt.Errorf("firebreak /api/v1/query_range: point value %s: %w", s, err)
			}
			pt.Value = &v
		}
		r.Points = append(r.Points, pt)
	}
	return r, nil
}

// unixSeconds renders t as Unix seconds with millisecond precision, which
// the API accepts for start and end.
func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
