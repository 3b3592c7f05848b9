// Package writer is the only stage that writes ClickHouse: a Kafka consumer
// group that turns records into batched inserts and commits offsets only
// after the store acknowledged them (at-least-once; the schema's content
// keys make a replay invisible). Undecodable records go to the dead-letter
// topic and never block their partition.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Config tunes the writer.
type Config struct {
	Brokers []string
	// GroupID is the consumer group; writers sharing it split partitions.
	GroupID string
	// Topics to store. Default: records.DataTopics and
	// records.DetectionTopics.
	Topics []string
	// MaxBatchRows flushes a batch at this many rows. Default 200,000.
	MaxBatchRows int
	// MaxBatchWait flushes a non-empty batch this long after its first
	// record. Default 500 ms.
	MaxBatchWait time.Duration
	// SeriesRefresh re-writes a series row (refreshing last_seen) at most
	// this often. Default 1 h.
	SeriesRefresh time.Duration
	// InsertWorkers is how many batches are inserted at once, each by one
	// worker on one store connection (workers take the stores in turn).
	// Offsets are still committed batch after batch in the order the
	// batches were read, each only once it and every batch before it
	// were stored. Default: one per store (1 + len(InsertStores)). The
	// writer holds InsertWorkers+1 batches of up to MaxBatchRows.
	InsertWorkers int
	// InsertStores are further connections to the same store, one more
	// insert worker each. The embedded engine runs one statement per Store
	// at a time, so parallel inserts need one Store per worker, opened on
	// the same data directory (chdb.Open again); a ClickHouse server Store
	// pools connections and may simply be repeated. The caller closes them.
	InsertStores []store.Store
}

func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = "firebreak-writer"
	}
	if len(c.Topics) == 0 {
		c.Topics = DefaultTopics()
	}
	if c.MaxBatchRows <= 0 {
		c.MaxBatchRows = 200_000
	}
	if c.MaxBatchWait <= 0 {
		c.MaxBatchWait = 500 * time.Millisecond
	}
	if c.SeriesRefresh <= 0 {
		c.SeriesRefresh = time.Hour
	}
	if c.InsertWorkers <= 0 {
		c.InsertWorkers = 1 + len(c.InsertStores)
	}
	return c
}

// DefaultTopics are the topics a writer stores unless told otherwise: the
// data topics, the detectors' outputs and the incident stage's (a fresh
// slice every call).
func DefaultTopics() []string {
	out := append(append([]string(nil), records.DataTopics...), records.TopicSelfMetrics)
	out = append(out, records.DetectionTopics...)
	out = append(out, records.PatternTopics...)
	return append(out, records.IncidentTopics...)
}

// DeadLetterSink takes records the writer cannot decode.
type DeadLetterSink interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Writer consumes the data topics into the store.
type Writer struct {
	cfg     Config
	dlq     DeadLetterSink
	log     *slog.Logger
	metrics *metrics
	reader  *kafka.Reader
	stores  []store.Store // insert worker i uses stores[i%len(stores)]

	failing   atomic.Int32           // insert workers whose last attempt failed
	stoppedAt atomic.Int64           // unix ns when fetching stopped at shutdown
	lastErr   atomic.Pointer[string] // the latest failed insert, for /healthz

	// Insert workers waiting out a backoff wait on wake too: the first
	// insert that succeeds closes it, so once the store is back every
	// worker retries at once rather than each at the end of its own wait
	// (up to 10 s).
	wakeMu sync.Mutex
	wake   chan struct{}
}

