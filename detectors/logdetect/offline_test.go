package logdetect

import (
	"strings"
	"testing"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// run feeds minutes [from, to) of g through o; extra gives a minute's
// extra lines.
func runMinutes(t *testing.T, o *Offline, g *shop, from, to int, extra func(m int) []line) Output {
	t.Helper()
	var all Output
	id := uint64(from) << 32
	for m := from; m < to; m++ {
		var x []line
		if extra != nil {
			x = extra(m)
		}
		for _, e := range g.minute(m, 200, x...) {
			id++
			out, err := o.Observe("checkout", id, &e)
			if err != nil {
				t.Fatal(err)
			}
			all.TemplateIDs = append(all.TemplateIDs, out.TemplateIDs...)
			all.Patterns = append(all.Patterns, out.Patterns...)
			all.Anomalies = append(all.Anomalies, out.Anomalies...)
		}
	}
	return all
}

func byReason(as []*records.Anomaly, reason string) []*records.Anomaly {
	var out []*records.Anomaly
	for _, a := range as {
		if a.Labels["reason"] == reason {
			out = append(out, a)
		}
	}
	return out
}

func TestOfflineNewTemplateAndSurges(t *testing.T) {
	o := NewOffline(Config{})
	g := newShop(1)

	// Warm-up and steady state: no anomaly at all.
	out := runMinutes(t, o, g, 0, 30, nil)
	if len(out.Anomalies) > 0 {
		t.Fatalf("%d anomalies on steady logs, first %+v", len(out.Anomalies), out.Anomalies[0])
	}
	// The miner routes by the first two words: "user <name> ..." is one
	// template per user (8), the other 5 kinds one each.
	if n := o.Templates("checkout"); n != 13 {
		t.Errorf("%d templates for 6 kinds of line", n)
	}
	var lines, counted int64
	lines = int64(len(out.TemplateIDs))
	for _, p := range out.Patterns {
		if p.Kind == records.PatternMinute {
			counted += p.Count
		}
	}
	// Minutes up to 28 are closed (29 is open for late lines).
	if counted == 0 || counted > lines {
		t.Errorf("minute records count %d of %d lines", counted, lines)
	}

	// A new error template: one anomaly, with the template and a sample.
	out = runMinutes(t, o, g, 30, 34, func(m int) []line {
		if m == 30 || m == 32 {
			return repeat(3, g.newError)
		}
		return nil
	})
	news := byReason(out.Anomalies, reasonNewTemplate)
	if len(news) != 1 {
		t.Fatalf("%d new-template anomalies, want 1: %+v", len(news), out.Anomalies)
	}
	a := news[0]
	if a.Kind != records.KindLogPattern || a.Metric != metricTemplate || a.Service != "checkout" || a.Severity != "warning" ||
		!strings.Contains(a.Labels["template"], "connection to database primary refused") ||
		!strings.HasPrefix(a.Labels["sample"], "connection to database primary refused: too many clients (") ||
		a.Labels["log_severity"] != "error" || len(a.Rule) != 16 {
		t.Fatalf("new template anomaly: %+v", a)
	}
	if others := len(out.Anomalies) - len(news); others > 0 {
		t.Fatalf("other anomalies: %+v", out.Anomalies)
	}
	t.Logf("new template: %q sample %q", a.Labels["template"], a.Labels["sample"])

	// A template's rate surges (10x for one minute): one template surge.
	out = runMinutes(t, o, g, 34, 38, func(m int) []line {
		if m == 35 {
			return repeat(300, g.surging)
		}
		return nil
	})
	surges := byReason(out.Anomalies, reasonTemplateSurge)
	if len(surges) != 1 || len(out.Anomalies) != 1 {
		t.Fatalf("template surges %d of %d anomalies, want 1: %+v", len(surges), len(out.Anomalies), out.Anomalies)
	}
	s := surges[0]
	if !strings.HasPrefix(s.Labels["template"], "payment authorized for order") || s.Value < 300 || s.Expected > 60 ||
		s.TimeMs != (g.t0/1e6)+35*minuteMs || s.Labels["sample"] == "" || s.Score < 0.5 {
		t.Fatalf("surge: %+v", s)
	}
	t.Logf("surge: %v lines, expected %.1f, score %.2f", s.Value, s.Expected, s.Score)

	// Warnings surge: an error surge for the service (and its template).
	out = runMinutes(t, o, g, 38, 42, func(m int) []line {
		if m == 39 {
			return repeat(200, func() line {
				return line{13, "WARN", "slow query on table orders took 2000 ms"}
			})
		}
		return nil
	})
	es := byReason(out.Anomalies, reasonErrorSurge)
	if len(es) != 1 || es[0].Metric != metricErrors || !strings.HasPrefix(es[0].Labels["sample"], "slow query") {
		t.Fatalf("error surges: %+v", out.Anomalies)
	}
	if ts := byReason(out.Anomalies, reasonTemplateSurge); len(ts) != 1 || !strings.HasPrefix(ts[0].Labels["template"], "slow query") {
		t.Fatalf("template surge of the warning: %+v", out.Anomalies)
	}
}

// Before its warm-up a service's templates are all new, and none is news.
func TestOfflineWarmupIsQuiet(t *testing.T) {
	o := NewOffline(Config{})
	g := newShop(2)
	out := runMinutes(t, o, g, 0, 3, func(m int) []line { return repeat(5, g.newError) })
	if len(out.Anomalies) != 0 {
		t.Fatalf("anomalies during warm-up: %+v", out.Anomalies)
	}
	news := 0
	for _, p := range out.Patterns {
		if p.Kind == records.PatternNew {
			news++
			if p.Sample == "" || p.FirstSeenMs == 0 || p.Severity == "" {
				t.Errorf("new pattern record: %+v", p)
			}
		}
	}
	if news < 6 {
		t.Errorf("%d new-template records", news)
	}
}

// A one-word variant of a known template (a variable the miner has not
// seen vary enough yet) is recorded but not reported.
func TestOfflineVariantNotReported(t *testing.T) {
	o := NewOffline(Config{WarmupLines: 10, WarmupTime: 1})
	g := newShop(3)
	runMinutes(t, o, g, 0, 12, func(m int) []line {
		return []line{{9, "INFO", "job nightly finished on worker"}}
	})
	out := runMinutes(t, o, g, 12, 13, func(m int) []line {
		return []line{{9, "INFO", "job weekly finished on worker"}, {17, "ERROR", "job nightly failed on worker"}}
	})
	news := byReason(out.Anomalies, reasonNewTemplate)
	if len(news) != 1 || !strings.Contains(news[0].Labels["template"], "failed") {
		t.Fatalf("want only the failing job reported: %+v", out.Anomalies)
	}
}

// Close publishes every open minute, and every line is counted once.
func TestOfflineMinuteCountsAddUp(t *testing.T) {
	o := NewOffline(Config{})
	g := newShop(4)
	out := runMinutes(t, o, g, 0, 20, nil)
	rest, err := o.Close()
	if err != nil {
		t.Fatal(err)
	}
	out.Patterns = append(out.Patterns, rest.Patterns...)
	var counted int64
	seen := map[[2]int64]bool{}
	for _, p := range out.Patterns {
		if p.Kind != records.PatternMinute {
			continue
		}
		k := [2]int64{int64(p.TemplateID), p.TimeMs}
		if seen[k] {
			t.Fatalf("minute published twice: %+v", p)
		}
		seen[k] = true
		counted += p.Count
		if p.Sample == "" || p.Template == "" || p.FirstSeenMs > p.TimeMs+minuteMs {
			t.Fatalf("minute record: %+v", p)
		}
	}
	if counted != int64(len(out.TemplateIDs)) {
		t.Fatalf("minute records count %d lines of %d", counted, len(out.TemplateIDs))
	}
}
