// Package workload generates realistic traffic for demos and benchmarks: the
// metrics of a small online shop, and a remote_write sender that behaves like
// Prometheus' (retries on 5xx and 429, gives up on other 4xx).
package workload

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// Shop simulates gateway, checkout, payment, inventory and delivery, each
// with several instances: request rate with a daily cycle compressed into
// Day, latency p99 that rises with load, an error ratio, CPU, memory and
// disk that slowly fills.
type Shop struct {
	Instances int
	Day       time.Duration // wall-clock length of one simulated day
	Region    string
	start     time.Time
	rng       *rand.Rand
	disk      map[string]float64
	fill      diskFill
	// Scripted scenarios (Script): when each fault is active.
	dbLatency, edgeSilence, storm window
	// components: the scenario series (payment-db, edge-collector, the
	// gateway's own 429s, inventory's stock sync age) are part of Sample.
	components     bool
	gatewayLimited map[string]float64 // instance → requests/s it answered 429, this sample
}

// diskFill is a scripted incident: one instance's disk filling fast.
type diskFill struct {
	instance  string
	from, to  time.Time // to: the disk is cleaned up (zero: never)
	perMinute float64
}

// FillDisk scripts an incident: from `from` on, instance's disk_used_ratio
// grows by perMinute each minute until the disk is full (0.99).
func (s *Shop) FillDisk(instance string, from time.Time, perMinute float64) {
	s.fill = diskFill{instance: instance, from: from, perMinute: perMinute}
}

// service is one shop service's character.
type service struct {
	name        string
	peakRPS     float64
	baseLatency float64 // seconds
	errRatio    float64
}

var shopServices = []service{
	{"gateway", 900, 0.040, 0.002},
	{"checkout", 120, 0.180, 0.004},
	{"payment", 80, 0.250, 0.003},
	{"inventory", 300, 0.030, 0.001},
	{"delivery", 60, 0.120, 0.002},
}

// Services lists the simulated services.
func Services() []string {
	out := make([]string, len(shopServices))
	for i, s := range shopServices {
		out[i] = s.name
	}
	return out
}

// NewShop starts a shop whose simulated day begins at start.
func NewShop(instances int, day time.Duration, seed uint64, start time.Time) *Shop {
	if instances < 1 {
		instances = 1
	}
	if day <= 0 {
		day = 24 * time.Hour
	}
	return &Shop{Instances: instances, Day: day, Region: "eu-west", start: start,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), disk: map[string]float64{},
		gatewayLimited: map[string]float64{}}
}

// SeriesCount is how many series one Sample call returns (at most: a
// silent edge collector sends none of its own).
func (s *Shop) SeriesCount() int {
	n := len(shopServices) * s.Instances * 6
	if s.components {
		n += 4 + 2*s.Instances
	}
	return n
}

// Sample returns one point of every series at time now.
func (s *Shop) Sample(now time.Time) *prompb.WriteRequest {
	// Load follows the day: low at night, peaks mid-afternoon (phase 0.6).
	phase := math.Mod(now.Sub(s.start).Seconds()/s.Day.Seconds(), 1)
	load := 0.55 + 0.45*math.Sin(2*math.Pi*(phase-0.35))
	ts := now.UnixMilli()
	req := &prompb.WriteRequest{}
	for _, svc := range shopServices {
		for i := 0; i < s.Instances; i++ {
			inst := svc.name + "-" + string(rune('a'+i))
			noise := func(sd float64) float64 { return 1 + sd*s.rng.NormFloat64() }
			rps := math.Max(0, svc.peakRPS/float64(s.Instances)*load*noise(0.05))
			latency := svc.baseLatency * (1 + 0.8*load*load) * noise(0.08)
			errs := math.Max(0, svc.errRatio*noise(0.3))
			errF, latF := s.paymentDBEffect(svc.name, now)
			errs, latency = errs*errF, latency*latF
			cpu := math.Min(1, 0.08+0.7*load*noise(0.05))
			if svc.name == "gateway" {
				// The gateway answers 429 beyond 1.5x its peak (a few bots
				// are always limited); the rest goes to its backends, which
				// therefore see no storm. Load past the limit still costs
				// the gateway CPU and latency.
				offered := rps + s.stormExtra(now)*svc.peakRPS/float64(s.Instances)
				capacity := 1.5 * svc.peakRPS / float64(s.Instances)
				limited := 0.002*offered*noise(0.3) + math.Max(0, offered-capacity)
				s.gatewayLimited[inst] = math.Max(0, limited)
				if offered > rps {
					latency *= 1.5
					cpu = math.Min(1, cpu*1.6)
				}
				rps = offered
			}
			mem := 512e6 * (1 + 0.3*load) * noise(0.01)
			key := inst
			s.disk[key] += 0.00002 * load
			disk := 0.35 + s.disk[key]
			if f := s.fill; f.instance == inst && now.After(f.from) && (f.to.IsZero() || now.Before(f.to)) {
				disk += f.perMinute * now.Sub(f.from).Minutes()
			}
			disk = math.Min(0.99, disk)
			for _, m := range []struct {
				name string
				v    float64
			}{
				{"http_request_rate", rps},
				{"http_request_duration_p99_seconds", latency},
				{"http_error_ratio", errs},
				{"process_cpu_usage_ratio", cpu},
				{"process_resident_memory_bytes", mem},
				{"disk_used_ratio", disk},
			} {
				req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
					Labels: []prompb.Label{
						{Name: "__name__", Value: m.name},
						{Name: "instance", Value: inst},
						{Name: "job", Value: "shop"},
						{Name: "region", Value: s.Region},
						{Name: "service", Value: svc.name},
					},
					Samples: []prompb.Sample{{Value: m.v, Timestamp: ts}},
				})
			}
		}
	}
	if s.components {
		s.componentSeries(now, load, func(name, svc, inst string, v float64) {
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
				Labels: []prompb.Label{
					{Name: "__name__", Value: name},
					{Name: "instance", Value: inst},
					{Name: "job", Value: "shop"},
					{Name: "region", Value: s.Region},
					{Name: "service", Value: svc},
				},
				Samples: []prompb.Sample{{Value: v, Timestamp: ts}},
			})
		})
	}
	return req
}
