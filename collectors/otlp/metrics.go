package otlp

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/value"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Labels the mapping sets itself. A data-point attribute that would land
// on one of them is kept as exported_<name>, as Prometheus keeps a scraped
// label that collides with a target label.
const (
	labelService  = "service"
	labelInstance = "instance"
	labelLe       = "le"
	labelQuantile = "quantile"
)

// unknownService is what OpenTelemetry SDKs call a service without
// service.name; Firebreak uses it too.
const unknownService = "unknown_service"

var staleNaN = math.Float64frombits(value.StaleNaN)

// metricState is one request's scratch memory, pooled. Series point into
// the label and point arenas until PublishSamples returns.
type metricState struct {
	series []ingest.Series
	labels []records.Label
	points []records.Point
	base   []records.Label // the current resource's labels
	dp     []records.Label // the current data point's labels (base + attributes)
	names  labelNames
	nowMs  int64
}

func (st *metricState) reset() {
	clear(st.series) // drop references to the last request's strings
	st.series = st.series[:0]
	clear(st.labels)
	st.labels = st.labels[:0]
	st.points = st.points[:0]
	st.names.reset()
	st.nowMs = time.Now().UnixMilli()
}

// pooled reports whether the state is small enough to keep for the next
// request: one huge request must not pin its memory.
func (st *metricState) pooled() bool { return cap(st.labels) <= 1<<20 }

// exportMetrics maps md onto series, publishes them and returns once Kafka
// acknowledged. Refused data points are counted in the outcome.
func (c *Collector) exportMetrics(ctx context.Context, md pmetric.Metrics, source string) (outcome, *ingest.HTTPError) {
	st, _ := c.metricStates.Get().(*metricState)
	if st == nil {
		st = &metricState{}
	}
	st.reset()
	defer func() {
		if st.pooled() {
			c.metricStates.Put(st)
		}
	}()

	var res outcome
	namer := otlptranslator.MetricNamer{WithMetricSuffixes: c.cfg.UnitSuffixes}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		reason := c.resourceLabels(st, rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				n := dataPoints(m)
				res.items += n
				if reason != "" {
					res.reject(reason, n)
					continue
				}
				c.convertMetric(st, &namer, m, &res)
			}
		}
	}
	if len(st.series) > 0 {
		n, err := c.pub.PublishSamples(ctx, st.series)
		if err != nil {
			return res, publishError(ctx, err)
		}
		res.accepted = n
	}
	return c.finish(res, source, "samples", "data points")
}

func dataPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// resourceLabels sets st.base from a resource's attributes: service.name →
// service (unknown_service when absent), service.instance.id → instance,
// the promoted attributes → their sanitized names. It returns a rejection
// reason for the resource's data points, or "".
func (c *Collector) resourceLabels(st *metricState, attrs pcommon.Map) (reason string) {
	st.base = st.base[:0]
	service := unknownService
	attrs.Range(func(k string, v pcommon.Value) bool {
		var name string
		switch {
		case k == "service.name":
			if s := v.AsString(); s != "" {
				service = s
			}
			return true
		case k == "service.instance.id":
			name = labelInstance
		case c.promoted(k):
			var ok bool
			if name, ok = st.names.get(k); !ok {
				reason = "invalid_label_name"
				return false
			}
		default:
			return true
		}
		switch name {
		case records.MetricNameLabel, labelService, labelLe, labelQuantile:
			name = "exported_" + name
		}
		val := v.AsString()
		if !utf8.ValidString(val) {
			reason = "invalid_utf8"
			return false
		}
		st.base = addLabel(st.base, 0, name, val)
		return true
	})
	if reason == "" && !utf8.ValidString(service) {
		reason = "invalid_utf8"
	}
	st.base = append(st.base, records.Label{Name: labelService, Value: service})
	return reason
}

// promoted reports whether a resource attribute becomes a metric label.
func (c *Collector) promoted(key string) bool {
	for _, p := range c.cfg.ResourceLabels {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(key, prefix) {
				return true
			}
		} else if key == p {
			return true
		}
	}
	return false
}

// labelNames remembers attribute key → label name across requests.
type labelNames map[string]string

func (ln *labelNames) reset() {
	if *ln == nil || len(*ln) > 4096 { // keys are the senders' choice: stay bounded
		*ln = labelNames{}
	}
}

