package workload

import (
	"fmt"
	"math"
	"time"
)

// Scenario is one scripted incident of the demo shop (firebreak demo
// --scenario NAME). Root is the service where the trouble starts: the
// one an incident should name first among its root-cause candidates.
type Scenario struct {
	Name     string
	Root     string
	About    string        // one line for the demo's progress output
	Duration time.Duration // how long the fault lasts, in demo (event) time
}

// The scenarios, in the order the demo runs them by default. Durations are
// in event time: with --speed N they pass N times faster on the wall clock.
var scenarios = []Scenario{
	{Name: "payment-db-latency", Root: "payment-db", Duration: 8 * time.Minute,
		About: "payment-db latency creeps up, then payment errors, checkout failures and complaints about payment (zh, en)"},
	{Name: "edge-silence", Root: "edge-collector", Duration: 10 * time.Minute,
		About: "the edge collector in front of inventory stops sending; five minutes later inventory's stock data goes stale"},
	{Name: "order-storm", Root: "gateway", Duration: 5 * time.Minute,
		About: "traffic on the gateway 8x its daily peak and more, which it rate-limits (429) so its backends see none of it"},
	{Name: "disk-fill", Root: "inventory", Duration: diskFillDuration,
		About: "inventory-a's disk fills at 0.6 %/min, full about 90 minutes later: DiskWillFill should page an hour or more ahead"},
}

// disk-fill: from about 0.37 used, 0.6 % a minute reaches 90 % after ~88
// minutes; the scenario runs past the breach so the lead time is measured
// against the real crossing, not only the forecast.
const (
	diskFillPerMinute = 0.006
	diskFillDuration  = 92 * time.Minute
)

// Scenarios lists the demo's scenarios in their default order.
func Scenarios() []Scenario { return append([]Scenario(nil), scenarios...) }

// LookupScenario finds a scenario by name.
func LookupScenario(name string) (Scenario, error) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q: want one of %v", name, names)
}

// window is when a scripted fault is active: [from, to).
type window struct{ from, to time.Time }

func (w window) at(now time.Time) (time.Duration, bool) {
	if w.from.IsZero() || now.Before(w.from) || !now.Before(w.to) {
		return 0, false
	}
	return now.Sub(w.from), true
}

// Script schedules scenario name to start at from (event time) and last its
// Duration; afterwards the shop is healthy again. Scripting any scenario
// adds the components the scenarios break to Sample, from the first
// sample on, so their baselines are learnt before the fault.
func (s *Shop) Script(name string, from time.Time) (Scenario, error) {
	sc, err := LookupScenario(name)
	if err != nil {
		return sc, err
	}
	w := window{from, from.Add(sc.Duration)}
	s.components = true
	switch name {
	case "payment-db-latency":
		s.dbLatency = w
	case "edge-silence":
		s.edgeSilence = w
	case "order-storm":
		s.storm = w
	case "disk-fill":
		s.fill = diskFill{instance: "inventory-a", from: from, to: w.to, perMinute: diskFillPerMinute}
	}
	return sc, nil
}

// ramp rises from 0 to 1 over d after start (0 before start).
func ramp(elapsed, start, d time.Duration) float64 {
	if elapsed < start {
		return 0
	}
	return math.Min(1, float64(elapsed-start)/float64(d))
}

// payment-db-latency, as it unfolds: the database's p99 creeps up over
// three minutes; payment's errors follow from 1.5 minutes (its calls time
// out), checkout's from 2.5 minutes (orders fail), complaints from 3.5.
const (
	dbPaymentErrorsAfter  = 90 * time.Second
	dbCheckoutErrorsAfter = 150 * time.Second
	dbComplaintsAfter     = 210 * time.Second
)

// edge-silence: inventory serves stock levels from its cache for five
// minutes after its feed stops; then the data it serves grows stale.
const edgeCacheTime = 5 * time.Minute

// componentSeries are the series of the components behind the shop
// services (payment's database, the edge collector in front of inventory)
// and the scenario-specific series of the services themselves.
func (s *Shop) componentSeries(now time.Time, load float64, add func(name, svc, inst string, v float64)) {
	noise := func(sd float64) float64 { return 1 + sd*s.rng.NormFloat64() }
	// payment-db: one primary; query latency rises with load.
	lat := 0.012 * (1 + 0.5*load) * noise(0.06)
	if d, ok := s.dbLatency.at(now); ok {
		lat *= 1 + 30*ramp(d, 0, 3*time.Minute)
	}
	add("db_query_duration_p99_seconds", "payment-db", "payment-db-a", lat)
	add("db_queries_rate", "payment-db", "payment-db-a", math.Max(0, 400*load*noise(0.05)))

	// edge-collector: forwards warehouse scanner events to inventory; while
	// silent it sends nothing at all.
	if _, silent := s.edgeSilence.at(now); !silent {
		add("edge_forwarded_records_rate", "edge-collector", "edge-collector-a", math.Max(0, 250*load*noise(0.05)))
		add("process_cpu_usage_ratio", "edge-collector", "edge-collector-a", math.Min(1, 0.05+0.3*load*noise(0.05)))
	}
	for i := 0; i < s.Instances; i++ {
		inst := "inventory-" + string(rune('a'+i))
		age := 20 * noise(0.1) // seconds since the newest stock update it got
		if d, ok := s.edgeSilence.at(now); ok && d > edgeCacheTime {
			age += (d - edgeCacheTime).Seconds()
		}
		add("inventory_stock_sync_age_seconds", "inventory", inst, age)
	}
	// gateway: requests it answered 429 itself (its own rate limiter).
	for i := 0; i < s.Instances; i++ {
		inst := "gateway-" + string(rune('a'+i))
		add("http_rate_limited_rate", "gateway", inst, s.gatewayLimited[inst])
	}
}

// stormExtra is the traffic an order storm adds on the gateway, in units
// of its daily peak: 7x the peak within 30 seconds, whatever the time of
// day (a flash sale, a bot), so the gateway's limiter always engages.
func (s *Shop) stormExtra(now time.Time) float64 {
	if d, ok := s.storm.at(now); ok {
		return 7 * ramp(d, 0, 30*time.Second)
	}
	return 0
}

// paymentDBEffect is how far payment-db-latency has spread to svc at now:
// error and latency multipliers.
func (s *Shop) paymentDBEffect(svc string, now time.Time) (errs, latency float64) {
	d, ok := s.dbLatency.at(now)
	if !ok {
		return 1, 1
	}
	switch svc {
	case "payment":
		f := ramp(d, dbPaymentErrorsAfter, 2*time.Minute)
		return 1 + 30*f, 1 + 3*f
	case "checkout":
		f := ramp(d, dbCheckoutErrorsAfter, 2*time.Minute)
		return 1 + 15*f, 1 + 0.5*f
	}
	return 1, 1
}
