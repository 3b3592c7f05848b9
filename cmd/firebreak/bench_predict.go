package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/detect"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// predictScenario is a generated series: the value at minute m of a run.
// Breaching scenarios cross their rule's threshold; the others never do
// and any predictive alert on them is false.
type predictScenario struct {
	name     string
	metric   string
	breaches bool
	value    func(rng *rand.Rand, m int) float64
}

// predictScenarios: one week of one-minute points each, with noise and a
// daily cycle where real series have one. Trends start on day 3, after
// the baselines have learned (as in a live system).
func predictScenarios() []predictScenario {
	day := func(m int) float64 { return math.Sin(2 * math.Pi * float64(m) / 1440) }
	after := func(m, start int) float64 { return math.Max(0, float64(m-start)) }
	const start = 3 * 1440
	return []predictScenario{
		{"disk filling 2 %/h", "disk_used_ratio", true, func(r *rand.Rand, m int) float64 {
			return math.Min(1, 0.45+0.003*r.NormFloat64()+0.02*after(m, start)/60)
		}},
		{"disk filling 0.5 %/h", "disk_used_ratio", true, func(r *rand.Rand, m int) float64 {
			return math.Min(1, 0.55+0.003*r.NormFloat64()+0.005*after(m, start)/60)
		}},
		{"memory leak 50 MB/h", "process_resident_memory_bytes", true, func(r *rand.Rand, m int) float64 {
			return 1.2e9 + 5e7*day(m) + 1e7*r.NormFloat64() + 5e7*after(m, start)/60
		}},
		{"error ratio creeping", "http_error_ratio", true, func(r *rand.Rand, m int) float64 {
			return math.Max(0, 0.002*(1+0.2*r.NormFloat64())*math.Exp(after(m, start)/600))
		}},
		{"latency p99 creeping", "http_request_duration_p99_seconds", true, func(r *rand.Rand, m int) float64 {
			return (0.18 + 0.04*day(m)) * (1 + 0.05*r.NormFloat64()) * (1 + after(m, start)/240)
		}},
		{"disk flat, noisy", "disk_used_ratio", false, func(r *rand.Rand, m int) float64 {
			return 0.7 + 0.02*r.NormFloat64()
		}},
		{"disk hourly log rotation 0.5-0.8", "disk_used_ratio", false, func(r *rand.Rand, m int) float64 {
			return 0.5 + 0.3*float64(m%60)/60 + 0.002*r.NormFloat64()
		}},
		{"disk 6-hourly rotation 0.5-0.8", "disk_used_ratio", false, func(r *rand.Rand, m int) float64 {
			return 0.5 + 0.3*float64(m%360)/360 + 0.002*r.NormFloat64()
		}},
		{"memory daily cycle", "process_resident_memory_bytes", false, func(r *rand.Rand, m int) float64 {
			return 1.2e9 + 3e8*day(m) + 1e7*r.NormFloat64()
		}},
		{"latency daily cycle to 0.4 s", "http_request_duration_p99_seconds", false, func(r *rand.Rand, m int) float64 {
			return (0.25 + 0.15*day(m)) * (1 + 0.03*r.NormFloat64())
		}},
		{"error ratio bursts below 1 %", "http_error_ratio", false, func(r *rand.Rand, m int) float64 {
			v := 0.002 * (1 + 0.3*r.NormFloat64())
			if m%500 < 10 {
				v += 0.004
			}
			return math.Max(0, v)
		}},
	}
}

// benchPredictRules are the built-in rules plus one for memory (no
// built-in threshold fits every process).
const benchPredictRules = `
rules:
  - name: MemoryWillExhaust
    selector: process_resident_memory_bytes
    op: '>'
    threshold: 2e9
    horizon: 6h
    severity: critical
`

type predictResult struct {
	Seeds     int                    `json:"seeds"`
	Scenarios []predictScenarioStats `json:"scenarios"`
	// FalsePerSeriesWeek: predictive alerts on series that never breach,
	// per series and week.
	FalsePerSeriesWeek float64 `json:"false_alerts_per_series_week"`
	MedianLeadMinutes  float64 `json:"median_lead_minutes"`
}