// get sanitizes an attribute key into a label name as Prometheus' OTLP
// translation does (http.method → http_method, 2xx → key_2xx); false when
// nothing valid is left of it.
func (ln labelNames) get(key string) (string, bool) {
	if n, ok := ln[key]; ok {
		return n, n != ""
	}
	namer := otlptranslator.LabelNamer{}
	n, err := namer.Build(key)
	if err != nil {
		n = ""
	}
	ln[key] = n
	return n, n != ""
}

// addLabel adds name=val to ls, whose labels from index from on are the
// ones being merged: a name already there gets the values joined with ";"
// (two attributes that sanitize alike, as Prometheus joins them); a name
// present before from (a promoted resource attribute) is overridden by the
// data point's value. Empty values are no label, as in Prometheus.
func addLabel(ls []records.Label, from int, name, val string) []records.Label {
	if val == "" {
		return ls
	}
	for i := range ls {
		if ls[i].Name != name {
			continue
		}
		if i >= from {
			ls[i].Value += ";" + val
		} else {
			ls[i].Value = val
		}
		return ls
	}
	return append(ls, records.Label{Name: name, Value: val})
}

// pointLabels sets st.dp to the resource labels plus a data point's
// attributes. It returns a rejection reason or "".
func (st *metricState) pointLabels(attrs pcommon.Map) (reason string) {
	st.dp = append(st.dp[:0], st.base...)
	from := len(st.dp)
	attrs.Range(func(k string, v pcommon.Value) bool {
		name, ok := st.names.get(k)
		if !ok {
			reason = "invalid_label_name"
			return false
		}
		switch name {
		case records.MetricNameLabel, labelService, labelInstance, labelLe, labelQuantile:
			name = "exported_" + name
		}
		val := v.AsString()
		if !utf8.ValidString(val) {
			reason = "invalid_utf8"
			return false
		}
		// A data-point attribute overrides a promoted resource attribute of
		// the same name, but not the mapping's own labels (renamed above).
		st.dp = addLabel(st.dp, from, name, val)
		return true
	})
	return reason
}

// emit appends one series of one point: the data point's labels, __name__
// and an optional extra label (le, quantile).
func (st *metricState) emit(name, extraName, extraValue string, tsMs int64, v float64) {
	start := len(st.labels)
	st.labels = append(st.labels, st.dp...)
	st.labels = append(st.labels, records.Label{Name: records.MetricNameLabel, Value: name})
	if extraName != "" {
		st.labels = append(st.labels, records.Label{Name: extraName, Value: extraValue})
	}
	sortLabels(st.labels[start:]) // so PublishSamples finds them sorted
	st.points = append(st.points, records.Point{TimestampMs: tsMs, Value: v})
	n := len(st.points)
	st.series = append(st.series, ingest.Series{
		Labels: st.labels[start:len(st.labels):len(st.labels)],
		Points: st.points[n-1 : n : n],
	})
}

func (st *metricState) timestampMs(ts pcommon.Timestamp) int64 {
	if ts == 0 || ts > math.MaxInt64 {
		return st.nowMs // a point without a time is a point of now
	}
	return int64(ts) / int64(time.Millisecond)
}

// point prepares one data point: its labels and the label-count check
// (extra is how many labels the mapping adds besides __name__). It returns
// false, having counted the refusal, when the point is refused.
func (c *Collector) point(st *metricState, attrs pcommon.Map, extra int, res *outcome) bool {
	if reason := st.pointLabels(attrs); reason != "" {
		res.reject(reason, 1)
		return false
	}
	if len(st.dp)+1+extra > c.cfg.MaxLabels {
		res.reject("too_many_labels", 1)
		return false
	}
	return true
}

