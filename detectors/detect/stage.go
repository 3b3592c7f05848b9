// Package detect is the detector stage: a Kafka consumer group of its own
// ("firebreak-detect") over the metrics topic. Each assigned partition has
// its own state (one anomaly.Detector per series, predictive rule states,
// silence tracking) restored from the compacted checkpoint topic, and
// publishes bands and anomalies to their topics for the writer (only the
// writer writes ClickHouse) and the alerter.
//
// Exactly-once learning without transactions: a checkpoint holds every
// series' state and the offset it reflects. A restart resumes at that
// offset; points a series has already learned (a checkpoint taken later
// than the offset marker, or a replay) are recognized by event time (a
// series learns only points newer than its last) and skipped, so nothing
// is counted twice. Bands and anomalies re-published by a replay carry the
// same content keys and collapse in the store.
package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Config tunes the stage.
type Config struct {
	Brokers []string
	// GroupID is the consumer group; detectors sharing it split partitions.
	GroupID string
	// Detector is the anomaly detector's configuration (one for all series).
	Detector anomaly.Config
	// Rules are the predictive rules (see forecast.LoadRules).
	Rules []*forecast.Rule
	// BandEvery publishes at most one band per series per interval of
	// event time; 0 publishes one per point.
	BandEvery time.Duration
	// OpenScore: a point whose anomaly score reaches it is anomalous.
	// Default 0.7 (a tail probability of about 10^-6 for the recent
	// deviations).
	OpenScore float64
	// ResolvePoints normal points in a row close an open anomaly.
	// Default 5.
	ResolvePoints int
	// SilenceFactor × the learned cadence (at least SilenceMin) without a
	// point opens a silence. Defaults 4 and 1m.
	SilenceFactor float64
	SilenceMin    time.Duration
	// SilenceForget drops a series silent this long (its state and its
	// checkpoint). Default 24h.
	SilenceForget time.Duration
	// CheckpointEvery is the interval between checkpoints. Default 30s.
	CheckpointEvery time.Duration
	// ServiceLabels name the label that says which service a series
	// belongs to, first match wins. Default service, service_name, job.
	ServiceLabels []string
}

func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = "firebreak-detect"
	}
	if c.OpenScore <= 0 {
		c.OpenScore = 0.7
	}
	if c.ResolvePoints <= 0 {
		c.ResolvePoints = 5
	}
	if c.SilenceFactor <= 0 {
		c.SilenceFactor = 4
	}
	if c.SilenceMin <= 0 {
		c.SilenceMin = time.Minute
	}
	if c.SilenceForget <= 0 {
		c.SilenceForget = 24 * time.Hour
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 30 * time.Second
	}
	if len(c.ServiceLabels) == 0 {
		c.ServiceLabels = []string{"service", "service_name", "job"}
	}
	return c
}

// Publisher sends records and returns once Kafka acknowledged them
// (bus.Producer).
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Stage is the detector stage.
type Stage struct {
	cfg     Config
	pub     Publisher
	log     *slog.Logger
	metrics *metrics

	mu         sync.Mutex
	partitions map[int]*partition // owned now, for Healthy and tests
}

// New builds the stage; Run starts it.
func New(cfg Config, pub Publisher, reg prometheus.Registerer, log *slog.Logger) *Stage {
	return &Stage{cfg: cfg.withDefaults(), pub: pub, log: log, metrics: newMetrics(reg),
		partitions: map[int]*partition{}}
}

// Run joins the consumer group and detects on every assigned partition
// until ctx ends; at the end each partition checkpoints.
func (s *Stage) Run(ctx context.Context) error {
	return bus.ConsumePartitions(ctx, s.cfg.Brokers, s.cfg.GroupID, records.TopicMetrics, s.log, s.detectPartition)
}

// Series reports how many series the stage holds now.
func (s *Stage) Series() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.partitions {
		n += int(p.nSeries.Load())
	}
	return n
}

func (s *Stage) detectPartition(ctx context.Context, gen *kafka.Generation, id int) error {
	start := time.Now()
	p := newPartition(s, id)
	offset, err := p.restore(ctx)
	if err != nil {
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	s.metrics.restoreSeconds.Observe(time.Since(start).Seconds())
	s.log.Info("detector partition assigned", "partition", id, "series_restored", len(p.series),
		"resume_offset", offset, "took", time.Since(start).Round(time.Millisecond))
	s.mu.Lock()
	s.partitions[id] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.partitions, id)
		s.mu.Unlock()
		s.metrics.series.Sub(float64(len(p.series)))
	}()

	r, err := bus.PartitionReader(s.cfg.Brokers, records.TopicMetrics, id, offset)
	if err != nil {
		return err
	}
	defer r.Close()
	return p.loop(ctx, r, gen)
}

// loop reads the partition, flushing outputs and checkpointing as it goes.
// However it leaves because ctx ended (shutdown or rebalance), even in the
// middle of a flush, it checkpoints with a context of its own so the next
// owner resumes exactly here; bounded so a rebalance is not held up.
func (p *partition) loop(ctx context.Context, r *kafka.Reader, gen *kafka.Generation) error {
	err := p.read(ctx, r, gen)
	if ctx.Err() == nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.checkpoint(cctx, gen)
}

func (p *partition) read(ctx context.Context, r *kafka.Reader, gen *kafka.Generation) error {
	cfg := &p.stage.cfg
	lastCheckpoint, lastFlush, lastSilence := time.Now(), time.Now(), time.Now()
	// Silences are looked for every second of wall time and also whenever
	// the partition's event time has moved on by silenceStep: when data
	// runs faster than real time (a catch-up, a replay, the demo's
	// --speed) a second of wall time is minutes of event time, and a
	// silence found that late would reach the alerter after the anomalies
	// it explains (a dependent's stale stock age paged on its own). A
	// check walks every series, so checks are spaced by twenty times the
	// last one's duration: at most 1/20 of the loop.
	silenceStep := max(cfg.SilenceMin.Milliseconds()/4, 1)
	var silenceClock int64
	var silenceCost time.Duration
	for {
		fctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		msg, err := r.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
			p.caughtUp = false
			if err := p.consume(msg); err != nil {
				return err
			}
			p.nextOffset = msg.Offset + 1
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			p.caughtUp = true
		default:
			return fmt.Errorf("fetch: %w", err)
		}
		now := time.Now()
		if now.Sub(lastSilence) >= time.Second ||
			(p.watermark-silenceClock >= silenceStep && now.Sub(lastSilence) >= 20*silenceCost) {
			lastSilence, silenceClock = now, p.watermark
			p.checkSilence(now)
			silenceCost = time.Since(now)
		}
		if p.pendingBytes() >= 512<<10 || (p.pendingBytes() > 0 && (p.caughtUp || now.Sub(lastFlush) >= 200*time.Millisecond)) {
			lastFlush = now
			if err := p.flush(ctx); err != nil {
				return err
			}
		}
		if now.Sub(lastCheckpoint) >= cfg.CheckpointEvery {
			lastCheckpoint = now
			if err := p.checkpoint(ctx, gen); err != nil {
				return err
			}
		}
	}
}

func partitionHeader(id int) kafka.Header {
	return kafka.Header{Key: records.HeaderPartition, Value: strconv.AppendInt(nil, int64(id), 10)}
}
