// Package alertmanager posts alerts to Prometheus Alertmanager's v2 API
// (POST /api/v2/alerts). Every configured Alertmanager of an HA set gets
// every alert: each has its own bounded queue and sender, so a slow or dead
// one never delays the others, and Send never blocks the caller: when a
// queue is full its oldest alerts are dropped and counted, as Prometheus'
// notifier does.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Alert is Alertmanager's PostableAlert. Labels identify the alert (the
// same labels are the same alert); an EndsAt in the past resolves it, one
// in the future lets it expire if it is not sent again by then.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Options tune the client. The zero value is ready: every field has a
// default, documented beside it.
type Options struct {
	// QueueCapacity bounds each Alertmanager's queue of alerts waiting to
	// be sent; when full, the oldest are dropped (counted). Default 10,000.
	QueueCapacity int
	// MaxBatch is the most alerts one POST carries. Default 64.
	MaxBatch int
	// Timeout bounds one POST. Default 10 s.
	Timeout time.Duration
	// MaxAttempts is how often one batch is tried against one Alertmanager
	// (network errors, 5xx, 429) before it is given up (counted as
	// errors). A 4xx other than 429 is never retried. Default 0: retry
	// until that Alertmanager takes the batch or the context ends, so an
	// outage delays alerts (by at most BackoffMax once it is back) but
	// loses none; alerts that arrive meanwhile wait in the bounded queue
	// (oldest dropped), and the other Alertmanagers are not held up.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the exponential backoff between
	// attempts (with jitter). Defaults 200 ms and 5 s.
	BackoffMin, BackoffMax time.Duration
	// HTTPClient sends the requests. Default: a client with no overall
	// timeout (Timeout applies per request).
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.QueueCapacity <= 0 {
		o.QueueCapacity = 10_000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 200 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(5*time.Second, o.BackoffMin)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	return o
}

// AlertsPath is the v2 API endpoint alerts are posted to.
const AlertsPath = "/api/v2/alerts"

// Client sends alerts to a set of Alertmanagers.
type Client struct {
	opts    Options
	log     *slog.Logger
	targets []*target
	metrics *metrics
}

type metrics struct {
	sent, errors, dropped *prometheus.CounterVec
	retries               *prometheus.CounterVec
	queueLength           *prometheus.GaugeVec
	latency               *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alertmanager_alerts_sent_total",
			Help: "Alerts an Alertmanager accepted (2xx).",
		}, []string{"alertmanager"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alertmanager_errors_total",
			Help: "Alerts not delivered to an Alertmanager: rejected with a 4xx, or still failing after every retry.",
		}, []string{"alertmanager"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alertmanager_retries_total",
			Help: "POST attempts that failed (network error, 5xx, 429) and are retried with backoff.",
		}, []string{"alertmanager"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_alertmanager_dropped_total",
			Help: "Alerts dropped unsent because an Alertmanager's queue was full (oldest first).",
		}, []string{"alertmanager"}),
		queueLength: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "firebreak_alertmanager_queue_length",
			Help: "Alerts waiting to be sent to an Alertmanager.",
		}, []string{"alertmanager"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "firebreak_alertmanager_request_duration_seconds",
			Help:    "Duration of one POST /api/v2/alerts attempt, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"alertmanager"}),
	}
	reg.MustRegister(m.sent, m.errors, m.retries, m.dropped, m.queueLength, m.latency)
	return m
}

// New builds a client for the Alertmanagers at urls (base URLs such as
// http://alertmanager:9093, or with a path prefix; the v2 alerts path is
// appended unless already there). Its metrics are registered on reg.
// Alerts queue from the start; Run sends them.
func New(urls []string, opts Options, reg prometheus.Registerer, log *slog.Logger) (*Client, error) {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, log: log, metrics: newMetrics(reg)}
	seen := map[string]bool{}
	for _, raw := range urls {
		u, err := AlertsURL(raw)
		if err != nil {
			return nil, err
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		c.targets = append(c.targets, &target{
			url:    u,
			notify: make(chan struct{}, 1),
			sent:   c.metrics.sent.WithLabelValues(u),
			errs:   c.metrics.errors.WithLabelValues(u),
			retry:  c.metrics.retries.WithLabelValues(u),
			drop:   c.metrics.dropped.WithLabelValues(u),
			qlen:   c.metrics.queueLength.WithLabelValues(u),
			lat:    c.metrics.latency.WithLabelValues(u),
		})
	}
	return c, nil
}

// AlertsURL turns an Alertmanager base URL into its POST /api/v2/alerts URL.
func AlertsURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("alertmanager URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("alertmanager URL %q: want http(s)://host:port[/prefix]", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, AlertsPath) {
		p += AlertsPath
	}
	u.Path, u.RawQuery, u.Fragment = p, "", ""
	return u.String(), nil
}

