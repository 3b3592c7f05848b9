package records

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Topics the detectors and the alerter publish; the writer stores each in
// its table (bands, anomalies, alerts). The detector-state topic is
// compacted and read only by detectors.
const (
	// TopicBands carries BandBatch records: for every scored point, the
	// baseline's expected value, band and anomaly score. Keyed like
	// firebreak.metrics (same partition as the series).
	TopicBands = "firebreak.bands"
	// TopicAnomalies carries Anomaly records (JSON). One partition: the
	// alerter is one active consumer that must see every service.
	TopicAnomalies = "firebreak.anomalies"
	// TopicAlerts carries AlertEvent records (JSON): every alert's firing
	// and resolution, as sent to Alertmanager.
	TopicAlerts = "firebreak.alerts"
	// TopicDetectorState is the compacted topic of detector checkpoints
	// (series state and the offsets it reflects).
	TopicDetectorState = "firebreak.detector-state"
)

// DetectionTopics are the detector outputs the writer stores.
var DetectionTopics = []string{TopicBands, TopicAnomalies, TopicAlerts}

// Anomaly kinds.
const (
	KindAnomaly    = "anomaly"    // a value the baseline did not expect
	KindSilence    = "silence"    // a series stopped arriving at its learned cadence
	KindPredictive = "predictive" // a forecast crosses a rule's threshold within its horizon
	// KindLogPattern: a new log template in a service, a template's rate
	// leaving its baseline, or an error/warn surge.
	KindLogPattern = "log_pattern"
	// KindComplaintSurge: support messages of a service and channel
	// arriving far above their baseline, or turning negative.
	KindComplaintSurge = "complaint_surge"
)

// Anomaly states: an event is either part of an open problem or the end of
// one (the series is back to normal, arrives again, or its forecast no
// longer breaches).
const (
	StateOpen     = "open"
	StateResolved = "resolved"
)

// anomalyVersion is the "v" of Anomaly and AlertEvent records. These
// topics carry tens of records a second: JSON keeps them readable with kcat.
const anomalyVersion = 1

// Anomaly is one detector finding for one series at one event time.
type Anomaly struct {
	Version  int               `json:"v"`
	Kind     string            `json:"kind"`  // anomaly, silence, predictive
	State    string            `json:"state"` // open, resolved
	SeriesID uint64            `json:"series_id"`
	Metric   string            `json:"metric"`
	Service  string            `json:"service,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// TimeMs is the event time of the point (silence: when the series was
	// due; predictive: the point the forecast was made from).
	TimeMs   int64   `json:"time_ms"`
	Value    float64 `json:"value"`
	Expected float64 `json:"expected"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	// Score in [0, 1].
	Score     float64 `json:"score"`
	Direction string  `json:"direction,omitempty"` // up, down
	// Predictive: the rule, its threshold and when the forecast crosses it.
	Rule              string  `json:"rule,omitempty"`
	Severity          string  `json:"severity,omitempty"`
	Op                string  `json:"op,omitempty"`
	Threshold         float64 `json:"threshold,omitempty"`
	PredictedBreachMs int64   `json:"predicted_breach_ms,omitempty"`
	// LastSeenMs (silence) is the newest point's time; CadenceMs the
	// learned interval it was expected at.
	LastSeenMs int64   `json:"last_seen_ms,omitempty"`
	CadenceMs  float64 `json:"cadence_ms,omitempty"`
}

// Key places every anomaly in the single partition of the anomalies topic
// while keeping a series' events adjacent for kcat readers.
func (a *Anomaly) Key() []byte { return appendKey(nil, a.SeriesID) }

