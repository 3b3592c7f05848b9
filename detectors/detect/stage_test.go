package detect

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

const partitions = 4

func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(partitions, time.Hour)); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// shop is a handful of series, one filling its disk, one with a spike.
type shop struct {
	series [][]records.Label
	rng    *rand.Rand
	t0     int64
}

func newShop() *shop {
	s := &shop{rng: rand.New(rand.NewPCG(3, 4)), t0: time.Now().Add(-48 * time.Hour).Truncate(time.Minute).UnixMilli()}
	for i := 0; i < 6; i++ {
		metric := "http_request_rate"
		if i == 0 {
			metric = "disk_used_ratio"
		}
		ls := []records.Label{{Name: "__name__", Value: metric}, {Name: "instance", Value: fmt.Sprintf("inv-%d", i)},
			{Name: "service", Value: "inventory"}}
		records.SortLabels(ls)
		s.series = append(s.series, ls)
	}
	return s
}

// value of series i at minute m: the disk fills from minute 600 on, series
// 1 spikes at minute 700, the rest is noise around a level.
func (s *shop) value(i, m int) float64 {
	switch {
	case i == 0:
		v := 0.4 + 0.001*s.rng.NormFloat64()
		if m > 600 {
			v += 0.001 * float64(m-600)
		}
		return v
	case i == 1 && m == 700:
		return 5000
	}
	return 100 + 2*s.rng.NormFloat64()
}

// publish sends minutes [from, to) of every series, one record per
// partition per minute batch, keyed as collectors key them.
func (s *shop) publish(t *testing.T, p *bus.Producer, from, to int) {
	t.Helper()
	byPart := map[int]*records.SampleBatchBuilder{}
	for i, ls := range s.series {
		id := records.SeriesID(ls)
		part := records.Partition(id, partitions)
		b := byPart[part]
		if b == nil {
			b = &records.SampleBatchBuilder{}
			byPart[part] = b
		}
		var pts []records.Point
		for m := from; m < to; m++ {
			pts = append(pts, records.Point{TimestampMs: s.t0 + int64(m)*60_000, Value: s.value(i, m)})
		}
		b.Add(id, ls, pts)
	}
	var msgs []kafka.Message
	for _, b := range byPart {
		msgs = append(msgs, kafka.Message{Topic: records.TopicMetrics, Key: b.Key(), Value: b.AppendRecord(nil)})
	}
	if err := p.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// outputs reads the bands and anomalies topics as they grow.
type outputs struct {
	mu        sync.Mutex
	bands     map[uint64][]records.Band
	anomalies []*records.Anomaly
}

type bandCollector struct {
	o   *outputs
	cur uint64
}

func (c *bandCollector) BandSeries(id uint64, _ []byte) error { c.cur = id; return nil }
func (c *bandCollector) Band(b records.Band)                  { c.o.bands[c.cur] = append(c.o.bands[c.cur], b) }

func readOutputs(t *testing.T, ctx context.Context, brokers []string) *outputs {
	o := &outputs{bands: map[uint64][]records.Band{}}
	read := func(topic string, part int) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		c := &bandCollector{o: o}
		for {
			msg, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			o.mu.Lock()
			if topic == records.TopicBands {
				if err := records.DecodeBands(msg.Value, c); err != nil {
					t.Errorf("bands record: %v", err)
				}
			} else if a, err := records.DecodeAnomaly(msg.Value); err != nil {
				t.Errorf("anomaly record: %v", err)
			} else {
				o.anomalies = append(o.anomalies, a)
			}
			o.mu.Unlock()
		}
	}
	for p := 0; p < partitions; p++ {
		go read(records.TopicBands, p)
	}
	go read(records.TopicAnomalies, 0)
	return o
}

