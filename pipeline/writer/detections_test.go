package writer

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

func detectionTopics() []bus.TopicSpec {
	return []bus.TopicSpec{
		{Name: records.TopicBands, Partitions: testPartitions},
		{Name: records.TopicAnomalies, Partitions: 1},
		{Name: records.TopicAlerts, Partitions: 1},
	}
}

// bandCase is one series' bands as the detectors publish them.
type bandCase struct {
	id     uint64
	metric string
	bands  []records.Band
}

// t0 is recent: rows older than their table's TTL would vanish under the test.
var t0 = time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour).UnixMilli()

// testBands returns nSeries series of nBands bands each, with values that
// survive the round trip exactly (score is Float32 in the table).
func testBands(nSeries, nBands int) []bandCase {
	var out []bandCase
	for s := range nSeries {
		c := bandCase{id: uint64(0x9e3779b97f4a7c15) * uint64(s+1), metric: []string{"http_requests_rate", "cpu_seconds", "queue_depth"}[s%3]}
		for i := range nBands {
			v := float64(s*100+i) + 0.1
			c.bands = append(c.bands, records.Band{
				TimestampMs: t0 + int64(i)*15_000 + int64(s%7),
				Value:       v,
				Expected:    v - 0.25,
				Lower:       v - 3.3,
				Upper:       v + 3.3e10,
				Score:       float32(i) / 7,
				Learning:    i < 2,
			})
		}
		out = append(out, c)
	}
	return out
}

// bandRecords groups the series by partition, as the detectors do, in
// records of at most perRecord series.
func bandRecords(cases []bandCase, perRecord int) []kafka.Message {
	byPart := map[int][]bandCase{}
	for _, c := range cases {
		p := records.Partition(c.id, testPartitions)
		byPart[p] = append(byPart[p], c)
	}
	var msgs []kafka.Message
	var bb records.BandBatchBuilder
	for p := range testPartitions {
		for i, c := range byPart[p] {
			bb.Add(c.id, c.metric, c.bands)
			if bb.Series() == perRecord || i == len(byPart[p])-1 {
				msgs = append(msgs, kafka.Message{Topic: records.TopicBands, Key: bb.Key(), Value: bb.AppendRecord(nil)})
				bb.Reset()
			}
		}
	}
	return msgs
}

func testAnomalies() []records.Anomaly {
	return []records.Anomaly{
		{Kind: records.KindAnomaly, State: records.StateOpen, SeriesID: 11, Metric: "http_requests_rate", Service: "checkout",
			Labels: map[string]string{"service": "checkout", "instance": "10.0.0.1:9100"}, TimeMs: t0 + 123,
			Value: 912.5, Expected: 300.25, Lower: 250.5, Upper: 350.75, Score: 0.96875, Direction: "up"},
		{Kind: records.KindAnomaly, State: records.StateResolved, SeriesID: 11, Metric: "http_requests_rate", Service: "checkout",
			Labels: map[string]string{"service": "checkout", "instance": "10.0.0.1:9100"}, TimeMs: t0 + 60_123,
			Value: 301, Expected: 300.25, Lower: 250.5, Upper: 350.75, Score: 0.125, Direction: "up"},
		{Kind: records.KindSilence, State: records.StateOpen, SeriesID: 12, Metric: "orders_total", Service: "orders",
			TimeMs: t0 + 30_000, LastSeenMs: t0 - 45_001, CadenceMs: 15_000.5, Score: 1},
		{Kind: records.KindPredictive, State: records.StateOpen, SeriesID: 13, Metric: "disk_used_ratio", Service: "db",
			Labels: map[string]string{"mount": "/var/lib/pg"}, TimeMs: t0 + 1, Value: 0.81, Expected: 0.8,
			Rule: "disk-full", Severity: "critical", Op: ">", Threshold: 0.95, PredictedBreachMs: t0 + 4*3_600_000 + 7, Score: 0.5},
	}
}