func (c *Collector) convertMetric(st *metricState, namer *otlptranslator.MetricNamer, m pmetric.Metric, res *outcome) {
	n := dataPoints(m)
	if n == 0 {
		return
	}
	if m.Name() == "" {
		res.reject("empty_metric_name", n)
		return
	}
	if !utf8.ValidString(m.Name()) {
		res.reject("invalid_utf8", n)
		return
	}
	var kind otlptranslator.MetricType = otlptranslator.MetricTypeGauge
	total := false
	switch m.Type() {
	case pmetric.MetricTypeSum:
		switch t := m.Sum().AggregationTemporality(); {
		case t == pmetric.AggregationTemporalityUnspecified:
			res.reject("unspecified_temporality", n)
			return
		case t == pmetric.AggregationTemporalityCumulative && m.Sum().IsMonotonic():
			kind, total = otlptranslator.MetricTypeMonotonicCounter, true
		}
	case pmetric.MetricTypeHistogram:
		if m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityUnspecified {
			res.reject("unspecified_temporality", n)
			return
		}
		kind = otlptranslator.MetricTypeHistogram
	case pmetric.MetricTypeExponentialHistogram:
		if m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityUnspecified {
			res.reject("unspecified_temporality", n)
			return
		}
		kind = otlptranslator.MetricTypeExponentialHistogram
	case pmetric.MetricTypeSummary:
		kind = otlptranslator.MetricTypeSummary
	}
	name, err := namer.Build(otlptranslator.Metric{Name: m.Name(), Unit: m.Unit(), Type: kind})
	if err != nil || name == "" {
		res.reject("invalid_metric_name", n)
		return
	}
	if total && !namer.WithMetricSuffixes && !strings.HasSuffix(name, "_total") {
		name += "_total"
	}

	switch m.Type() {
	case pmetric.MetricTypeGauge:
		c.numberPoints(st, name, m.Gauge().DataPoints(), res)
	case pmetric.MetricTypeSum:
		c.numberPoints(st, name, m.Sum().DataPoints(), res)
	case pmetric.MetricTypeHistogram:
		c.histogramPoints(st, name, m.Histogram().DataPoints(), res)
	case pmetric.MetricTypeExponentialHistogram:
		c.expHistogramPoints(st, name, m.ExponentialHistogram().DataPoints(), res)
	case pmetric.MetricTypeSummary:
		c.summaryPoints(st, name, m.Summary().DataPoints(), res)
	}
}

func (c *Collector) numberPoints(st *metricState, name string, dps pmetric.NumberDataPointSlice, res *outcome) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		var v float64
		switch {
		case dp.Flags().NoRecordedValue():
			v = staleNaN
		case dp.ValueType() == pmetric.NumberDataPointValueTypeDouble:
			v = dp.DoubleValue()
		case dp.ValueType() == pmetric.NumberDataPointValueTypeInt:
			v = float64(dp.IntValue())
		default:
			res.reject("missing_value", 1)
			continue
		}
		if !c.point(st, dp.Attributes(), 0, res) {
			continue
		}
		st.emit(name, "", "", st.timestampMs(dp.Timestamp()), v)
	}
}

// formatBound renders an le or quantile value as Prometheus' OTLP
// translation does.
func formatBound(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	if math.IsInf(f, -1) {
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func (c *Collector) histogramPoints(st *metricState, name string, dps pmetric.HistogramDataPointSlice, res *outcome) {
	bucket, sum, count := name+"_bucket", name+"_sum", name+"_count"
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
		if counts.Len() != 0 && counts.Len() != bounds.Len()+1 {
			res.reject("invalid_histogram", 1)
			continue
		}
		if !c.point(st, dp.Attributes(), 1, res) {
			continue
		}
		ts := st.timestampMs(dp.Timestamp())
		stale := dp.Flags().NoRecordedValue()
		val := func(v float64) float64 {
			if stale {
				return staleNaN
			}
			return v
		}
		var cum uint64
		for b := 0; b < bounds.Len() && b < counts.Len(); b++ {
			cum += counts.At(b)
			if !math.IsInf(bounds.At(b), 1) { // the +Inf bucket is the count, below
				st.emit(bucket, labelLe, formatBound(bounds.At(b)), ts, val(float64(cum)))
			}
		}
		st.emit(bucket, labelLe, "+Inf", ts, val(float64(dp.Count())))
		if dp.HasSum() || stale {
			st.emit(sum, "", "", ts, val(dp.Sum()))
		}
		st.emit(count, "", "", ts, val(float64(dp.Count())))
	}
}

func (c *Collector) summaryPoints(st *metricState, name string, dps pmetric.SummaryDataPointSlice, res *outcome) {
	sum, count := name+"_sum", name+"_count"
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if !c.point(st, dp.Attributes(), 1, res) {
			continue
		}
		ts := st.timestampMs(dp.Timestamp())
		stale := dp.Flags().NoRecordedValue()
		qs := dp.QuantileValues()
		for q := 0; q < qs.Len(); q++ {
			v := qs.At(q).Value()
			if stale {
				v = staleNaN
			}
			st.emit(name, labelQuantile, formatBound(qs.At(q).Quantile()), ts, v)
		}
		s, n := dp.Sum(), float64(dp.Count())
		if stale {
			s, n = staleNaN, staleNaN
		}
		st.emit(sum, "", "", ts, s)
		st.emit(count, "", "", ts, n)
	}
}