type metrics struct {
	rows          *prometheus.CounterVec
	batchRows     prometheus.Histogram
	insertSeconds prometheus.Histogram
	insertErrors  prometheus.Counter
	fetchErrors   prometheus.Counter
	backoff       prometheus.Gauge
	deadLetters   *prometheus.CounterVec
	lag           prometheus.Gauge
	records       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_writer_rows_inserted_total",
			Help: "Rows the store acknowledged, by table.",
		}, []string{"table"}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_writer_batch_rows",
			Help:    "Rows per insert batch (main table).",
			Buckets: prometheus.ExponentialBuckets(100, 4, 8),
		}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_writer_insert_duration_seconds",
			Help:    "Time to insert one batch, all its tables.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_writer_insert_errors_total",
			Help: "Failed insert attempts; the batch is retried with backoff and its offsets stay uncommitted.",
		}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_writer_fetch_errors_total",
			Help: "Failed reads from Kafka (brokers unreachable, group rebalancing); the writer keeps what it read and tries again.",
		}),
		backoff: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firebreak_writer_insert_backoff_seconds",
			Help: "Wait before the next insert retry (exponential from 0.1 s, capped at 10 s); 0 while inserts succeed.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_writer_dead_letters_total",
			Help: "Records sent to the dead-letter topic, by source topic.",
		}, []string{"topic"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firebreak_writer_kafka_lag_messages",
			Help: "Records on the writer's topics not yet stored and committed: newest offsets minus the group's committed offsets, summed over partitions (measured every 5 s).",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_writer_records_total",
			Help: "Kafka records read by the writer.",
		}),
	}
	reg.MustRegister(m.rows, m.batchRows, m.insertSeconds, m.insertErrors, m.fetchErrors, m.backoff, m.deadLetters, m.lag, m.records)
	return m
}

// New builds a writer; Run starts consuming.
func New(cfg Config, st store.Store, dlq DeadLetterSink, reg prometheus.Registerer, log *slog.Logger) *Writer {
	cfg = cfg.withDefaults()
	w := &Writer{cfg: cfg, dlq: dlq, log: log, metrics: newMetrics(reg)}
	w.stores = append([]store.Store{st}, cfg.InsertStores...)
	return w
}

// Healthy is false while the store refuses inserts.
func (w *Writer) Healthy() bool { return w.failing.Load() == 0 }

// FailingReason says why inserts fail ("" while they succeed), for /healthz.
func (w *Writer) FailingReason() string {
	if w.Healthy() {
		return ""
	}
	if e := w.lastErr.Load(); e != nil {
		return *e
	}
	return "inserts failing"
}

// batch is what the fetcher hands the insert workers.
type batch struct {
	encoders map[string]tableEncoder
	commits  map[partitionKey]kafka.Message // newest message per partition
	first    time.Time
	// Batches commit in the order the fetcher filled them, whichever
	// worker stores them: a batch commits after the one before it did.
	after *turn // the previous batch's
	turn  *turn // this batch's
}

// turn is one batch's place in the commit order. done is closed once the
// batch committed its offsets (ok) or gave up (not ok: a batch after it
// must not commit either, or offsets would pass data never stored).
type turn struct {
	done chan struct{}
	ok   bool // set before done is closed
}

type partitionKey struct {
	topic     string
	partition int
}

func (w *Writer) newBatch(seen *seriesCache) *batch {
	b := &batch{encoders: map[string]tableEncoder{}, commits: map[partitionKey]kafka.Message{}}
	for _, t := range w.cfg.Topics {
		switch t {
		case records.TopicMetrics, records.TopicSelfMetrics:
			b.encoders[t] = newSamplesEncoder(seen)
		case records.TopicLogs:
			b.encoders[t] = newLogsEncoder()
		case records.TopicSupport:
			b.encoders[t] = &supportEncoder{}
		case records.TopicBands:
			b.encoders[t] = newBandsEncoder()
		case records.TopicAnomalies:
			b.encoders[t] = &anomaliesEncoder{}
		case records.TopicAlerts:
			b.encoders[t] = &alertsEncoder{}
		case records.TopicEvents:
			b.encoders[t] = &eventsEncoder{}
		case records.TopicIncidents:
			b.encoders[t] = &incidentsEncoder{}
		case records.TopicIncidentEvents:
			b.encoders[t] = &timelineEncoder{}
		case records.TopicPatterns:
			b.encoders[t] = &patternsEncoder{}
		case records.TopicLogTemplates:
			b.encoders[t] = &logTemplatesEncoder{}
		}
	}
	return b
}

func (b *batch) rows() int {
	n := 0
	for _, e := range b.encoders {
		n += e.Rows()
	}
	return n
}

func (b *batch) reset() {
	for _, e := range b.encoders {
		e.Reset()
	}
	clear(b.commits)
	b.first = time.Time{}
	b.after, b.turn = nil, nil
}