func testAlerts() []records.AlertEvent {
	return []records.AlertEvent{
		{Fingerprint: "fp-checkout-1", Name: "FirebreakAnomaly", Kind: records.KindAnomaly, Severity: "warning", Service: "checkout",
			State: records.AlertFiring, StartsAtMs: t0 + 123, TimeMs: t0 + 5_000,
			Labels:       map[string]string{"alertname": "FirebreakAnomaly", "service": "checkout"},
			Annotations:  map[string]string{"summary": "http_requests_rate 3x above expected"},
			GeneratorURL: "http://grafana.local/d/firebreak?var-series=11"},
		{Fingerprint: "fp-checkout-1", Name: "FirebreakAnomaly", Kind: records.KindAnomaly, Severity: "warning", Service: "checkout",
			State: records.AlertResolved, StartsAtMs: t0 + 123, EndsAtMs: t0 + 65_000, TimeMs: t0 + 65_000,
			Labels: map[string]string{"alertname": "FirebreakAnomaly", "service": "checkout"}},
		{Fingerprint: "fp-db-2", Name: "FirebreakPredictive", Kind: records.KindPredictive, Severity: "critical", Service: "db",
			State: records.AlertFiring, StartsAtMs: t0 + 1, TimeMs: t0 + 2_000,
			Labels: map[string]string{"alertname": "FirebreakPredictive", "service": "db", "rule": "disk-full"}},
	}
}

func anomalyMessages(t *testing.T, as []records.Anomaly) []kafka.Message {
	var msgs []kafka.Message
	for i := range as {
		v, err := records.EncodeAnomaly(&as[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicAnomalies, Key: as[i].Key(), Value: v})
	}
	return msgs
}

func alertMessages(t *testing.T, es []records.AlertEvent) []kafka.Message {
	var msgs []kafka.Message
	for i := range es {
		v, err := records.EncodeAlertEvent(&es[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicAlerts, Key: []byte(es[i].Fingerprint), Value: v})
	}
	return msgs
}

