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
	outage    time.Time // payment outage from (zero: none)
}

// PaymentOutage scripts an incident: from `from` on, payment's error ratio
// and latency climb, payment logs a new error ("payment gateway timeout"),
// and two minutes later customers complain, in Chinese and English, about
// failed payments (SupportBody).
func (s *Shop) PaymentOutage(from time.Time) { s.outage = from }

// outageAt reports how far into the payment outage now is (false: none).
func (s *Shop) outageAt(now time.Time) (time.Duration, bool) {
	if s.outage.IsZero() || now.Before(s.outage) {
		return 0, false
	}
	return now.Sub(s.outage), true
}

// diskFill is a scripted incident: one instance's disk filling fast.
type diskFill struct {
	instance  string
	from      time.Time
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
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), disk: map[string]float64{}}
}

// SeriesCount is how many series one Sample call returns.
func (s *Shop) SeriesCount() int { return len(shopServices) * s.Instances * 6 }

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
			if d, ok := s.outageAt(now); ok && svc.name == "payment" {
				// Errors climb to ~25× within two minutes; latency doubles.
				f := math.Min(1, d.Minutes()/2)
				errs *= 1 + 24*f
				latency *= 1 + f
			}
			cpu := math.Min(1, 0.08+0.7*load*noise(0.05))
			mem := 512e6 * (1 + 0.3*load) * noise(0.01)
			key := inst
			s.disk[key] += 0.00002 * load
			disk := 0.35 + s.disk[key]
			if f := s.fill; f.instance == inst && now.After(f.from) {
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
	return req
}