// Run consumes until ctx is cancelled, then stores and commits what it had
// read (bounded by drainTimeout) and closes the reader.
func (w *Writer) Run(ctx context.Context) error {
	topics := w.existingTopics(ctx)
	w.reader = kafka.NewReader(kafka.ReaderConfig{
		Brokers:               w.cfg.Brokers,
		GroupID:               w.cfg.GroupID,
		GroupTopics:           topics,
		MinBytes:              1,
		MaxBytes:              32 << 20,
		MaxWait:               bus.FetchWait,
		ReadBatchTimeout:      2 * time.Second,
		QueueCapacity:         1000,
		CommitInterval:        0, // synchronous: commit only what was stored
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     2 * time.Second,
		SessionTimeout:        20 * time.Second,
		RebalanceTimeout:      20 * time.Second,
		WatchPartitionChanges: true,
		ReadBackoffMin:        50 * time.Millisecond,
		ReadBackoffMax:        time.Second,
	})
	seen := newSeriesCache(w.cfg.SeriesRefresh.Milliseconds(), 2_000_000)
	n := w.cfg.InsertWorkers
	// One batch fills while up to n are inserted.
	free := make(chan *batch, n+1)
	for range n + 1 {
		free <- w.newBatch(seen)
	}
	full := make(chan *batch, n)
	insertDone := make(chan error, n)
	for i := range n {
		go func() { insertDone <- w.insertLoop(w.stores[i%len(w.stores)], full, free) }()
	}
	go w.watchLag(ctx, topics)

	fetchErr := w.fetchLoop(ctx, full, free)
	w.stoppedAt.Store(time.Now().UnixNano())
	close(full)
	var insErr error
	for range n {
		if err := <-insertDone; err != nil && insErr == nil {
			insErr = err
		}
	}
	if err := w.reader.Close(); err != nil {
		w.log.Warn("closing kafka reader", "err", err)
	}
	if fetchErr != nil && !errors.Is(fetchErr, context.Canceled) {
		return fetchErr
	}
	return insErr
}

func (w *Writer) fetchLoop(ctx context.Context, full chan<- *batch, free <-chan *batch) error {
	last := &turn{done: make(chan struct{}), ok: true}
	close(last.done)
	handOver := func(b *batch) {
		b.after, b.turn = last, &turn{done: make(chan struct{})}
		last = b.turn
		full <- b
	}
	var cur *batch
	fetchFailures := 0
	for {
		if cur == nil {
			select {
			case cur = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		fetchCtx, cancel := ctx, context.CancelFunc(func() {})
		if !cur.first.IsZero() {
			fetchCtx, cancel = context.WithDeadline(ctx, cur.first.Add(w.cfg.MaxBatchWait))
		}
		msg, err := w.reader.FetchMessage(fetchCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				// Shutting down: hand over what was read so it is stored and committed.
				if len(cur.commits) > 0 {
					handOver(cur)
				}
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				handOver(cur)
				cur = nil
				continue
			}
			// The brokers are unreachable or the group is between
			// generations. kafka-go's reader heals by itself (it rejoins
			// once the brokers answer); the error only reports a failed
			// attempt. Returning it would stop the whole process for a
			// broker restart, so keep what was read and try again.
			fetchFailures++
			w.metrics.fetchErrors.Inc()
			if fetchFailures <= 3 || fetchFailures%30 == 0 {
				w.log.Warn("fetch from kafka failed; retrying (what was read is kept)", "err", err, "attempt", fetchFailures)
			}
			sleep(ctx, min(backoff(fetchFailures), 2*time.Second))
			continue
		}
		if fetchFailures > 0 {
			w.log.Info("fetching from kafka again", "after_failures", fetchFailures)
			fetchFailures = 0
		}
		w.metrics.records.Inc()
		if cur.first.IsZero() {
			cur.first = time.Now()
		}
		if err := w.add(ctx, cur, msg); err != nil {
			return err
		}
		cur.commits[partitionKey{msg.Topic, msg.Partition}] = msg
		if cur.rows() >= w.cfg.MaxBatchRows {
			handOver(cur)
			cur = nil
		}
	}
}

// add decodes msg into the batch, or sends it to the dead-letter topic.
func (w *Writer) add(ctx context.Context, b *batch, msg kafka.Message) error {
	enc, ok := b.encoders[msg.Topic]
	var decodeErr error
	if !ok {
		decodeErr = fmt.Errorf("%w: writer has no table for topic %s", records.ErrMalformed, msg.Topic)
	} else {
		decodeErr = enc.Add(msg.Value)
	}
	if decodeErr == nil {
		return nil
	}
	dl := kafka.Message{
		Topic: records.TopicDeadLetter,
		Key:   msg.Key,
		Value: msg.Value,
		Headers: append(append([]kafka.Header(nil), msg.Headers...),
			kafka.Header{Key: records.HeaderSourceTopic, Value: []byte(msg.Topic)},
			kafka.Header{Key: records.HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(msg.Partition), 10)},
			kafka.Header{Key: records.HeaderSourceOffset, Value: strconv.AppendInt(nil, msg.Offset, 10)},
			kafka.Header{Key: records.HeaderError, Value: []byte(decodeErr.Error())},
		),
	}
	// The dead letter must be acknowledged before its offset can be
	// committed with the batch: retry until it is, or shutdown.
	for attempt := 0; ; attempt++ {
		err := w.dlq.Publish(ctx, dl)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.log.Warn("dead-letter publish failed, retrying", "err", err, "attempt", attempt)
		sleep(ctx, backoff(attempt))
	}
	w.metrics.deadLetters.WithLabelValues(msg.Topic).Inc()
	w.log.Warn("record sent to dead-letter topic", "topic", msg.Topic, "partition", msg.Partition,
		"offset", msg.Offset, "err", decodeErr)
	return nil
}