// expHistogramPoints converts exponential histograms to classic le
// buckets. Buckets are first merged down to the configured scale, so le
// values come from one fixed grid (powers of 2^(2^-scale)) whatever scale
// the sender used. Each bucket's observations count at its upper bound
// (the classic histogram's own approximation); only buckets holding
// observations get an le series, plus +Inf.
func (c *Collector) expHistogramPoints(st *metricState, name string, dps pmetric.ExponentialHistogramDataPointSlice, res *outcome) {
	bucket, sum, count := name+"_bucket", name+"_sum", name+"_count"
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if dp.Scale() < minExpScale || dp.Scale() > maxExpScale {
			res.reject("invalid_histogram", 1)
			continue
		}
		if !c.point(st, dp.Attributes(), 1, res) {
			continue
		}
		ts := st.timestampMs(dp.Timestamp())
		if dp.Flags().NoRecordedValue() {
			st.emit(bucket, labelLe, "+Inf", ts, staleNaN)
			st.emit(sum, "", "", ts, staleNaN)
			st.emit(count, "", "", ts, staleNaN)
			continue
		}
		scale := min(dp.Scale(), c.expScale)
		shift := uint(dp.Scale() - scale)
		var cum uint64

		// Negative buckets, most negative first. Bucket j (at scale) holds
		// values in [-base^(j+1), -base^j): its upper bound is -base^j.
		neg := dp.Negative()
		nc := neg.BucketCounts()
		for k := nc.Len() - 1; k >= 0; {
			j := (int64(neg.Offset()) + int64(k)) >> shift
			var n uint64
			for ; k >= 0 && (int64(neg.Offset())+int64(k))>>shift == j; k-- {
				n += nc.At(k)
			}
			if n > 0 {
				cum += n
				st.emit(bucket, labelLe, formatBound(-expBound(scale, j)), ts, float64(cum))
			}
		}
		if z := dp.ZeroCount(); z > 0 {
			cum += z
			st.emit(bucket, labelLe, formatBound(dp.ZeroThreshold()), ts, float64(cum))
		}
		// Positive buckets: bucket j holds (base^j, base^(j+1)].
		pos := dp.Positive()
		pc := pos.BucketCounts()
		for k := 0; k < pc.Len(); {
			j := (int64(pos.Offset()) + int64(k)) >> shift
			var n uint64
			for ; k < pc.Len() && (int64(pos.Offset())+int64(k))>>shift == j; k++ {
				n += pc.At(k)
			}
			if bound := expBound(scale, j+1); n > 0 && !math.IsInf(bound, 1) {
				cum += n
				st.emit(bucket, labelLe, formatBound(bound), ts, float64(cum))
			}
		}
		st.emit(bucket, labelLe, "+Inf", ts, float64(dp.Count()))
		if dp.HasSum() {
			st.emit(sum, "", "", ts, dp.Sum())
		}
		st.emit(count, "", "", ts, float64(dp.Count()))
	}
}

// The scales OTLP allows for exponential histograms.
const (
	minExpScale = -10
	maxExpScale = 20
)

// expBound is base^index for an exponential histogram of the given scale,
// base = 2^(2^-scale).
func expBound(scale int32, index int64) float64 {
	if scale <= 0 {
		return math.Ldexp(1, int(index<<uint(-scale)))
	}
	per := int64(1) << uint(scale)
	if index%per == 0 {
		return math.Ldexp(1, int(index/per))
	}
	return math.Exp2(float64(index) / float64(per))
}
