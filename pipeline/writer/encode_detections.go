package writer

import (
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// bandsEncoder fills the bands table from BandBatch records (one row per
// scored point, metrics volume): it appends to reused columns and allocates
// only for a metric name it has not seen.
type bandsEncoder struct {
	metricName []string
	seriesID   []uint64
	timeMs     []int64
	value      []float64
	expected   []float64
	lower      []float64
	upper      []float64
	// score is a float32 on the topic, stored exactly as Float64.
	score    []float64
	learning []uint8

	names   map[string]string // interned metric names
	curID   uint64
	curName string
}

func newBandsEncoder() *bandsEncoder { return &bandsEncoder{names: map[string]string{}} }

// Add decodes in one pass and, if the record turns out malformed part way,
// drops the rows it had appended for it.
func (e *bandsEncoder) Add(value []byte) error {
	n := len(e.seriesID)
	if err := records.DecodeBands(value, e); err != nil {
		e.truncate(n)
		return err
	}
	return nil
}

// BandSeries implements records.BandVisitor.
func (e *bandsEncoder) BandSeries(id uint64, metric []byte) error {
	name, ok := e.names[string(metric)]
	if !ok {
		name = string(metric)
		if len(e.names) >= 100_000 {
			clear(e.names)
		}
		e.names[name] = name
	}
	e.curID, e.curName = id, name
	return nil
}

// Band implements records.BandVisitor.
func (e *bandsEncoder) Band(b records.Band) {
	e.metricName = append(e.metricName, e.curName)
	e.seriesID = append(e.seriesID, e.curID)
	e.timeMs = append(e.timeMs, b.TimestampMs)
	e.value = append(e.value, b.Value)
	e.expected = append(e.expected, b.Expected)
	e.lower = append(e.lower, b.Lower)
	e.upper = append(e.upper, b.Upper)
	e.score = append(e.score, float64(b.Score))
	var l uint8
	if b.Learning {
		l = 1
	}
	e.learning = append(e.learning, l)
}

func (e *bandsEncoder) truncate(n int) {
	clear(e.metricName[n:]) // no references to names past the end
	e.metricName = e.metricName[:n]
	e.seriesID, e.timeMs = e.seriesID[:n], e.timeMs[:n]
	e.value, e.expected, e.lower, e.upper = e.value[:n], e.expected[:n], e.lower[:n], e.upper[:n]
	e.score, e.learning = e.score[:n], e.learning[:n]
}

func (e *bandsEncoder) Rows() int { return len(e.seriesID) }

func (e *bandsEncoder) Blocks() []*store.Block {
	if len(e.seriesID) == 0 {
		return nil
	}
	return []*store.Block{{Table: "bands", Columns: []store.ColumnData{
		{Name: "metric_name", Type: "LowCardinality(String)", Data: e.metricName},
		{Name: "series_id", Type: "UInt64", Data: e.seriesID},
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "value", Type: "Float64", Data: e.value},
		{Name: "expected", Type: "Float64", Data: e.expected},
		{Name: "lower", Type: "Float64", Data: e.lower},
		{Name: "upper", Type: "Float64", Data: e.upper},
		{Name: "score", Type: "Float64", Data: e.score},
		{Name: "learning", Type: "UInt8", Data: e.learning},
	}}}
}

func (e *bandsEncoder) Reset() { e.truncate(0) }

// anomaliesEncoder fills the anomalies table. Anomaly records are JSON and
// few (tens a second), so it keeps the decoded values as they come.
type anomaliesEncoder struct {
	timeMs     []int64
	kind       []string
	state      []string
	seriesID   []uint64
	metricName []string
	service    []string
	labels     []map[string]string
	value      []float64
	expected   []float64
	lower      []float64
	upper      []float64
	score      []float64
	direction  []string
	rule       []string
	severity   []string
	op         []string
	threshold  []float64
	breachMs   []int64 // 0: no predicted breach
	lastSeenMs []int64 // 0: not a silence
	cadenceMs  []float64
}

func (e *anomaliesEncoder) Add(value []byte) error {
	a, err := records.DecodeAnomaly(value)
	if err != nil {
		return err
	}
	e.timeMs = append(e.timeMs, a.TimeMs)
	e.kind = append(e.kind, a.Kind)
	e.state = append(e.state, a.State)
	e.seriesID = append(e.seriesID, a.SeriesID)
	e.metricName = append(e.metricName, a.Metric)
	e.service = append(e.service, a.Service)
	e.labels = append(e.labels, a.Labels)
	e.value = append(e.value, a.Value)
	e.expected = append(e.expected, a.Expected)
	e.lower = append(e.lower, a.Lower)
	e.upper = append(e.upper, a.Upper)
	e.score = append(e.score, a.Score)
	e.direction = append(e.direction, a.Direction)
	e.rule = append(e.rule, a.Rule)
	e.severity = append(e.severity, a.Severity)
	e.op = append(e.op, a.Op)
	e.threshold = append(e.threshold, a.Threshold)
	e.breachMs = append(e.breachMs, a.PredictedBreachMs)
	e.lastSeenMs = append(e.lastSeenMs, a.LastSeenMs)
	e.cadenceMs = append(e.cadenceMs, a.CadenceMs)
	return nil
}

