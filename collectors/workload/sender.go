package workload

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// Sender posts remote_write 1.0 requests as Prometheus does: it retries
// 5xx and 429 with backoff (honouring Retry-After) and gives up on other
// 4xx, whose reason it returns.
type Sender struct {
	URL         string
	Client      *http.Client
	MaxAttempts int    // default 10
	Token       string // bearer token, when the collector requires one
}

// NewSender targets url (…/api/v1/write).
func NewSender(url string) *Sender {
	return &Sender{URL: url, Client: &http.Client{Timeout: 30 * time.Second}, MaxAttempts: 10}
}

// Encode marshals and snappy-compresses a request.
func Encode(req *prompb.WriteRequest) ([]byte, error) {
	raw, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	return snappy.Encode(nil, raw), nil
}

// Send encodes and posts req.
func (s *Sender) Send(ctx context.Context, req *prompb.WriteRequest) error {
	body, err := Encode(req)
	if err != nil {
		return err
	}
	return s.SendEncoded(ctx, body)
}

// SendEncoded posts an already encoded body.
func (s *Sender) SendEncoded(ctx context.Context, body []byte) error {
	return s.send(ctx, body, http.Header{
		"Content-Type":                      {"application/x-protobuf"},
		"Content-Encoding":                  {"snappy"},
		"X-Prometheus-Remote-Write-Version": {"0.1.0"},
	})
}

// SendBody posts any body with the same retry rules, e.g. JSON lines to
// /api/v1/logs or support messages to /api/v1/support.
func (s *Sender) SendBody(ctx context.Context, body []byte, contentType string) error {
	return s.send(ctx, body, http.Header{"Content-Type": {contentType}})
}

func (s *Sender) send(ctx context.Context, body []byte, hdr http.Header) error {
	var last error
	for attempt := 0; attempt < max(1, s.MaxAttempts); attempt++ {
		retry, wait, err := s.post(ctx, body, hdr)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
		if wait == 0 {
			wait = min(30*time.Millisecond<<attempt, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", s.MaxAttempts, last)
}

func (s *Sender) post(ctx context.Context, body []byte, hdr http.Header) (retry bool, wait time.Duration, err error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	for k, v := range hdr {
		r.Header[k] = v
	}
	if s.Token != "" {
		r.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := s.Client.Do(r)
	if err != nil {
		return ctx.Err() == nil, 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return false, 0, nil
	}
	err = fmt.Errorf("POST %s: %s: %s", s.URL, resp.Status, bytes.TrimSpace(msg))
	if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil {
		wait = time.Duration(secs) * time.Second
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, wait, err
}
