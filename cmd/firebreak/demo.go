package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// Demo schedule, in demo (event) time. The warm-up lets every detector
// learn first: baselines score after 130 points, log patterns after 5
// minutes, complaint surges after 3. The quiet gap after each scenario is
// longer than the correlator's 10-minute join window, so one scenario's
// incident never takes in the next one's signals.
const (
	demoWarmup    = 8 * time.Minute
	demoWarmupPts = 150
	demoQuietGap  = 15 * time.Minute
	// The support collector refuses messages more than an hour ahead of
	// its clock. At --speed the demo's clock runs ahead of the wall clock:
	// the question trickle pauses beyond supportAhead, and a scenario that
	// needs complaints (payment-db-latency) holds the demo clock back to it.
	supportAhead = 50 * time.Minute
)

// plannedScenario is one scenario placed on the demo's clock.
type plannedScenario struct {
	workload.Scenario
	from, to time.Time
}

// planScenarios places the named scenarios (all when none) one after
// another from start, and returns when the last one's effects are in (a
// minute after it ended).
func planScenarios(shop *workload.Shop, names []string, start time.Time, interval time.Duration) ([]plannedScenario, time.Time, error) {
	if len(names) == 0 {
		for _, s := range workload.Scenarios() {
			names = append(names, s.Name)
		}
	}
	at := start.Add(max(demoWarmup, demoWarmupPts*interval))
	var plan []plannedScenario
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			return nil, time.Time{}, fmt.Errorf("--scenario %s given twice: each scenario plays once", name)
		}
		seen[name] = true
		sc, err := shop.Script(name, at)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("--scenario: %w", err)
		}
		plan = append(plan, plannedScenario{Scenario: sc, from: at, to: at.Add(sc.Duration)})
		at = at.Add(sc.Duration + demoQuietGap)
	}
	return plan, plan[len(plan)-1].to.Add(time.Minute), nil
}