type predictScenarioStats struct {
	Name     string `json:"name"`
	Rule     string `json:"rule"`
	Breaches bool   `json:"breaches"`
	Runs     int    `json:"runs"`
	// Breaching: runs alerted before the breach, lead times (minutes).
	Predicted      int     `json:"predicted"`
	LeadMinMinutes float64 `json:"lead_min_minutes"`
	LeadMedMinutes float64 `json:"lead_median_minutes"`
	// BreachErrMedMinutes: |predicted - actual breach| at the first alert.
	BreachErrMedMinutes float64 `json:"breach_error_median_minutes"`
	// Never breaching: runs with at least one predictive alert.
	FalseAlerts int `json:"false_alerts"`
}

func cmdBenchPredict(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("bench predict", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak bench predict: lead time of predictive alerts on generated series that trend to a threshold, and false predictive alerts on series that never breach (same detector code as the service).")
	seeds := fs.Int("seeds", 5, "runs (random seeds) per scenario")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	extra, err := forecast.ParseRules([]byte(benchPredictRules))
	if err != nil {
		return err
	}
	rules := append(forecast.DefaultRules(), extra...)
	res := runPredictBench(rules, *seeds, os.Stderr)
	writeBenchResult(res, *jsonOut)
	return nil
}

func runPredictBench(rules []*forecast.Rule, seeds int, progress io.Writer) *predictResult {
	const minutes = 7 * 1440
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) // a Monday
	res := &predictResult{Seeds: seeds}
	var allLeads []float64
	falseRuns, falseWeeks := 0, 0
	for _, sc := range predictScenarios() {
		st := predictScenarioStats{Name: sc.name, Breaches: sc.breaches, Runs: seeds}
		var leads, errs []float64
		for seed := 0; seed < seeds; seed++ {
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			off := detect.NewOffline(detect.Config{Rules: rules})
			labels := []records.Label{{Name: "__name__", Value: sc.metric}, {Name: "instance", Value: "bench"}}
			var firstAlert, predictedBreach, breach int64
			var rule string
			for m := 0; m < minutes; m++ {
				ts := t0.Add(time.Duration(m) * time.Minute).UnixMilli()
				v := sc.value(rng, m)
				events, _ := off.Observe(labels, ts, v)
				for _, a := range events {
					if a.Kind == records.KindPredictive && a.State == records.StateOpen && firstAlert == 0 {
						firstAlert, predictedBreach, rule = ts, a.PredictedBreachMs, a.Rule
					}
				}
				if sc.breaches && anyRuleBreached(rules, sc.metric, v) {
					breach = ts
					break
				}
			}
			st.Rule = rule
			switch {
			case sc.breaches && firstAlert != 0 && firstAlert <= breach:
				st.Predicted++
				lead := float64(breach-firstAlert) / 60_000
				leads = append(leads, lead)
				allLeads = append(allLeads, lead)
				errs = append(errs, math.Abs(float64(predictedBreach-breach))/60_000)
			case !sc.breaches:
				falseWeeks++
				if firstAlert != 0 {
					st.FalseAlerts++
					falseRuns++
				}
			}
		}
		if len(leads) > 0 {
			st.LeadMinMinutes = slices.Min(leads)
			st.LeadMedMinutes = median(leads)
			st.BreachErrMedMinutes = median(errs)
		}
		fmt.Fprintf(progress, "bench predict: %-36s done\n", sc.name)
		res.Scenarios = append(res.Scenarios, st)
	}
	if falseWeeks > 0 {
		res.FalsePerSeriesWeek = float64(falseRuns) / float64(falseWeeks)
	}
	res.MedianLeadMinutes = median(allLeads)
	return res
}

// anyRuleBreached: a rule of this metric is breached (selector = name).
func anyRuleBreached(rules []*forecast.Rule, metric string, v float64) bool {
	for _, r := range rules {
		if r.Matches(func(n string) string {
			if n == records.MetricNameLabel {
				return metric
			}
			return ""
		}) && r.Breached(v) {
			return true
		}
	}
	return false
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r *predictResult) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\trule\tpredicted\tlead min\tlead median\tbreach error median\tfalse alerts\n")
	for _, s := range r.Scenarios {
		if s.Breaches {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0f min\t%.0f min\t%.0f min\t\n", s.Name, s.Rule, s.Predicted, s.Runs,
				s.LeadMinMinutes, s.LeadMedMinutes, s.BreachErrMedMinutes)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%d/%d weeks\n", s.Name, s.Rule, s.FalseAlerts, s.Runs)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "median lead time %.0f min; false predictive alerts %.2f per series-week (%d seeds)\n",
		r.MedianLeadMinutes, r.FalsePerSeriesWeek, r.Seeds)
}
