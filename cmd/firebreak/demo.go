package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// runDemo drives the built-in shop workload through the real remote_write
// endpoint until ctx ends, and tells the user what to open.
func runDemo(ctx context.Context, cfg runConfig, addr string, log *slog.Logger) {
	base := "http://" + addr
	start := time.Now()
	shop := workload.NewShop(cfg.demoFactor, cfg.demoDay, uint64(start.UnixNano()), start)
	// The scripted incident: inventory-a's disk fills from 35% to full in
	// about ten minutes, starting four minutes in; the DiskWillFill rule
	// (demo_rules.yml) should page minutes before it is full.
	incidentAt := start.Add(4 * time.Minute)
	shop.FillDisk("inventory-a", incidentAt, 0.065)
	// The second: payment errors climb from seven minutes in (after the
	// baselines' learning period), payment logs a new error, and two
	// minutes later customers complain (zh and en).
	outageAt := start.Add(7 * time.Minute)
	shop.PaymentOutage(outageAt)
	sender := workload.NewSender(base + "/api/v1/write")
	supportSender := workload.NewSender(base + "/api/v1/support")
	logSender := workload.NewSender(base + "/api/v1/logs")

	q := url.QueryEscape("SELECT metric_name, count() AS points, round(avg(value), 3) AS avg FROM samples GROUP BY metric_name ORDER BY metric_name")
	fmt.Fprintf(os.Stderr, `
Firebreak demo is running: a small online shop (%v, %d instances each, %d series)
sends a point per series every %s through Prometheus remote_write, service logs through
the JSON lines API and customer questions through the support API; one simulated day lasts %s.

Open:
  %s/healthz
  %s/metrics
  %s/api/v1/series?match[]={service="checkout"}
  %s/api/v1/sql?query=%s

Scripted incidents:
  at %s inventory-a's disk starts filling (full about ten minutes later): the
    predictive alert DiskWillFill comes well before it is full;
  at %s payment errors climb, payment logs a new error, and two minutes later
    customers complain in Chinese and English: one incident, payment first.
Watch them:
  %s/api/v1/sql?query=%s
  %s/api/v1/incidents

Stop with Ctrl-C (data stays in %s).

`, workload.Services(), cfg.demoFactor, shop.SeriesCount(), cfg.demoRate, cfg.demoDay,
		base, base, base, base, q, incidentAt.Format(time.TimeOnly), outageAt.Format(time.TimeOnly), base,
		url.QueryEscape("SELECT time, kind, state, service, labels['instance'] AS instance, rule, predicted_breach_at, round(value, 3) AS value FROM anomalies FINAL WHERE kind != 'anomaly' OR score >= 0.9 ORDER BY time"),
		base, cfg.dataDir)

	// Simulated time advances one --demo-interval per tick; --speed N
	// ticks N times faster than the wall clock. Every detector works in
	// event time, so the scripted incidents play out N times faster with
	// the same baselines, warm-ups and alerts (timestamps then run ahead
	// of the wall clock).
	t := time.NewTicker(max(cfg.demoRate/time.Duration(max(cfg.demoSpeed, 1)), time.Millisecond))
	defer t.Stop()
	sent, tick := 0, 0
	for {
		tick++
		now := start.Add(time.Duration(tick) * cfg.demoRate)
		// Service chatter every tick; a trickle of customer questions.
		if err := logSender.SendBody(ctx, shop.LogsBody(now, 50, 0.005), "application/x-ndjson"); err != nil && ctx.Err() == nil {
			log.Warn("demo workload: logs failed", "err", err)
		}
		if tick%3 == 0 {
			if err := supportSender.SendBody(ctx, shop.SupportBody(now, 1), "application/json"); err != nil && ctx.Err() == nil {
				log.Warn("demo workload: support message failed", "err", err)
			}
		}
		if err := sender.Send(ctx, shop.Sample(now)); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("demo workload: send failed", "err", err)
		} else {
			sent += shop.SeriesCount()
			if sent%(shop.SeriesCount()*60) == 0 {
				log.Info("demo workload", "samples_sent", sent)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
