// Package logdetect is the log-pattern detector stage: a Kafka consumer
// group of its own ("firebreak-logdetect") over the logs topic. Each
// assigned partition mines its lines with one logpatterns.Miner per
// service and publishes, for the writer and the alerter:
//
//   - every line's template id (firebreak.log-templates), so a stored line
//     joins to its template;
//   - per service and template, each minute's counts (all, errors,
//     warnings) with a sample line, every new template, and every id
//     change of a template (firebreak.patterns);
//   - log_pattern anomalies (firebreak.anomalies): a new template after
//     the service's warm-up, a template's rate far above its baseline, a
//     surge of error and warning lines.
//
// State (miners, rates, open minutes) is checkpointed per service to the
// compacted detector-state topic, in chunks, with the logs offset it
// reflects, as detectors/detect does for metrics: a restart or a takeover
// resumes without relearning, and a replay is not counted twice (each
// service remembers the newest logs offset it learned). See
// docs/log-patterns.md.
package logdetect

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

	"github.com/firebreak-aiops/firebreak/detectors/logpatterns"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Config tunes the stage. The zero value of a field means its default.
type Config struct {
	Brokers []string
	// GroupID is the consumer group; stages sharing it split partitions.
	// Default firebreak-logdetect.
	GroupID string
	// Miner configures every service's template miner.
	Miner logpatterns.Config
	// HeaderFormat, when set, splits each body with a Loghub-style format
	// and mines its <Content>; otherwise leading timestamps and levels are
	// dropped (logpatterns.StripHeader) unless RawBody is set.
	HeaderFormat *logpatterns.HeaderFormat
	RawBody      bool
	// MaxServices bounds the services one partition holds; the least
	// recently seen is dropped for a new one. Default 1000.
	MaxServices int
	// MaxTemplates bounds one service's templates: a service beyond it
	// (its lines do not form templates) is relearned. Default 5000.
	MaxTemplates int
	// A service's new templates are reported once it has logged
	// WarmupLines lines over at least WarmupTime of event time.
	// Defaults 1000 and 10m.
	WarmupLines int
	WarmupTime  time.Duration
	// Lateness is how long, in event time, a minute stays open after the
	// service's newest line passed its end; later lines of it are mined
	// but not counted in its minute. Default 30s, at most 2m.
	Lateness time.Duration
	// IdleClose closes the open minutes of a service that stopped logging
	// once the partition's clock is this far past them. Default 3m.
	IdleClose time.Duration
	// Rates (a template's lines, a service's error and warning lines per
	// minute) are robust EWMAs with weight RateAlpha per minute (default
	// 0.1). A minute surges when its count is at least SurgeMinCount
	// (default 20), SurgeFactor times the baseline (default 3) and
	// SurgeSigmas robust deviations above it (default 6), once the rate
	// has RateWarmup minutes of history (default 10m).
	RateAlpha     float64
	SurgeMinCount int
	SurgeFactor   float64
	SurgeSigmas   float64
	RateWarmup    time.Duration
	// CheckpointEvery is the interval between checkpoints. Default 30s.
	CheckpointEvery time.Duration
	// ChunkBytes bounds one checkpoint record. Default 512 KiB.
	ChunkBytes int
}

func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = "firebreak-logdetect"
	}
	if c.MaxServices <= 0 {
		c.MaxServices = 1000
	}
	if c.MaxTemplates <= 0 {
		c.MaxTemplates = 5000
	}
	if c.WarmupLines <= 0 {
		c.WarmupLines = 1000
	}
	if c.WarmupTime <= 0 {
		c.WarmupTime = 10 * time.Minute
	}
	if c.Lateness <= 0 {
		c.Lateness = 30 * time.Second
	}
	c.Lateness = min(c.Lateness, 2*time.Minute)
	if c.IdleClose <= 0 {
		c.IdleClose = 3 * time.Minute
	}
	if c.RateAlpha <= 0 || c.RateAlpha >= 1 {
		c.RateAlpha = 0.1
	}
	if c.SurgeMinCount <= 0 {
		c.SurgeMinCount = 20
	}
	if c.SurgeFactor <= 0 {
		c.SurgeFactor = 3
	}
	if c.SurgeSigmas <= 0 {
		c.SurgeSigmas = 6
	}
	if c.RateWarmup <= 0 {
		c.RateWarmup = 10 * time.Minute
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 30 * time.Second
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 512 << 10
	}
	c.ChunkBytes = max(c.ChunkBytes, 1024)
	return c
}

// Publisher sends records and returns once Kafka acknowledged them
// (bus.Producer).
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Stage is the log-pattern detector stage.
type Stage struct {
	cfg        Config
	thresholds thresholds
	pub        Publisher
	log        *slog.Logger
	metrics    *metrics
	headers    sync.Map // partition → kafka.Header

	mu         sync.Mutex
	partitions map[int]*partition // owned now, for Services, Templates and tests
}