// EncodeAnomaly renders a record value. Non-finite numbers become 0 (JSON
// has no NaN): a NaN sample's anomaly still travels.
func EncodeAnomaly(a *Anomaly) ([]byte, error) {
	a.Version = anomalyVersion
	for _, f := range []*float64{&a.Value, &a.Expected, &a.Lower, &a.Upper, &a.Score, &a.Threshold, &a.CadenceMs} {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
	return json.Marshal(a)
}

// DecodeAnomaly parses and validates a record value.
func DecodeAnomaly(rec []byte) (*Anomaly, error) {
	var a Anomaly
	if err := decodeStrictJSON(rec, &a, "anomaly"); err != nil {
		return nil, err
	}
	if a.Version != anomalyVersion {
		return nil, fmt.Errorf("%w: anomaly version %d not supported (this build reads %d)", ErrMalformed, a.Version, anomalyVersion)
	}
	switch a.Kind {
	case KindAnomaly, KindSilence, KindPredictive, KindLogPattern, KindComplaintSurge:
	default:
		return nil, fmt.Errorf("%w: anomaly kind %q unknown", ErrMalformed, a.Kind)
	}
	if a.State != StateOpen && a.State != StateResolved {
		return nil, fmt.Errorf("%w: anomaly state %q unknown", ErrMalformed, a.State)
	}
	if a.TimeMs == 0 || a.Metric == "" {
		return nil, fmt.Errorf("%w: anomaly without time or metric", ErrMalformed)
	}
	return &a, nil
}

// Alert states as recorded in the alerts table.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertEvent is one transition of one alert (firing or resolved), as sent
// to Alertmanager.
type AlertEvent struct {
	Version     int               `json:"v"`
	Fingerprint string            `json:"fingerprint"` // stable id of the problem
	Name        string            `json:"alertname"`
	Kind        string            `json:"kind"` // anomaly, silence, predictive
	Severity    string            `json:"severity"`
	Service     string            `json:"service,omitempty"`
	State       string            `json:"state"` // firing, resolved
	StartsAtMs  int64             `json:"starts_at_ms"`
	EndsAtMs    int64             `json:"ends_at_ms,omitempty"` // set when resolved
	TimeMs      int64             `json:"time_ms"`              // when this transition happened
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// GeneratorURL points at the dashboard showing the problem.
	GeneratorURL string `json:"generator_url,omitempty"`
}

// EncodeAlertEvent renders a record value.
func EncodeAlertEvent(e *AlertEvent) ([]byte, error) {
	e.Version = anomalyVersion
	return json.Marshal(e)
}

// DecodeAlertEvent parses and validates a record value.
func DecodeAlertEvent(rec []byte) (*AlertEvent, error) {
	var e AlertEvent
	if err := decodeStrictJSON(rec, &e, "alert event"); err != nil {
		return nil, err
	}
	if e.Version != anomalyVersion {
		return nil, fmt.Errorf("%w: alert event version %d not supported (this build reads %d)", ErrMalformed, e.Version, anomalyVersion)
	}
	if e.State != AlertFiring && e.State != AlertResolved {
		return nil, fmt.Errorf("%w: alert state %q unknown", ErrMalformed, e.State)
	}
	if strings.TrimSpace(e.Fingerprint) == "" || e.Name == "" || e.StartsAtMs == 0 || e.TimeMs == 0 {
		return nil, fmt.Errorf("%w: alert event without fingerprint, name, start or time", ErrMalformed)
	}
	return &e, nil
}

func decodeStrictJSON(rec []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s: trailing data", ErrMalformed, what)
	}
	return nil
}

// Band is the baseline's view of one scored point.
type Band struct {
	TimestampMs int64
	Value       float64
	Expected    float64
	Lower       float64
	Upper       float64
	Score       float32
	Learning    bool
}

// A BandBatch record (topic firebreak.bands) holds bands of one or more
// series of one partition:
//
//	magic 0xFB, kind 'B', version 1
//	uvarint series count, then per series:
//	  uint64 LE series id, uvarint-prefixed metric name,
//	  uvarint band count, then per band:
//	    int64 LE timestamp ms, float64 LE value, expected, lower, upper,
//	    float32 LE score, byte flags (bit 0: learning)
//
// One band per scored point doubles the metrics volume, so it is binary
// like samples; the writer encodes it without allocating per row.
const (
	kindBands    = 'B'
	bandsVersion = 1
	bandSize     = 8 + 4*8 + 4 + 1
)

// BandBatchBuilder appends series to one BandBatch record. The zero value
// is ready; Reset reuses its buffer.
type BandBatchBuilder struct {
	body    []byte
	series  int
	bands   int
	firstID uint64
}

// Reset empties the builder, keeping its memory.
func (b *BandBatchBuilder) Reset() {
	b.body = b.body[:0]
	b.series, b.bands, b.firstID = 0, 0, 0
}