// runDemo drives the built-in shop workload through the real remote_write
// endpoint until ctx ends, plays the scripted scenarios, and tells the
// user what to open.
func runDemo(ctx context.Context, cfg runConfig, addr string, log *slog.Logger) {
	base := "http://" + addr
	start := time.Now()
	shop := workload.NewShop(cfg.demoFactor, cfg.demoDay, uint64(start.UnixNano()), start)
	plan, done, err := planScenarios(shop, cfg.scenarios, start, cfg.demoRate)
	if err != nil {
		// Flags are checked before the process starts (checkDemoFlags);
		// this is only reached if the two disagree.
		log.Error("demo scenarios", "err", err)
		return
	}
	sender := workload.NewSender(base + "/api/v1/write")
	supportSender := workload.NewSender(base + "/api/v1/support")
	logSender := workload.NewSender(base + "/api/v1/logs")
	speed := max(cfg.demoSpeed, 1)

	q := url.QueryEscape("SELECT metric_name, count() AS points, round(avg(value), 3) AS avg FROM samples GROUP BY metric_name ORDER BY metric_name")
	var lines strings.Builder
	for i, p := range plan {
		fmt.Fprintf(&lines, "  %d. %-19s demo %s-%s (wall ~%s): %s\n", i+1, p.Name, p.from.Format(time.TimeOnly), p.to.Format(time.TimeOnly),
			start.Add(p.from.Sub(start)/time.Duration(speed)).Format(time.TimeOnly), p.About)
	}
	fmt.Fprintf(os.Stderr, `
Firebreak demo is running: a small online shop (%v, %d instances each, plus
payment-db and an edge collector; %d series) sends a point per series every %s of demo
time through Prometheus remote_write, service logs through the JSON lines API and
customer questions through the support API; one simulated day lasts %s; demo time runs
%dx the wall clock.

Open:
  %s/healthz
  %s/metrics
  %s/api/v1/series?match[]={service="checkout"}
  %s/api/v1/sql?query=%s

Scenarios (one incident each, %s of quiet between them):
%sWatch them:
  %s/api/v1/incidents
  %s/api/v1/sql?query=%s

Stop with Ctrl-C (data stays in %s).

`, workload.Services(), cfg.demoFactor, shop.SeriesCount(), cfg.demoRate, cfg.demoDay, speed,
		base, base, base, base, q, demoQuietGap, lines.String(), base, base,
		url.QueryEscape("SELECT time, kind, state, service, labels['instance'] AS instance, rule, predicted_breach_at, round(value, 3) AS value FROM anomalies FINAL WHERE kind != 'anomaly' OR score >= 0.9 ORDER BY time"),
		cfg.dataDir)

	// Simulated time advances one --demo-interval per tick; --speed N
	// ticks N times faster than the wall clock. Every detector works in
	// event time, so the scenarios play out N times faster with the same
	// baselines, warm-ups and alerts (timestamps then run ahead of the
	// wall clock).
	t := time.NewTicker(max(cfg.demoRate/time.Duration(speed), time.Millisecond))
	defer t.Stop()
	sent, tick, next := 0, 0, 0 // next: the plan's next start or end to announce (2 per scenario)
	for {
		tick++
		now := start.Add(time.Duration(tick) * cfg.demoRate)
		for next < 2*len(plan) {
			p := plan[next/2]
			at, what := p.from, "started"
			if next%2 == 1 {
				at, what = p.to, "ended"
			}
			if now.Before(at) {
				break
			}
			announce(log, start, p, what, next/2+1, len(plan), at)
			next++
		}
		if next == 2*len(plan) && !now.Before(done) {
			fmt.Fprintf(os.Stderr, "demo: all %d scenarios done at demo %s (wall %s); the shop keeps running until Ctrl-C\n",
				len(plan), now.UTC().Format(time.DateTime), time.Now().UTC().Format(time.TimeOnly))
			log.Info("demo scenarios done", "demo_time", now.UTC().Format(time.RFC3339), "wall_time", time.Now().UTC().Format(time.RFC3339Nano))
			next++
		}
		for now.Sub(time.Now()) > supportAhead && needsSupport(plan, now) {
			select { // let the wall clock catch up
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		// Service chatter every tick; a trickle of customer questions.
		if err := logSender.SendBody(ctx, shop.LogsBody(now, 50, 0.005), "application/x-ndjson"); err != nil && ctx.Err() == nil {
			log.Warn("demo workload: logs failed", "err", err)
		}
		if tick%3 == 0 && now.Sub(time.Now()) <= supportAhead {
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
			sent++
			if sent%600 == 0 {
				log.Info("demo workload", "requests_sent", sent, "demo_time", now.UTC().Format(time.RFC3339))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// announce prints a progress line as a scenario starts or ends: for people
// on stderr, and for tools as a log record with the scenario's demo-time
// window (scenario, event, demo_time, wall_time).
func announce(log *slog.Logger, start time.Time, p plannedScenario, what string, i, n int, at time.Time) {
	wall := time.Now().UTC()
	fmt.Fprintf(os.Stderr, "demo: scenario %d/%d %s %s at demo %s (+%s), wall %s; expect one incident, %s first\n",
		i, n, p.Name, what, at.UTC().Format(time.DateTime), at.Sub(start).Round(time.Second), wall.Format(time.TimeOnly), p.Root)
	log.Info("demo scenario", "scenario", p.Name, "event", what, "root", p.Root,
		"demo_time", at.UTC().Format(time.RFC3339Nano), "wall_time", wall.Format(time.RFC3339Nano))
}

// needsSupport: a scenario that sends complaints is playing at now.
func needsSupport(plan []plannedScenario, now time.Time) bool {
	for _, p := range plan {
		if p.Name == "payment-db-latency" && !now.Before(p.from) && now.Before(p.to) {
			return true
		}
	}
	return false
}

// checkDemoFlags refuses unknown or repeated --scenario names before
// anything starts.
func checkDemoFlags(cfg runConfig) error {
	_, _, err := planScenarios(workload.NewShop(1, time.Hour, 1, time.Unix(0, 0)), cfg.scenarios, time.Unix(0, 0), cfg.demoRate)
	return err
}
