package alerter

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// maxLabelValue bounds a label value an alert carries (a path can be long).
const maxLabelValue = 256

// labels are an alert's identity in Alertmanager: its name, severity,
// service, kind, metric and a bounded, allowlisted subset of the series'
// labels (for a silence, only those describing the source).
func (e *Engine) labels(a *records.Anomaly, name, severity string, sourceOnly bool) map[string]string {
	l := map[string]string{
		"alertname": name,
		"severity":  severity,
		"kind":      a.Kind,
		"metric":    a.Metric,
	}
	if a.Service != "" {
		l["service"] = a.Service
	}
	n := 0
	for _, k := range e.cfg.LabelAllowlist {
		if n >= e.cfg.MaxLabels {
			break
		}
		v := a.Labels[k]
		if v == "" || (sourceOnly && !sourceLabels[k]) || !validLabelName(k) {
			continue
		}
		if _, taken := l[k]; taken {
			continue
		}
		l[k] = clip(v, maxLabelValue)
		n++
	}
	return l
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// subject names what an alert is about: "checkout http_request_duration_seconds
// on 10.0.0.5:8080".
func subject(a *records.Anomaly) string {
	var b strings.Builder
	if a.Service != "" {
		b.WriteString(a.Service)
		b.WriteByte(' ')
	}
	b.WriteString(a.Metric)
	if where := where(a); where != "" {
		b.WriteString(" on ")
		b.WriteString(where)
	}
	return b.String()
}

// where is the most specific place label of a series.
func where(a *records.Anomaly) string {
	for _, k := range []string{"instance", "pod", "host"} {
		if v := a.Labels[k]; v != "" {
			return v
		}
	}
	return ""
}

func (e *Engine) seriesAnnotations(a *records.Anomaly) map[string]string {
	v, x := formatValue(a.Metric, a.Value), formatValue(a.Metric, a.Expected)
	ann := map[string]string{
		"expected": x,
		"actual":   v,
		"score":    strconv.FormatFloat(round(a.Score, 3), 'f', -1, 64),
	}
	at := time.UnixMilli(a.TimeMs).UTC().Format(time.RFC3339)
	band := fmt.Sprintf("%s to %s", formatValue(a.Metric, a.Lower), formatValue(a.Metric, a.Upper))
	if a.Kind == records.KindPredictive {
		breach := time.UnixMilli(a.PredictedBreachMs).UTC()
		ann["predicted_breach_at"] = breach.Format(time.RFC3339)
		ann["threshold"] = formatValue(a.Metric, a.Threshold)
		verb := "rise above"
		if below(a.Op) {
			verb = "fall below"
		}
		ann["summary"] = fmt.Sprintf("%s is forecast to %s %s in %s (at %s); now %s",
			subject(a), verb, formatValue(a.Metric, a.Threshold),
			humanDuration(time.Duration(a.PredictedBreachMs-a.TimeMs)*time.Millisecond),
			breach.Format("2006-01-02 15:04 MST"), v)
		rule := a.Rule
		if rule == "" {
			rule = "predictive rule"
		}
		ann["description"] = fmt.Sprintf("%s: the forecast of %s made at %s crosses %s %s at %s. Value then %s, forecast %s (band %s), confidence %s.",
			rule, seriesText(a), at, opText(a.Op), formatValue(a.Metric, a.Threshold), breach.Format(time.RFC3339), v, x, band, ann["score"])
		return ann
	}
	switch a.Kind {
	case records.KindLogPattern:
		what := map[string]string{"new_template": "logs a message it never logged before",
			"template_surge": "logs a message far more often than usual", "error_surge": "logs errors far more often than usual"}[a.Labels["reason"]]
		if what == "" {
			what = "logs something unusual"
		}
		ann["summary"] = clip(fmt.Sprintf("%s %s: %s", a.Service, what, firstNonEmpty(a.Labels["template"], a.Labels["sample"])), 300)
		ann["description"] = clip(fmt.Sprintf("%s at %s: %s a minute (usually %s). Sample: %s", a.Service, at, v, x, a.Labels["sample"]), 1000)
		ann["template"] = clip(a.Labels["template"], 500)
		return ann
	case records.KindComplaintSurge:
		ann["summary"] = clip(fmt.Sprintf("%s: %s clearly negative customer messages a minute on %s (usually %s)", a.Service, v, a.Labels["channel"], x), 300)
		ann["description"] = clip(fmt.Sprintf("Complaint surge at %s; %s messages that minute, negative share %s. Samples (redacted): %s | %s | %s",
			at, a.Labels["messages"], a.Labels["negative_share"], a.Labels["sample_1"], a.Labels["sample_2"], a.Labels["sample_3"]), 1000)
		return ann
	}
	dir := a.Direction
	if dir == "" {
		dir = "up"
		if a.Value < a.Expected {
			dir = "down"
		}
	}
	ann["direction"] = dir
	ann["summary"] = anomalySummary(a, dir, v, x)
	ann["description"] = fmt.Sprintf("%s at %s: value %s, expected %s (normal band %s), anomaly score %s.",
		seriesText(a), at, v, x, band, ann["score"])
	return ann
}

func anomalySummary(a *records.Anomaly, dir, v, x string) string {
	s := subject(a)
	switch {
	case dir == "up" && a.Expected > 0 && a.Value/a.Expected >= 1.1:
		return fmt.Sprintf("%s is %s above its expected %s (now %s)", s, ratio(a.Value/a.Expected), x, v)
	case dir == "down" && a.Value > 0 && a.Expected/a.Value >= 1.1:
		return fmt.Sprintf("%s is %s below its expected %s (now %s)", s, ratio(a.Expected/a.Value), x, v)
	case dir == "down" && a.Value <= 0 && a.Expected > 0:
		return fmt.Sprintf("%s dropped to %s, expected %s", s, v, x)
	}
	side := "above"
	if dir == "down" {
		side = "below"
	}
	return fmt.Sprintf("%s is %s, %s its expected range %s to %s (expected %s)",
		s, v, side, formatValue(a.Metric, a.Lower), formatValue(a.Metric, a.Upper), x)
}

func ratio(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

func below(op string) bool {
	switch strings.ToLower(strings.TrimSpace(op)) {
	case "<", "<=", "lt", "le", "lte", "below":
		return true
	}
	return false
}

func opText(op string) string {
	if below(op) {
		return "below"
	}
	return "above"
}

// seriesText renders a series with its allowlisted labels:
// http_requests_total{instance="a:1", job="api"} of service checkout.
func seriesText(a *records.Anomaly) string {
	var b strings.Builder
	b.WriteString(a.Metric)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		if k == records.MetricNameLabel || k == "service" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%q", k, clip(a.Labels[k], 64)))
		if len(parts) == 8 {
			parts = append(parts, "…")
			break
		}
	}
	if len(parts) > 0 {
		b.WriteString("{" + strings.Join(parts, ", ") + "}")
	}
	if a.Service != "" {
		b.WriteString(" of service " + a.Service)
	}
	return b.String()
}

func (e *Engine) silenceAnnotations(a *records.Anomaly, set map[uint64]silentSeries) map[string]string {
	who := a.Service
	if who == "" {
		who = a.Metric
	}
	if w := a.Labels["instance"]; w != "" {
		who += " on " + w
	}
	var metrics []string
	var lastMs int64
	for _, id := range slices.Sorted(maps.Keys(set)) {
		s := set[id]
		if !slices.Contains(metrics, s.metric) {
			metrics = append(metrics, s.metric)
		}
		lastMs = max(lastMs, s.lastMs)
	}
	if lastMs == 0 {
		lastMs = a.LastSeenMs
	}
	what := metrics[0]
	if len(set) > 1 {
		list := metrics
		if len(list) > 5 {
			list = append(slices.Clone(list[:5]), "…")
		}
		what = fmt.Sprintf("%d series (%s)", len(set), strings.Join(list, ", "))
	}
	cadence := humanDuration(time.Duration(a.CadenceMs * float64(time.Millisecond)))
	ann := map[string]string{
		"expected":      "a point every " + cadence,
		"score":         strconv.FormatFloat(round(a.Score, 3), 'f', -1, 64),
		"silent_series": strconv.Itoa(len(set)),
	}
	if a.CadenceMs <= 0 {
		ann["expected"] = "points at the series' learned cadence"
	}
	since := "no point yet"
	if lastMs > 0 {
		last := time.UnixMilli(lastMs).UTC()
		ann["last_seen"] = last.Format(time.RFC3339)
		since = "no point since " + last.Format("2006-01-02 15:04:05 MST")
	}
	ann["actual"] = since
	ann["summary"] = fmt.Sprintf("%s stopped sending %s: %s, expected every %s", who, what, since, cadence)
	if a.CadenceMs <= 0 {
		ann["summary"] = fmt.Sprintf("%s stopped sending %s: %s", who, what, since)
	}
	verb := "are"
	if len(set) == 1 {
		verb = "is"
	}
	ann["description"] = fmt.Sprintf("%d series of %s %s silent; the newest silent one is %s, due at %s. Anomaly and predictive alerts of this source are held back until it sends again.",
		len(set), who, verb, seriesText(a), time.UnixMilli(a.TimeMs).UTC().Format(time.RFC3339))
	return ann
}

// generatorURL links the dashboard around the event: an hour before it to
// a quarter after (predictive: past the forecast breach, at most a week).
func (e *Engine) generatorURL(a *records.Anomaly) string {
	if e.cfg.GeneratorURL == "" {
		return ""
	}
	u, err := url.Parse(e.cfg.GeneratorURL)
	if err != nil {
		return ""
	}
	q := u.Query()
	if a.Service != "" {
		q.Set("var-service", a.Service)
	}
	from := a.TimeMs - time.Hour.Milliseconds()
	to := a.TimeMs + 15*time.Minute.Milliseconds()
	if a.Kind == records.KindSilence && a.LastSeenMs > 0 {
		from = min(from, a.LastSeenMs-time.Hour.Milliseconds())
	}
	if a.Kind == records.KindPredictive && a.PredictedBreachMs > a.TimeMs {
		to = min(a.PredictedBreachMs, a.TimeMs+7*24*time.Hour.Milliseconds()) + 15*time.Minute.Milliseconds()
	}
	q.Set("from", strconv.FormatInt(from, 10))
	q.Set("to", strconv.FormatInt(to, 10))
	u.RawQuery = q.Encode()
	return u.String()
}

// formatValue renders a value in the unit its metric name declares
// (Prometheus naming: _seconds, _bytes, _ratio, _percent).
func formatValue(metric string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	m := strings.TrimSuffix(strings.TrimSuffix(metric, "_total"), "_sum")
	switch {
	case hasUnit(m, "seconds"):
		return formatSeconds(v)
	case hasUnit(m, "milliseconds"):
		return formatSeconds(v / 1e3)
	case hasUnit(m, "bytes"):
		return formatBytes(v)
	case hasUnit(m, "ratio"):
		return formatNumber(v*100) + "%"
	case hasUnit(m, "percent"):
		return formatNumber(v) + "%"
	}
	return formatNumber(v)
}

// hasUnit: the unit ends the name or precedes a last word (a p99 or
// quantile suffix: http_request_duration_seconds_p99).
func hasUnit(metric, unit string) bool {
	return strings.HasSuffix(metric, "_"+unit) || strings.Contains(metric, "_"+unit+"_")
}

func formatSeconds(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e-3:
		return formatNumber(v*1e6) + " µs"
	case a < 1:
		return formatNumber(v*1e3) + " ms"
	case a < 60:
		return formatNumber(v) + " s"
	}
	return humanDuration(time.Duration(v * float64(time.Second)))
}

func formatBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return formatNumber(v) + " " + units[i]
}

// formatNumber keeps three significant digits, with k/M/G/T above 10,000.
func formatNumber(v float64) string {
	a := math.Abs(v)
	if a >= 1e4 {
		for _, s := range []struct {
			div  float64
			unit string
		}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
			if a >= s.div {
				return formatNumber(v/s.div) + s.unit
			}
		}
	}
	if a >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(roundSig(v, 3), 'f', -1, 64)
}

func roundSig(v float64, digits int) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// humanDuration: 500ms, 15s, 2m30s, 3h20m, 2d4h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return joinUnits(int64(d/time.Minute), "m", int64(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return joinUnits(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	}
	d = d.Round(time.Hour)
	return joinUnits(int64(d/(24*time.Hour)), "d", int64(d%(24*time.Hour)/time.Hour), "h")
}

func joinUnits(a int64, au string, b int64, bu string) string {
	if b == 0 {
		return strconv.FormatInt(a, 10) + au
	}
	return strconv.FormatInt(a, 10) + au + strconv.FormatInt(b, 10) + bu
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// seriesDesc names one series of a service's anomaly alert:
// "http_error_ratio on payment-a".
func seriesDesc(a *records.Anomaly) string {
	if inst := a.Labels["instance"]; inst != "" {
		return clip(a.Metric+" on "+inst, 200)
	}
	return clip(a.Metric, 200)
}

// maxListed bounds the series and services an annotation lists.
const maxListed = 20

// withMembers lists a service's anomalous series on its alert (series,
// series_count) and says so in the summary when there are several.
func withMembers(ann map[string]string, members map[uint64]member, service string) map[string]string {
	out := maps.Clone(ann)
	descs := make([]string, 0, len(members))
	for _, m := range members {
		if !m.resolved {
			descs = append(descs, m.desc)
		}
	}
	slices.Sort(descs)
	descs = slices.Compact(descs)
	n := len(descs)
	if len(descs) > maxListed {
		descs = append(descs[:maxListed], fmt.Sprintf("… %d more", n-maxListed))
	}
	out["series"] = strings.Join(descs, ", ")
	out["series_count"] = strconv.Itoa(n)
	sum := out["summary"]
	if i := strings.LastIndex(sum, " ("); i >= 0 && strings.HasSuffix(sum, " of "+service+" anomalous)") {
		sum = sum[:i] // the count as of an earlier update
	}
	if n > 1 && sum != "" {
		sum = fmt.Sprintf("%s (%d series of %s anomalous)", sum, n, service)
	}
	out["summary"] = sum
	return out
}

// withDependents lists the services whose events this alert held back
// (Config.Graph): they depend on its service and show trouble too.
func withDependents(ann map[string]string, deps map[string]bool) map[string]string {
	if len(deps) == 0 {
		return ann
	}
	out := maps.Clone(ann)
	list := slices.Sorted(maps.Keys(deps))
	if len(list) > maxListed {
		list = append(list[:maxListed], fmt.Sprintf("… %d more", len(deps)-maxListed))
	}
	out["dependents_affected"] = strings.Join(list, ", ")
	return out
}