// iso renders epoch milliseconds as the store renders DateTime64(3).
func iso(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

func jsonFloat(t *testing.T, v any) float64 {
	t.Helper()
	if v == nil {
		t.Fatal("null where a number was expected")
	}
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestDetectionsStoredExactlyOnce produces bands, anomalies and alert
// events through a real broker, stores them with the writer, and reads
// every value back; a second writer group replaying every record leaves
// no duplicate behind FINAL.
func TestDetectionsStoredExactlyOnce(t *testing.T) {
	e := newEnv(t, detectionTopics()...)
	bands := testBands(40, 25)
	anoms := testAnomalies()
	alerts := testAlerts()
	e.publish(t, bandRecords(bands, 3)...)
	e.publish(t, anomalyMessages(t, anoms)...)
	e.publish(t, alertMessages(t, alerts)...)
	nBands := 40 * 25

	_, stop := e.runWriter(t, Config{GroupID: "first", Topics: records.DetectionTopics})
	e.waitScalar(t, `SELECT count() FROM bands`, strconv.Itoa(nBands), 30*time.Second)
	e.waitScalar(t, `SELECT count() FROM anomalies`, strconv.Itoa(len(anoms)), 10*time.Second)
	e.waitScalar(t, `SELECT count() FROM alerts`, strconv.Itoa(len(alerts)), 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	checkBands(t, e, bands, "")
	checkAnomalies(t, e, anoms)
	checkAlerts(t, e, alerts)

	// Replay everything (a new group starts at the first offset): the rows
	// are inserted again and collapse onto the same keys.
	w2, stop2 := e.runWriter(t, Config{GroupID: "replay", Topics: records.DetectionTopics})
	deadline := time.Now().Add(30 * time.Second)
	for _, table := range []string{"bands", "anomalies", "alerts"} {
		want := map[string]float64{"bands": float64(nBands), "anomalies": float64(len(anoms)), "alerts": float64(len(alerts))}[table]
		for testutil.ToFloat64(w2.metrics.rows.WithLabelValues(table)) < want && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := testutil.ToFloat64(w2.metrics.rows.WithLabelValues(table)); got != want {
			t.Fatalf("replay stored %v rows of %s, want %v", got, table, want)
		}
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	for sql, want := range map[string]int{
		`SELECT count() FROM bands FINAL`:                                   nBands,
		`SELECT count() FROM anomalies FINAL`:                               len(anoms),
		`SELECT count() FROM alerts FINAL`:                                  len(alerts),
		`SELECT uniqExact(metric_name, series_id, time) FROM bands`:         nBands,
		`SELECT uniqExact(kind, series_id, time, state) FROM anomalies`:     len(anoms),
		`SELECT uniqExact(fingerprint, starts_at, state, time) FROM alerts`: len(alerts),
	} {
		if got := e.scalar(t, sql); got != strconv.Itoa(want) {
			t.Errorf("%s = %s after the replay, want %d", sql, got, want)
		}
	}
	checkBands(t, e, bands, "FINAL")
	checkAnomalies(t, e, anoms)
	checkAlerts(t, e, alerts)

	// The documented queries answer as documented.
	if got := e.query(t, `SELECT fingerprint FROM alerts FINAL GROUP BY fingerprint
		HAVING argMax(state, time) = 'firing' ORDER BY fingerprint`); len(got) != 1 || got[0] != `["fp-db-2"]` {
		t.Errorf("alerts currently firing = %v, want only fp-db-2", got)
	}
	if got := e.scalar(t, `SELECT count() FROM anomalies FINAL WHERE service = 'checkout' AND kind = 'anomaly'`); got != "2" {
		t.Errorf("checkout anomalies = %s, want 2", got)
	}
	for _, sql := range docQueries(t) {
		e.query(t, sql) // each example in docs/schema.md runs
	}
}

// docQueries returns the SQL examples of docs/schema.md's detector section.
func docQueries(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Detector outputs")
	var out []string
	for _, block := range strings.Split(section, "```sql")[1:] {
		body, _, _ := strings.Cut(block, "```")
		for _, q := range strings.Split(body, "\n\n") {
			if strings.TrimSpace(q) != "" {
				out = append(out, q)
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found %d example queries in docs/schema.md", len(out))
	}
	return out
}

func checkBands(t *testing.T, e *env, cases []bandCase, final string) {
	t.Helper()
	res, err := e.st.Query(t.Context(), `SELECT metric_name, series_id, time, value, expected, lower, upper, score, learning
		FROM bands `+final+` ORDER BY series_id, time`, storeQueryOpts)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		id uint64
		ts int64
	}
	want := map[key]bandCase{}
	wantBand := map[key]records.Band{}
	n := 0
	for _, c := range cases {
		for _, b := range c.bands {
			want[key{c.id, b.TimestampMs}] = c
			wantBand[key{c.id, b.TimestampMs}] = b
			n++
		}
	}
	if len(res.Rows) != n {
		t.Fatalf("bands holds %d rows (%s), want %d", len(res.Rows), final, n)
	}
	for _, r := range res.Rows {
		id, _ := strconv.ParseUint(fmt.Sprint(r[1]), 10, 64)
		ts, err := time.Parse(time.RFC3339Nano, r[2].(string))
		if err != nil {
			t.Fatal(err)
		}
		k := key{id, ts.UnixMilli()}
		c, ok := want[k]
		if !ok {
			t.Fatalf("unexpected band row %v", r)
		}
		b := wantBand[k]
		learning := uint8(0)
		if b.Learning {
			learning = 1
		}
		if r[0] != c.metric || jsonFloat(t, r[3]) != b.Value || jsonFloat(t, r[4]) != b.Expected ||
			jsonFloat(t, r[5]) != b.Lower || jsonFloat(t, r[6]) != b.Upper ||
			float32(jsonFloat(t, r[7])) != b.Score || fmt.Sprint(r[8]) != strconv.Itoa(int(learning)) {
			t.Fatalf("band row %v, want %s %d %+v", r, c.metric, c.id, b)
		}
	}
}

func checkAnomalies(t *testing.T, e *env, as []records.Anomaly) {
	t.Helper()
	got := e.query(t, `SELECT time, kind, state, series_id, metric_name, service, labels, value, expected, lower, upper,
		score, direction, rule, severity, op, threshold, predicted_breach_at, last_seen, cadence_ms
		FROM anomalies FINAL ORDER BY series_id, time, state`)
	if len(got) != len(as) {
		t.Fatalf("anomalies holds %d rows, want %d: %v", len(got), len(as), got)
	}
	for i, a := range as { // testAnomalies is in (series_id, time) order
		labels := a.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		row := []any{iso(a.TimeMs), a.Kind, a.State, a.SeriesID, a.Metric, a.Service, labels, a.Value, a.Expected, a.Lower, a.Upper,
			a.Score, a.Direction, a.Rule, a.Severity, a.Op, a.Threshold, iso(a.PredictedBreachMs), iso(a.LastSeenMs), a.CadenceMs}
		b, _ := json.Marshal(row)
		if got[i] != string(b) {
			t.Errorf("anomaly %d:\n got %s\nwant %s", i, got[i], b)
		}
	}
}

func checkAlerts(t *testing.T, e *env, es []records.AlertEvent) {
	t.Helper()
	got := e.query(t, `SELECT time, fingerprint, alertname, kind, severity, service, state, starts_at, ends_at,
		labels, annotations, generator_url FROM alerts FINAL ORDER BY fingerprint, time`)
	if len(got) != len(es) {
		t.Fatalf("alerts holds %d rows, want %d: %v", len(got), len(es), got)
	}
	for i, a := range es { // testAlerts is in (fingerprint, time) order
		ann := a.Annotations
		if ann == nil {
			ann = map[string]string{}
		}
		row := []any{iso(a.TimeMs), a.Fingerprint, a.Name, a.Kind, a.Severity, a.Service, a.State, iso(a.StartsAtMs), iso(a.EndsAtMs),
			a.Labels, ann, a.GeneratorURL}
		b, _ := json.Marshal(row)
		if got[i] != string(b) {
			t.Errorf("alert %d:\n got %s\nwant %s", i, got[i], b)
		}
	}
}

// TestMalformedDetectionsGoToDeadLetter puts records that do not decode
// between valid ones on every detection topic: each lands on the
// dead-letter topic with its origin, and nothing of it reaches a table,
// not even the valid first series of a band batch truncated later on.
func TestMalformedDetectionsGoToDeadLetter(t *testing.T) {
	e := newEnv(t, detectionTopics()...)
	good := testBands(8, 3)
	var bb records.BandBatchBuilder
	bb.Add(777, "poisoned_metric", good[0].bands)
	bb.Add(778, "poisoned_metric", good[1].bands)
	whole := bb.AppendRecord(nil)
	truncated := whole[:len(whole)-5]
	key := bb.Key()
	badAnomaly, _ := json.Marshal(map[string]any{"v": 1, "kind": "mystery", "state": "open", "series_id": 1, "metric": "m", "time_ms": t0})
	badAlert, _ := json.Marshal(map[string]any{"v": 1, "fingerprint": "", "alertname": "X", "state": "firing", "starts_at_ms": t0, "time_ms": t0})
	poison := []kafka.Message{
		{Topic: records.TopicBands, Key: key, Value: truncated},
		{Topic: records.TopicBands, Key: key, Value: []byte("\xfbB\x02future version")},
		{Topic: records.TopicAnomalies, Key: []byte("x"), Value: badAnomaly},
		{Topic: records.TopicAnomalies, Key: []byte("x"), Value: []byte(`{"v":1,"kind":"anomaly"`)},
		{Topic: records.TopicAlerts, Key: []byte("x"), Value: badAlert},
	}
	e.publish(t, bandRecords(good[:4], 2)...)
	e.publish(t, poison...)
	e.publish(t, bandRecords(good[4:], 2)...)
	e.publish(t, anomalyMessages(t, testAnomalies()[:2])...)
	e.publish(t, alertMessages(t, testAlerts()[:1])...)

	w, stop := e.runWriter(t, Config{GroupID: "dlq", Topics: records.DetectionTopics})
	dead := e.deadLetters(t, len(poison))
	e.waitScalar(t, `SELECT count() FROM bands`, strconv.Itoa(8*3), 20*time.Second)
	e.waitScalar(t, `SELECT count() FROM anomalies`, "2", 10*time.Second)
	e.waitScalar(t, `SELECT count() FROM alerts`, "1", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := e.scalar(t, `SELECT count() FROM bands WHERE metric_name = 'poisoned_metric'`); got != "0" {
		t.Fatalf("%s rows of the truncated band batch were stored", got)
	}
	checkBands(t, e, good, "")

	bySource := map[string]int{}
	for _, m := range dead {
		src := header(m, records.HeaderSourceTopic)
		bySource[src]++
		if header(m, records.HeaderError) == "" || header(m, records.HeaderSourceOffset) == "" {
			t.Errorf("dead letter from %s without error or offset: %v", src, m.Headers)
		}
	}
	if bySource[records.TopicBands] != 2 || bySource[records.TopicAnomalies] != 2 || bySource[records.TopicAlerts] != 1 {
		t.Fatalf("dead letters by source: %v", bySource)
	}
	for topic, n := range map[string]float64{records.TopicBands: 2, records.TopicAnomalies: 2, records.TopicAlerts: 1} {
		if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues(topic)); got != n {
			t.Errorf("dead-letter counter for %s = %v, want %v", topic, got, n)
		}
	}
}

// TestBandsEncoderDoesNotAllocatePerRow: once its columns have grown, a
// batch of band records costs no allocation.
func TestBandsEncoderDoesNotAllocatePerRow(t *testing.T) {
	msgs := bandRecords(testBands(200, 50), 20)
	enc := newBandsEncoder()
	batch := func() {
		for _, m := range msgs {
			if err := enc.Add(m.Value); err != nil {
				t.Fatal(err)
			}
		}
		if enc.Rows() != 200*50 {
			t.Fatalf("%d rows", enc.Rows())
		}
		enc.Reset()
	}
	batch()
	// A row that allocated would show as 10,000 allocations a batch. The
	// count is the whole process's, and goroutines other tests of this
	// package leave running (readers winding down) allocate now and then
	// (CI once saw 1 a batch over 10 batches), so a few are tolerated.
	if a := testing.AllocsPerRun(50, batch); a >= 10 {
		t.Fatalf("%v allocations per batch of %d rows: a row allocates", a, 200*50)
	}
}

func TestBandsEncoderKeepsNonFiniteValues(t *testing.T) {
	var bb records.BandBatchBuilder
	bb.Add(1, "m", []records.Band{{TimestampMs: t0, Value: math.NaN(), Expected: math.Inf(1), Lower: math.Inf(-1), Upper: 0, Score: float32(math.NaN())}})
	enc := newBandsEncoder()
	if err := enc.Add(bb.AppendRecord(nil)); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(enc.value[0]) || !math.IsInf(enc.expected[0], 1) || !math.IsNaN(enc.score[0]) {
		t.Fatalf("non-finite values changed: %v %v %v", enc.value, enc.expected, enc.score)
	}
}

// TestDefaultTopicsIncludeDetections: a writer left to its default topics
// stores the detector outputs beside the data topics.
func TestDefaultTopicsIncludeDetections(t *testing.T) {
	specs := detectionTopics()
	for _, topic := range records.DataTopics {
		specs = append(specs, bus.TopicSpec{Name: topic, Partitions: testPartitions})
	}
	e := newEnv(t, specs...)
	e.publish(t, bandRecords(testBands(4, 2), 2)...)
	e.publish(t, alertMessages(t, testAlerts())...)
	_, stop := e.runWriter(t, Config{})
	e.waitScalar(t, `SELECT count() FROM bands`, "8", 20*time.Second)
	e.waitScalar(t, `SELECT count() FROM alerts`, "3", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, records.DataTopics...), records.TopicSelfMetrics)
	want = append(want, records.DetectionTopics...)
	want = append(want, records.PatternTopics...)
	if got, want := fmt.Sprint(DefaultTopics()), fmt.Sprint(append(want, records.IncidentTopics...)); got != want {
		t.Fatalf("DefaultTopics() = %s, want %s", got, want)
	}
	if len(records.DataTopics) != 3 {
		t.Fatalf("records.DataTopics was changed: %v", records.DataTopics)
	}
}

// TestMissingTopicDoesNotStallTheOthers: a topic that does not exist yet
// (an older deployment that never created the detection topics) must not
// keep the writer from storing the topics that do.
func TestMissingTopicDoesNotStallTheOthers(t *testing.T) {
	e := newEnv(t, bus.TopicSpec{Name: records.TopicBands, Partitions: testPartitions})
	e.publish(t, bandRecords(testBands(4, 2), 2)...)
	_, stop := e.runWriter(t, Config{Topics: []string{records.TopicBands, records.TopicAlerts}})
	e.waitScalar(t, `SELECT count() FROM bands`, "8", 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