// drainTimeout bounds the final insert and commit at shutdown so SIGTERM
// completes within 10 s.
const drainTimeout = 7 * time.Second

// insertLoop is one insert worker: it stores the batches it takes from
// full on st and commits each in its turn. With several workers, a batch
// may be stored before the one read just before it: a point can then be
// visible for a moment before its series row, never for longer.
func (w *Writer) insertLoop(st store.Store, full <-chan *batch, free chan<- *batch) error {
	var firstErr error
	for b := range full {
		// Not the consumer's context: a batch already read is stored even
		// while shutting down (store1 bounds that by drainTimeout).
		err := w.store1(context.Background(), st, b)
		<-b.after.done
		b.turn.ok = err == nil && b.after.ok
		if b.turn.ok {
			w.commit(b)
		}
		close(b.turn.done)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		b.reset()
		free <- b
	}
	return firstErr
}

// store1 inserts every block of b on st, retrying with backoff until the
// store takes them. Once the fetcher has stopped (shutdown), retries stop
// after drainTimeout and the batch is left uncommitted (and every batch
// after it), to be replayed by the next owner of its partitions.
func (w *Writer) store1(ctx context.Context, st store.Store, b *batch) error {
	start := time.Now()
	var blocks []*store.Block
	mainRows := 0
	for _, e := range b.encoders {
		blocks = append(blocks, e.Blocks()...)
		mainRows += e.Rows()
	}
	failing := false
	defer func() {
		if failing && w.failing.Add(-1) == 0 {
			w.metrics.backoff.Set(0)
		}
	}()
	for attempt := 0; ; attempt++ {
		err := insertAll(ctx, st, blocks)
		if err == nil {
			break
		}
		w.metrics.insertErrors.Inc()
		msg := err.Error()
		w.lastErr.Store(&msg)
		if !failing {
			failing = true
			w.failing.Add(1)
		}
		if at := w.stoppedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) > drainTimeout {
			return fmt.Errorf("store did not take the last batch before shutdown (it will be replayed): %w", err)
		}
		wait := backoff(attempt)
		w.metrics.backoff.Set(wait.Seconds())
		w.log.Warn("insert failed, retrying", "err", err, "attempt", attempt, "rows", mainRows, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-w.wakeChan():
			t.Stop()
		}
	}
	if w.failing.Load() > 0 {
		w.wakeRetriers()
	}
	w.metrics.insertSeconds.Observe(time.Since(start).Seconds())
	w.metrics.batchRows.Observe(float64(mainRows))
	for _, blk := range blocks {
		n, _ := blk.Rows()
		w.metrics.rows.WithLabelValues(blk.Table).Add(float64(n))
	}
	return nil
}