// URLs are the alerts endpoints the client posts to (also the value of the
// alertmanager label of its metrics).
func (c *Client) URLs() []string {
	out := make([]string, len(c.targets))
	for i, t := range c.targets {
		out[i] = t.url
	}
	return out
}

// Send queues alerts for every Alertmanager and returns at once.
func (c *Client) Send(alerts ...Alert) {
	if len(alerts) == 0 {
		return
	}
	for _, t := range c.targets {
		t.push(alerts, c.opts.QueueCapacity)
	}
}

// Pending is how many alerts wait in the fullest queue (tests, shutdown).
func (c *Client) Pending() int {
	n := 0
	for _, t := range c.targets {
		t.mu.Lock()
		n = max(n, len(t.queue)+t.inflight)
		t.mu.Unlock()
	}
	return n
}

// Run sends queued alerts until ctx is done; requests in flight are
// cancelled then, and what is still queued is not sent (alerts carry an
// endsAt, so Alertmanager expires what a stopped sender no longer renews).
func (c *Client) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range c.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.sendLoop(ctx, t)
		}()
	}
	wg.Wait()
}

// target is one Alertmanager with its queue.
type target struct {
	url    string
	notify chan struct{}

	mu       sync.Mutex
	queue    []Alert
	inflight int

	sent, errs, drop prometheus.Counter
	retry            prometheus.Counter
	qlen             prometheus.Gauge
	lat              prometheus.Observer
}

func (t *target) push(alerts []Alert, capacity int) {
	t.mu.Lock()
	t.queue = append(t.queue, alerts...)
	if over := len(t.queue) - capacity; over > 0 {
		// Drop the oldest: the newest state of an alert is what matters.
		t.queue = append(t.queue[:0], t.queue[over:]...)
		t.drop.Add(float64(over))
	}
	t.qlen.Set(float64(len(t.queue)))
	t.mu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// next takes up to n alerts off the queue.
func (t *target) next(n int) []Alert {
	t.mu.Lock()
	defer t.mu.Unlock()
	n = min(n, len(t.queue))
	if n == 0 {
		return nil
	}
	batch := make([]Alert, n)
	copy(batch, t.queue)
	t.queue = append(t.queue[:0], t.queue[n:]...)
	t.inflight = n
	t.qlen.Set(float64(len(t.queue)))
	return batch
}

func (t *target) done() {
	t.mu.Lock()
	t.inflight = 0
	t.mu.Unlock()
}

func (c *Client) sendLoop(ctx context.Context, t *target) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.notify:
		}
		for {
			batch := t.next(c.opts.MaxBatch)
			if batch == nil {
				break
			}
			c.deliver(ctx, t, batch)
			t.done()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// errPermanent marks a response that retrying cannot fix.
var errPermanent = errors.New("rejected")

// deliver posts one batch, retrying with backoff, and counts the outcome.
func (c *Client) deliver(ctx context.Context, t *target, batch []Alert) {
	body, err := json.Marshal(batch)
	if err != nil { // cannot happen with string maps and times
		t.errs.Add(float64(len(batch)))
		c.log.Error("encode alerts", "alertmanager", t.url, "err", err)
		return
	}
	for attempt := 1; ; attempt++ {
		err := c.post(ctx, t, body)
		if err == nil {
			t.sent.Add(float64(len(batch)))
			return
		}
		if ctx.Err() != nil {
			return // shutting down: neither sent nor failed
		}
		if errors.Is(err, errPermanent) {
			t.errs.Add(float64(len(batch)))
			c.log.Error("alertmanager rejected alerts; not retrying", "alertmanager", t.url, "alerts", len(batch), "err", err)
			return
		}
		if c.opts.MaxAttempts > 0 && attempt >= c.opts.MaxAttempts {
			t.errs.Add(float64(len(batch)))
			c.log.Error("alertmanager unreachable; alerts given up", "alertmanager", t.url, "alerts", len(batch), "attempts", attempt, "err", err)
			return
		}
		wait := c.backoff(attempt)
		t.retry.Inc()
		// Every attempt while it starts failing, then one line a minute
		// or so (at the 5 s cap), not one every few seconds for an outage.
		if attempt <= 4 || attempt%12 == 0 {
			c.log.Warn("alertmanager send failed; retrying", "alertmanager", t.url, "attempt", attempt, "retry_in", wait, "alerts", len(batch), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// backoff is BackoffMin·2^(attempt-1), capped at BackoffMax, with the upper
// half jittered so HA senders do not retry in lockstep.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BackoffMin
	for i := 1; i < attempt && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.BackoffMax)
	half := d / 2
	return half + rand.N(half+1)
}

func (c *Client) post(ctx context.Context, t *target, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "firebreak-alerter")
	start := time.Now()
	resp, err := c.opts.HTTPClient.Do(req)
	t.lat.Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: %s", errPermanent, resp.Status, strings.TrimSpace(string(msg)))
	default:
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
}