// Add appends one series' bands.
func (b *BandBatchBuilder) Add(id uint64, metric string, bands []Band) {
	if b.series == 0 {
		b.firstID = id
	}
	b.series++
	b.bands += len(bands)
	b.body = binary.LittleEndian.AppendUint64(b.body, id)
	b.body = appendString(b.body, metric)
	b.body = binary.AppendUvarint(b.body, uint64(len(bands)))
	for _, x := range bands {
		b.body = binary.LittleEndian.AppendUint64(b.body, uint64(x.TimestampMs))
		b.body = binary.LittleEndian.AppendUint64(b.body, math.Float64bits(x.Value))
		b.body = binary.LittleEndian.AppendUint64(b.body, math.Float64bits(x.Expected))
		b.body = binary.LittleEndian.AppendUint64(b.body, math.Float64bits(x.Lower))
		b.body = binary.LittleEndian.AppendUint64(b.body, math.Float64bits(x.Upper))
		b.body = binary.LittleEndian.AppendUint32(b.body, math.Float32bits(x.Score))
		var flags byte
		if x.Learning {
			flags |= 1
		}
		b.body = append(b.body, flags)
	}
}

// Series, Bands and Size report what the builder holds.
func (b *BandBatchBuilder) Series() int { return b.series }
func (b *BandBatchBuilder) Bands() int  { return b.bands }
func (b *BandBatchBuilder) Size() int   { return len(b.body) + 13 }

// Key is the first series' id, big-endian (see SampleBatchBuilder.Key).
func (b *BandBatchBuilder) Key() []byte { return binary.BigEndian.AppendUint64(nil, b.firstID) }

// AppendRecord appends the finished record value to dst.
func (b *BandBatchBuilder) AppendRecord(dst []byte) []byte {
	dst = append(dst, recordMagic, kindBands, bandsVersion)
	dst = binary.AppendUvarint(dst, uint64(b.series))
	return append(dst, b.body...)
}

// BandVisitor receives a decoded BandBatch. metric points into the record
// and is valid only during the call.
type BandVisitor interface {
	BandSeries(id uint64, metric []byte) error
	Band(b Band)
}

// DecodeBands walks one BandBatch record, validating its whole structure;
// it never panics on bad input.
func DecodeBands(rec []byte, v BandVisitor) error {
	if len(rec) < 3 || rec[0] != recordMagic || rec[1] != kindBands {
		return fmt.Errorf("%w: not a band batch (bad magic)", ErrMalformed)
	}
	if rec[2] != bandsVersion {
		return fmt.Errorf("%w: band batch version %d not supported (this build reads %d)", ErrMalformed, rec[2], bandsVersion)
	}
	r := reader{buf: rec[3:]}
	nSeries, ok := r.uvarint()
	if !ok || nSeries > uint64(len(r.buf)) {
		return fmt.Errorf("%w: bad series count", ErrMalformed)
	}
	for s := uint64(0); s < nSeries; s++ {
		id, ok := r.uint64()
		if !ok {
			return fmt.Errorf("%w: series %d: truncated id", ErrMalformed, s)
		}
		metric, ok := r.bytes()
		if !ok {
			return fmt.Errorf("%w: series %d: truncated metric", ErrMalformed, s)
		}
		n, ok := r.uvarint()
		if !ok || n > uint64(len(r.buf))/bandSize {
			return fmt.Errorf("%w: series %d: bad band count", ErrMalformed, s)
		}
		if err := v.BandSeries(id, metric); err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			p := r.buf[:bandSize]
			r.buf = r.buf[bandSize:]
			if p[44]&^1 != 0 {
				return fmt.Errorf("%w: series %d: unknown band flags %#x", ErrMalformed, s, p[44])
			}
			v.Band(Band{
				TimestampMs: int64(binary.LittleEndian.Uint64(p)),
				Value:       math.Float64frombits(binary.LittleEndian.Uint64(p[8:])),
				Expected:    math.Float64frombits(binary.LittleEndian.Uint64(p[16:])),
				Lower:       math.Float64frombits(binary.LittleEndian.Uint64(p[24:])),
				Upper:       math.Float64frombits(binary.LittleEndian.Uint64(p[32:])),
				Score:       math.Float32frombits(binary.LittleEndian.Uint32(p[40:])),
				Learning:    p[44]&1 != 0,
			})
		}
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return nil
}
