// Package selfmetrics stores firebreak's own metrics the way it stores
// everyone else's: it gathers the process's Prometheus registry on an
// interval and publishes the samples to records.TopicSelfMetrics, which the
// writer stores in the samples table with job="firebreak" and the process's
// instance. Dashboards then show ingest rates, lag, dead letters and detector
// latency through the same data source as the shop's series, with no
// Prometheus server in between.
//
// The series go to their own topic rather than the metrics topic because
// detectors must not learn them: firebreak paging about its own counters
// through itself would be a feedback loop (a slow writer raises lag, which
// would raise anomalies, which the writer stores...). Prometheus scraping
// /metrics remains the way to alert on firebreak itself.
package selfmetrics

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Config of a Scraper.
type Config struct {
	Gatherer  prometheus.Gatherer
	Publisher *ingest.Publisher
	// Instance is the instance label (the process's HTTP address).
	Instance string
	// Interval between scrapes. Default 15s.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Scraper publishes the registry's metrics every Interval.
type Scraper struct {
	cfg     Config
	scrapes prometheus.Counter
	fails   prometheus.Counter
}

// New returns a scraper; its own counters register on reg.
func New(cfg Config, reg prometheus.Registerer) *Scraper {
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Scraper{
		cfg: cfg,
		scrapes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_self_scrapes_total",
			Help: "Scrapes of firebreak's own metrics published to the self-metrics topic.",
		}),
		fails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_self_scrape_failures_total",
			Help: "Scrapes of firebreak's own metrics that could not be gathered or published (the next scrape tries again).",
		}),
	}
	if reg != nil {
		reg.MustRegister(s.scrapes, s.fails)
	}
	return s
}

// Run scrapes until ctx ends. A failed scrape is logged and counted, never
// retried: the next one carries the newer values, which is what a scrape
// gap means in Prometheus too.
func (s *Scraper) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.ScrapeOnce(ctx); err != nil && ctx.Err() == nil {
			s.fails.Inc()
			s.cfg.Logger.Warn("self-metrics scrape failed; the next one retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ScrapeOnce gathers and publishes one scrape.
func (s *Scraper) ScrapeOnce(ctx context.Context) error {
	families, err := s.cfg.Gatherer.Gather()
	if err != nil && len(families) == 0 {
		return err
	}
	ts := s.cfg.Now().UnixMilli()
	series := Convert(families, ts, []records.Label{
		{Name: "instance", Value: s.cfg.Instance},
		{Name: "job", Value: "firebreak"},
	})
	if _, err := s.cfg.Publisher.PublishSamplesTo(ctx, records.TopicSelfMetrics, series); err != nil {
		return err
	}
	s.scrapes.Inc()
	return nil
}

// Convert maps metric families to series the way Prometheus stores a
// scrape: counters, gauges and untyped as one series each; histograms as
// _bucket{le}, _sum and _count; summaries as {quantile}, _sum and _count.
// Target labels are added to every series (a metric's own label of the
// same name wins, like honor_labels). Timestamps are ts unless the metric
// carries its own.
func Convert(families []*dto.MetricFamily, ts int64, target []records.Label) []ingest.Series {
	var out []ingest.Series
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			at := ts
			if m.TimestampMs != nil {
				at = m.GetTimestampMs()
			}
			base := labels(m, target)
			add := func(suffix string, v float64, extra ...records.Label) {
				ls := make([]records.Label, 0, len(base)+len(extra)+1)
				ls = append(ls, records.Label{Name: "__name__", Value: name + suffix})
				ls = append(ls, base...)
				ls = append(ls, extra...)
				out = append(out, ingest.Series{Labels: ls, Points: []records.Point{{TimestampMs: at, Value: v}}})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add("", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add("", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add("", m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				infSeen := false
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), +1) {
						infSeen = true
					}
					add("_bucket", float64(b.GetCumulativeCount()), records.Label{Name: "le", Value: formatFloat(b.GetUpperBound())})
				}
				if !infSeen { // client_golang leaves +Inf implicit
					add("_bucket", float64(h.GetSampleCount()), records.Label{Name: "le", Value: "+Inf"})
				}
				add("_sum", h.GetSampleSum())
				add("_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				for _, q := range sm.GetQuantile() {
					add("", q.GetValue(), records.Label{Name: "quantile", Value: formatFloat(q.GetQuantile())})
				}
				add("_sum", sm.GetSampleSum())
				add("_count", float64(sm.GetSampleCount()))
			}
		}
	}
	return out
}

// labels merges a metric's labels with the target labels; the metric's
// own win on a clash.
func labels(m *dto.Metric, target []records.Label) []records.Label {
	ls := make([]records.Label, 0, len(m.GetLabel())+len(target))
	for _, l := range m.GetLabel() {
		ls = append(ls, records.Label{Name: l.GetName(), Value: l.GetValue()})
	}
	for _, t := range target {
		clash := false
		for _, l := range m.GetLabel() {
			if l.GetName() == t.Name {
				clash = true
				break
			}
		}
		if !clash {
			ls = append(ls, t)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return ls
}

// formatFloat writes le and quantile values as Prometheus does ("0.5",
// "+Inf"), so stored series match what a Prometheus scrape would store.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, +1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