// New builds the stage; Run starts it.
func New(cfg Config, pub Publisher, reg prometheus.Registerer, log *slog.Logger) *Stage {
	cfg = cfg.withDefaults()
	return &Stage{cfg: cfg, pub: pub, log: log, metrics: newMetrics(reg), partitions: map[int]*partition{},
		thresholds: thresholds{alpha: cfg.RateAlpha, sigmas: cfg.SurgeSigmas, factor: cfg.SurgeFactor,
			minCount: float64(cfg.SurgeMinCount), warmMinutes: int(cfg.RateWarmup / time.Minute)}}
}

// Run joins the consumer group and mines every assigned partition until
// ctx ends; at the end each partition checkpoints.
func (s *Stage) Run(ctx context.Context) error {
	return bus.ConsumePartitions(ctx, s.cfg.Brokers, s.cfg.GroupID, records.TopicLogs, s.log, s.minePartition)
}

// Services and Templates report how many services and templates the stage
// holds now.
func (s *Stage) Services() int { return s.sum(func(p *partition) int64 { return p.nServices.Load() }) }
func (s *Stage) Templates() int {
	return s.sum(func(p *partition) int64 { return p.nTemplates.Load() })
}

func (s *Stage) sum(f func(*partition) int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(0)
	for _, p := range s.partitions {
		n += f(p)
	}
	return int(n)
}

func (s *Stage) minePartition(ctx context.Context, gen *kafka.Generation, id int) error {
	start := time.Now()
	p := newPartition(s, id)
	offset, err := p.restore(ctx)
	if err != nil {
		p.remove()
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	s.metrics.restoreSeconds.Observe(time.Since(start).Seconds())
	s.log.Info("log detector partition assigned", "partition", id, "services_restored", len(p.services),
		"templates_restored", p.nTemplates.Load(), "resume_offset", offset, "took", time.Since(start).Round(time.Millisecond))
	s.mu.Lock()
	s.partitions[id] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.partitions, id)
		s.mu.Unlock()
		p.remove()
	}()

	r, err := bus.PartitionReader(s.cfg.Brokers, records.TopicLogs, id, offset)
	if err != nil {
		return err
	}
	defer r.Close()
	return p.loop(ctx, r, gen)
}

// loop reads the partition, flushing outputs and checkpointing as it goes.
func (p *partition) loop(ctx context.Context, r *kafka.Reader, gen *kafka.Generation) error {
	cfg := &p.stage.cfg
	lastCheckpoint, lastFlush, lastIdle := time.Now(), time.Now(), time.Now()
	// leave checkpoints when the partition is revoked or the process
	// stops, so the next owner resumes exactly here; bounded so a
	// rebalance is not held up, and on a context of its own (the
	// generation's has ended).
	leave := func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return p.checkpoint(cctx, gen)
	}
	// Publishing is not cut short by the end of the generation: a write
	// cancelled half way would be re-sent whole by the checkpoint on the
	// way out (duplicates the store would collapse, but needless).
	bounded := func(f func(context.Context) error) error {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return f(bctx)
	}
	for {
		fctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		msg, err := r.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
			p.caughtUp = false
			p.consume(msg)
			p.nextOffset = msg.Offset + 1
		case ctx.Err() != nil:
			return leave()
		case errors.Is(err, context.DeadlineExceeded):
			p.caughtUp = true
		default:
			return fmt.Errorf("fetch: %w", err)
		}
		now := time.Now()
		if now.Sub(lastIdle) >= time.Second {
			lastIdle = now
			p.closeIdle(now)
		}
		if n := p.pendingBytes(); n >= 512<<10 || (n > 0 && (p.caughtUp || now.Sub(lastFlush) >= 200*time.Millisecond)) {
			lastFlush = now
			if err := bounded(p.flush); err != nil {
				if ctx.Err() != nil {
					return leave() // revoked while publishing
				}
				return err
			}
		}
		if now.Sub(lastCheckpoint) >= cfg.CheckpointEvery {
			lastCheckpoint = now
			if err := bounded(func(c context.Context) error { return p.checkpoint(c, gen) }); err != nil {
				if ctx.Err() != nil {
					return leave()
				}
				return err
			}
		}
	}
}

// publish sends msgs, retrying until Kafka takes them or ctx ends.
func (s *Stage) publish(ctx context.Context, part int, msgs []kafka.Message) error {
	for attempt := 0; ; attempt++ {
		err := s.pub.Publish(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("log detector could not publish, retrying", "partition", part, "err", err, "attempt", attempt)
		bus.Sleep(ctx, bus.Backoff(attempt))
	}
}

// header pins a record to a partition (records.HeaderPartition).
func (s *Stage) header(id int) kafka.Header {
	if h, ok := s.headers.Load(id); ok {
		return h.(kafka.Header)
	}
	h := kafka.Header{Key: records.HeaderPartition, Value: strconv.AppendInt(nil, int64(id), 10)}
	s.headers.Store(id, h)
	return h
}