func (e *anomaliesEncoder) Rows() int { return len(e.timeMs) }

func (e *anomaliesEncoder) Blocks() []*store.Block {
	if len(e.timeMs) == 0 {
		return nil
	}
	return []*store.Block{{Table: "anomalies", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "kind", Type: "LowCardinality(String)", Data: e.kind},
		{Name: "state", Type: "LowCardinality(String)", Data: e.state},
		{Name: "series_id", Type: "UInt64", Data: e.seriesID},
		{Name: "metric_name", Type: "LowCardinality(String)", Data: e.metricName},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: e.labels},
		{Name: "value", Type: "Float64", Data: e.value},
		{Name: "expected", Type: "Float64", Data: e.expected},
		{Name: "lower", Type: "Float64", Data: e.lower},
		{Name: "upper", Type: "Float64", Data: e.upper},
		{Name: "score", Type: "Float64", Data: e.score},
		{Name: "direction", Type: "LowCardinality(String)", Data: e.direction},
		{Name: "rule", Type: "LowCardinality(String)", Data: e.rule},
		{Name: "severity", Type: "LowCardinality(String)", Data: e.severity},
		{Name: "op", Type: "LowCardinality(String)", Data: e.op},
		{Name: "threshold", Type: "Float64", Data: e.threshold},
		{Name: "predicted_breach_at", Type: "DateTime64(3, 'UTC')", Data: e.breachMs},
		{Name: "last_seen", Type: "DateTime64(3, 'UTC')", Data: e.lastSeenMs},
		{Name: "cadence_ms", Type: "Float64", Data: e.cadenceMs},
	}}}
}

func (e *anomaliesEncoder) Reset() { *e = anomaliesEncoder{} }

// alertsEncoder fills the alerts table: one row per alert transition.
type alertsEncoder struct {
	timeMs       []int64
	fingerprint  []string
	alertname    []string
	kind         []string
	severity     []string
	service      []string
	state        []string
	startsMs     []int64
	endsMs       []int64 // 0 while firing
	labels       []map[string]string
	annotations  []map[string]string
	generatorURL []string
}

func (e *alertsEncoder) Add(value []byte) error {
	a, err := records.DecodeAlertEvent(value)
	if err != nil {
		return err
	}
	e.timeMs = append(e.timeMs, a.TimeMs)
	e.fingerprint = append(e.fingerprint, a.Fingerprint)
	e.alertname = append(e.alertname, a.Name)
	e.kind = append(e.kind, a.Kind)
	e.severity = append(e.severity, a.Severity)
	e.service = append(e.service, a.Service)
	e.state = append(e.state, a.State)
	e.startsMs = append(e.startsMs, a.StartsAtMs)
	e.endsMs = append(e.endsMs, a.EndsAtMs)
	e.labels = append(e.labels, a.Labels)
	e.annotations = append(e.annotations, a.Annotations)
	e.generatorURL = append(e.generatorURL, a.GeneratorURL)
	return nil
}

func (e *alertsEncoder) Rows() int { return len(e.timeMs) }

func (e *alertsEncoder) Blocks() []*store.Block {
	if len(e.timeMs) == 0 {
		return nil
	}
	return []*store.Block{{Table: "alerts", Columns: []store.ColumnData{
		{Name: "time", Type: "DateTime64(3, 'UTC')", Data: e.timeMs},
		{Name: "fingerprint", Type: "String", Data: e.fingerprint},
		{Name: "alertname", Type: "LowCardinality(String)", Data: e.alertname},
		{Name: "kind", Type: "LowCardinality(String)", Data: e.kind},
		{Name: "severity", Type: "LowCardinality(String)", Data: e.severity},
		{Name: "service", Type: "LowCardinality(String)", Data: e.service},
		{Name: "state", Type: "LowCardinality(String)", Data: e.state},
		{Name: "starts_at", Type: "DateTime64(3, 'UTC')", Data: e.startsMs},
		{Name: "ends_at", Type: "DateTime64(3, 'UTC')", Data: e.endsMs},
		{Name: "labels", Type: "Map(LowCardinality(String), String)", Data: e.labels},
		{Name: "annotations", Type: "Map(LowCardinality(String), String)", Data: e.annotations},
		{Name: "generator_url", Type: "String", Data: e.generatorURL},
	}}}
}

func (e *alertsEncoder) Reset() { *e = alertsEncoder{} }