func (w *Writer) wakeChan() <-chan struct{} {
	w.wakeMu.Lock()
	defer w.wakeMu.Unlock()
	if w.wake == nil {
		w.wake = make(chan struct{})
	}
	return w.wake
}

func (w *Writer) wakeRetriers() {
	w.wakeMu.Lock()
	defer w.wakeMu.Unlock()
	if w.wake != nil {
		close(w.wake)
		w.wake = nil
	}
}

// commit commits b's offsets (after b and every batch before it were
// stored).
func (w *Writer) commit(b *batch) {
	msgs := make([]kafka.Message, 0, len(b.commits))
	for _, m := range b.commits {
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := w.reader.CommitMessages(cctx, msgs...); err != nil {
		// Stored but not committed: the next owner replays it, and the
		// content keys make the replay invisible. Not fatal.
		w.log.Warn("offset commit failed; the batch will be replayed and deduplicated", "err", err)
	}
}

func insertAll(ctx context.Context, st store.Store, blocks []*store.Block) error {
	for _, blk := range blocks {
		if err := st.Insert(ctx, blk); err != nil {
			return fmt.Errorf("insert into %s: %w", blk.Table, err)
		}
	}
	return nil
}

// existingTopics returns the configured topics the brokers have. kafka-go
// assigns no partition of any topic while one of a group's topics is
// missing, so a topic not created yet (a deployment that predates it) would
// stall all the others: it is left out, with a warning, until the next
// start. If the brokers cannot say, every topic is kept.
func (w *Writer) existingTopics(ctx context.Context) []string {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(w.cfg.Brokers...), Timeout: 10 * time.Second}
	md, err := client.Metadata(mctx, &kafka.MetadataRequest{Topics: w.cfg.Topics})
	if err != nil {
		w.log.Warn("cannot list topics; subscribing to all of them", "err", err)
		return w.cfg.Topics
	}
	exists := map[string]bool{}
	for _, t := range md.Topics {
		if t.Error == nil && len(t.Partitions) > 0 {
			exists[t.Name] = true
		}
	}
	var have []string
	for _, t := range w.cfg.Topics {
		if exists[t] {
			have = append(have, t)
		} else {
			w.log.Warn("topic does not exist: not stored until it is created and the writer restarts", "topic", t)
		}
	}
	if len(have) == 0 {
		return w.cfg.Topics // nothing to lose by waiting for all of them
	}
	return have
}

// watchLag measures the group's lag from the broker, not from kafka-go's
// reader: the reader only updates its figure when it fetches, and while the
// store is down the writer stops fetching (its batches are full), so the
// reader's lag froze exactly when an operator needs to see it rise.
func (w *Writer) watchLag(ctx context.Context, topics []string) {
	client := &kafka.Client{Addr: kafka.TCP(w.cfg.Brokers...), Timeout: 5 * time.Second}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lag, err := groupLag(ctx, client, w.cfg.GroupID, topics)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Debug("measuring writer lag", "err", err)
				}
				continue // keep the last figure rather than report 0
			}
			w.metrics.lag.Set(float64(lag))
		}
	}
}

// groupLag is the sum over the topics' partitions of newest offset minus the
// group's committed offset (the oldest offset where nothing is committed).
func groupLag(ctx context.Context, client *kafka.Client, group string, topics []string) (int64, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return 0, err
	}
	parts := map[string][]int{}
	ends := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		if t.Error != nil {
			continue
		}
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			ends[t.Name] = append(ends[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(parts) == 0 {
		return 0, nil
	}
	offsets, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: ends})
	if err != nil {
		return 0, err
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return 0, err
	}
	if committed.Error != nil {
		return 0, committed.Error
	}
	done := map[partitionKey]int64{}
	for topic, ps := range committed.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset >= 0 {
				done[partitionKey{topic, p.Partition}] = p.CommittedOffset
			}
		}
	}
	var lag int64
	for topic, ps := range offsets.Topics {
		for _, p := range ps {
			if p.Error != nil {
				continue
			}
			from, ok := done[partitionKey{topic, p.Partition}]
			if !ok {
				from = p.FirstOffset
			}
			lag += max(0, p.LastOffset-from)
		}
	}
	return lag, nil
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 7)
	return min(d, 10*time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