func (o *outputs) bandCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, bs := range o.bands {
		n += len(bs)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runStage(t *testing.T, brokers []string, rules []*forecast.Rule) (*Stage, *prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub := bus.NewProducer(brokers, "detect-test")
	st := New(Config{Brokers: brokers, Rules: rules, CheckpointEvery: 200 * time.Millisecond}, pub, reg,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	return st, reg, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stage: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("stage did not stop")
		}
		pub.Close()
	}
}

func TestStageBandsAnomaliesPredictionsAndRestart(t *testing.T) {
	brokers := startBroker(t)
	rules, err := forecast.ParseRules([]byte(`
rules:
  - name: DiskWillFill
    selector: disk_used_ratio
    op: '>'
    threshold: 0.9
    horizon: 12h
    severity: critical
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := readOutputs(t, ctx, brokers)
	shop := newShop()
	prod := bus.NewProducer(brokers, "detect-test-data")
	defer prod.Close()

	// First life: 1000 minutes of history (event time, replayed at once).
	_, reg1, stop1 := runStage(t, brokers, rules)
	for m := 0; m < 1000; m += 100 {
		shop.publish(t, prod, m, m+100)
	}
	waitFor(t, "1000 bands per series", func() bool { return out.bandCount() == 1000*len(shop.series) })
	stop1()
	if got := counter(t, reg1, "firebreak_detector_points_total"); got != 6000 {
		t.Fatalf("points learned %v, want 6000", got)
	}

	spike := records.SeriesID(shop.series[1])
	disk := records.SeriesID(shop.series[0])
	out.mu.Lock()
	var sawSpike, sawPrediction bool
	noiseEvents := 0
	for _, a := range out.anomalies {
		if a.Kind == records.KindAnomaly && a.State == records.StateOpen && a.SeriesID == spike && a.TimeMs == shop.t0+700*60_000 {
			sawSpike = a.Direction == "up" && a.Score >= 0.5 && a.Service == "inventory" && a.Labels["instance"] == "inv-1"
		}
		if a.Kind == records.KindPredictive && a.State == records.StateOpen && a.SeriesID == disk {
			sawPrediction = a.Rule == "DiskWillFill" && a.Severity == "critical" && a.PredictedBreachMs > a.TimeMs
		}
		if a.Kind == records.KindAnomaly && a.State == records.StateOpen && a.SeriesID != spike && a.SeriesID != disk {
			noiseEvents++
			if a.Score >= 0.9 {
				t.Errorf("noise scored as a clear anomaly: %+v", a)
			}
		}
	}
	out.mu.Unlock()
	// Gaussian noise has 3σ points: a few low-score events are expected
	// (the alerter pages only sustained or clear ones), not many.
	if noiseEvents > 5000/200 {
		t.Errorf("%d anomaly events on 5000 points of noise", noiseEvents)
	}
	if !sawSpike || !sawPrediction {
		t.Fatalf("spike anomaly %v, disk prediction %v; events: %d", sawSpike, sawPrediction, len(out.anomalies))
	}
	for _, b := range out.bands[spike][700:710] {
		if b.Learning {
			t.Fatalf("still learning after 700 points: %+v", b)
		}
	}

	// Second life: resumes from the checkpoint; re-publishing history the
	// checkpoint holds changes nothing (no double counting), new points are
	// scored at once (no relearning).
	_, reg2, stop2 := runStage(t, brokers, rules)
	shop.publish(t, prod, 990, 1000) // a sender retrying old points
	shop.publish(t, prod, 1000, 1010)
	waitFor(t, "10 more bands per series", func() bool { return out.bandCount() == 1010*len(shop.series) })
	stop2()
	if got := counter(t, reg2, "firebreak_detector_restored_series_total"); got != 6 {
		t.Fatalf("restored %v series, want 6", got)
	}
	if got := counter(t, reg2, "firebreak_detector_points_total"); got != 60 {
		t.Fatalf("second life learned %v points, want 60 (the re-sent 60 skipped)", got)
	}
	if got := counter(t, reg2, "firebreak_detector_points_skipped_total"); got != 60 {
		t.Fatalf("skipped %v, want 60", got)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	for id, bs := range out.bands {
		last := bs[len(bs)-1]
		if last.Learning || last.TimestampMs != shop.t0+1009*60_000 {
			t.Fatalf("series %x after restart: %+v", id, last)
		}
		if math.Abs(last.Expected-last.Value) > 20 && id != disk {
			t.Fatalf("series %x relearned: expected %v for %v", id, last.Expected, last.Value)
		}
	}
}

// counter reads a counter's value from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func publishPoint(t *testing.T, p *bus.Producer, ls []records.Label, ts int64, v float64) {
	t.Helper()
	var b records.SampleBatchBuilder
	b.Add(records.SeriesID(ls), ls, []records.Point{{TimestampMs: ts, Value: v}})
	if err := p.Publish(context.Background(), kafka.Message{Topic: records.TopicMetrics, Key: b.Key(), Value: b.AppendRecord(nil)}); err != nil {
		t.Fatal(err)
	}
}

// A live series that stops arriving at its learned cadence opens a
// silence; when it comes back the silence resolves. Its neighbour, still
// arriving, stays quiet.
func TestSilenceOpensAndResolves(t *testing.T) {
	brokers := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := readOutputs(t, ctx, brokers)
	prod := bus.NewProducer(brokers, "detect-test-data")
	defer prod.Close()

	reg := prometheus.NewRegistry()
	st := New(Config{Brokers: brokers, SilenceMin: 500 * time.Millisecond, CheckpointEvery: time.Second},
		bus.NewProducer(brokers, "detect-test"), reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go st.Run(sctx)

	series := func(inst string) []records.Label {
		return []records.Label{{Name: "__name__", Value: "up"}, {Name: "instance", Value: inst}, {Name: "service", Value: "payment"}}
	}
	a, b := series("a"), series("b")
	const cadence = 50 * time.Millisecond
	tick := func(ls ...[]records.Label) {
		now := time.Now().UnixMilli()
		for _, s := range ls {
			publishPoint(t, prod, s, now, 1)
		}
		time.Sleep(cadence)
	}
	for i := 0; i < 60; i++ { // learn the cadence
		tick(a, b)
	}
	silenceOf := func(inst, state string) bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		for _, x := range out.anomalies {
			if x.Kind == records.KindSilence && x.Labels["instance"] == inst && x.State == state {
				return true
			}
		}
		return false
	}
	stopped := time.Now()
	for !silenceOf("b", records.StateOpen) {
		if time.Since(stopped) > 20*time.Second {
			t.Fatal("no silence for b")
		}
		tick(a)
	}
	t.Logf("silence opened %v after b stopped (cadence %v, minimum wait 500ms)", time.Since(stopped).Round(time.Millisecond), cadence)
	if silenceOf("a", records.StateOpen) {
		t.Fatal("a is still arriving but was called silent")
	}
	tick(a, b)
	waitFor(t, "b's silence to resolve", func() bool { return silenceOf("b", records.StateResolved) })

	// Everything stops (the collector died): no point moves event time,
	// the wall clock does, and a goes silent too.
	waitFor(t, "a's silence once all data stopped", func() bool { return silenceOf("a", records.StateOpen) })
}

// replayStage starts a detect stage on a one-partition broker, so the
// anomalies topic's order is the order the stage found things in. It
// returns a publisher of one record per call (every series given gets the
// point at minute m of event time) and a reader of the anomalies topic.
func replayStage(t *testing.T) (publish func(m int, value func(ls []records.Label) float64, ls ...[]records.Label), next func() records.Anomaly) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	prod := bus.NewProducer(brokers, "detect-test-data")
	t.Cleanup(func() { prod.Close() })
	st := New(Config{Brokers: brokers, CheckpointEvery: time.Second}, bus.NewProducer(brokers, "detect-test"),
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	sctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go st.Run(sctx)

	t0 := time.Now().Add(-24 * time.Hour).Truncate(time.Minute).UnixMilli()
	publish = func(m int, value func(ls []records.Label) float64, ls ...[]records.Label) {
		var batch records.SampleBatchBuilder
		for _, l := range ls {
			batch.Add(records.SeriesID(l), l, []records.Point{{TimestampMs: t0 + int64(m)*60_000, Value: value(l)}})
		}
		if err := prod.Publish(ctx, kafka.Message{Topic: records.TopicMetrics, Key: batch.Key(), Value: batch.AppendRecord(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicAnomalies, Partition: 0, MaxWait: 100 * time.Millisecond})
	t.Cleanup(func() { r.Close() })
	next = func() records.Anomaly {
		t.Helper()
		msg, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading anomalies: %v", err)
		}
		a, err := records.DecodeAnomaly(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		return *a
	}
	return publish, next
}

func replaySeries(inst string) []records.Label {
	return []records.Label{{Name: "__name__", Value: "queue_depth"}, {Name: "instance", Value: inst}, {Name: "service", Value: "inventory"}}
}

// A replay runs far faster than real time: a second of wall time is hours
// of event time. A series that stops must be called silent while the
// replay is still near the point where it stopped, ahead of the anomalies
// of later points: the alerter reads the silence first and holds back
// what it explains.
func TestSilenceFoundAtReplaySpeed(t *testing.T) {
	publish, next := replayStage(t)
	steady, stops, spikes := replaySeries("steady"), replaySeries("stops"), replaySeries("spikes")
	const stopAt, spikeAt, end = 660, 700, 720 // minutes of event time
	rng := rand.New(rand.NewPCG(5, 6))
	for m := range end {
		value := func(ls []records.Label) float64 {
			if m == spikeAt && ls[1].Value == "spikes" {
				return 5000
			}
			return 100 + 2*rng.NormFloat64()
		}
		if m < stopAt {
			publish(m, value, steady, stops, spikes)
		} else {
			publish(m, value, steady, spikes)
		}
	}
	for i := 0; ; i++ {
		a := next()
		if a.Kind == records.KindSilence && a.State == records.StateOpen && a.Labels["instance"] == "stops" {
			return
		}
		if a.Kind == records.KindAnomaly && a.Labels["instance"] == "spikes" && a.Value == 5000 {
			t.Fatalf("the anomaly of a point %d minutes after the stop (event %d) came before the silence", spikeAt-stopAt, i)
		}
	}
}

// Series do not move in step: one series' history may run hours ahead of
// the others' (a backfill sent series by series, a remote_write shard
// catching up). That alone is no silence: the others are judged against
// where the typical series is, not against the newest point.
func TestNoSilenceWhileOneSeriesRunsAhead(t *testing.T) {
	publish, next := replayStage(t)
	var all [][]records.Label
	for i := range 5 {
		all = append(all, replaySeries(fmt.Sprintf("host-%d", i)))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	noise := func([]records.Label) float64 { return 100 + 2*rng.NormFloat64() }
	const learned, end = 600, 720 // minutes of event time
	for m := range learned {
		publish(m, noise, all...)
	}
	for m := learned; m < end; m++ { // host-0 runs two hours ahead
		publish(m, noise, all[0])
	}
	for m := learned; m < end; m++ {
		publish(m, noise, all[1:]...)
	}
	// A spike as the last point tells when everything before was read.
	publish(end, func(ls []records.Label) float64 {
		if ls[1].Value == "host-4" {
			return 5000
		}
		return noise(ls)
	}, all...)
	for {
		a := next()
		if a.Kind == records.KindSilence {
			t.Fatalf("silence of %s (last seen %s) while it was arriving", a.Labels["instance"], time.UnixMilli(a.LastSeenMs).Format(time.TimeOnly))
		}
		if a.Kind == records.KindAnomaly && a.Labels["instance"] == "host-4" && a.Value == 5000 {
			return
		}
	}
}
