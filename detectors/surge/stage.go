package surge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// StageConfig tunes the complaint-surge stage.
type StageConfig struct {
	Brokers []string
	GroupID string // default firebreak-surge
	Engine  Config
	// CheckpointEvery: default 30s.
	CheckpointEvery time.Duration
}

// Publisher sends records and returns once Kafka acknowledged them.
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Stage consumes firebreak.support (keyed by service, so a service's
// messages and its state stay in one partition) and publishes surges to
// firebreak.anomalies. Each partition's whole state and the offset it
// reflects are one record on the compacted detector-state topic, so a
// checkpoint is atomic.
type Stage struct {
	cfg       StageConfig
	pub       Publisher
	log       *slog.Logger
	messages  prometheus.Counter
	events    *prometheus.CounterVec
	malformed prometheus.Counter
}

// NewStage builds the stage.
func NewStage(cfg StageConfig, pub Publisher, reg prometheus.Registerer, log *slog.Logger) *Stage {
	if cfg.GroupID == "" {
		cfg.GroupID = "firebreak-surge"
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 30 * time.Second
	}
	s := &Stage{cfg: cfg, pub: pub, log: log,
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_surge_messages_total",
			Help: "Support messages counted by the complaint-surge detector."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "firebreak_surge_events_total",
			Help: "Complaint-surge events published, by state."}, []string{"state"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Name: "firebreak_surge_malformed_total",
			Help: "Support records the surge detector could not decode (the writer dead-letters them)."}),
	}
	reg.MustRegister(s.messages, s.events, s.malformed)
	return s
}

// Run detects until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	return bus.ConsumePartitions(ctx, s.cfg.Brokers, s.cfg.GroupID, records.TopicSupport, s.log, s.partition)
}

// checkpoint is a partition's state record.
type checkpoint struct {
	Offset int64   `json:"offset"`
	Engine *Engine `json:"engine"`
}

var stateKey = []byte("complaint-surge")

func (s *Stage) partition(ctx context.Context, gen *kafka.Generation, id int) error {
	cp, err := s.restore(ctx, id)
	if err != nil {
		return err
	}
	cp.Engine.SetConfig(s.cfg.Engine)
	if cp.Engine.FirstMs == 0 {
		cp.Engine.FirstMs = time.Now().UnixMilli() // watching from now on
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.cfg.Brokers, Topic: records.TopicSupport, Partition: id,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: bus.FetchWait})
	defer r.Close()
	start := cp.Offset
	if start < 0 {
		start = kafka.FirstOffset
	}
	if err := r.SetOffset(start); err != nil {
		return err
	}
	last := time.Now()
	for {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		msg, err := r.FetchMessage(fctx)
		cancel()
		var out []records.Anomaly
		switch {
		case err == nil:
			cp.Offset = msg.Offset + 1
			m, derr := records.DecodeSupport(msg.Value)
			if derr != nil {
				s.malformed.Inc()
				break
			}
			s.messages.Inc()
			out = cp.Engine.Observe(m)
		case ctx.Err() != nil:
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return s.save(cctx, gen, id, cp)
		case errors.Is(err, context.DeadlineExceeded):
			// Caught up: let the minutes of live keys close on the wall clock.
			if cp.Engine.NewestMs > time.Now().Add(-5*time.Minute).UnixMilli() {
				out = cp.Engine.Tick(time.Now().UnixMilli())
			}
		default:
			return fmt.Errorf("surge: fetch: %w", err)
		}
		if err := s.publish(ctx, out); err != nil {
			return err
		}
		if time.Since(last) >= s.cfg.CheckpointEvery {
			last = time.Now()
			if err := s.save(ctx, gen, id, cp); err != nil {
				return err
			}
		}
	}
}

func (s *Stage) publish(ctx context.Context, out []records.Anomaly) error {
	if len(out) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(out))
	for i := range out {
		v, err := records.EncodeAnomaly(&out[i])
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: records.TopicAnomalies, Key: out[i].Key(), Value: v})
		s.events.WithLabelValues(out[i].State).Inc()
	}
	for attempt := 0; ; attempt++ {
		err := s.pub.Publish(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		bus.Sleep(ctx, bus.Backoff(attempt))
	}
}

func (s *Stage) save(ctx context.Context, gen *kafka.Generation, id int, cp *checkpoint) error {
	if cp.Offset < 0 {
		return nil
	}
	v, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := s.pub.Publish(ctx, kafka.Message{Topic: records.TopicDetectorState, Key: stateKey, Value: v,
		Headers: []kafka.Header{{Key: records.HeaderPartition, Value: strconv.AppendInt(nil, int64(id), 10)}}}); err != nil {
		return fmt.Errorf("surge: checkpoint: %w", err)
	}
	if gen != nil {
		gen.CommitOffsets(map[string]map[int]int64{records.TopicSupport: {id: cp.Offset}})
	}
	return nil
}

// restore finds the partition's newest state record.
func (s *Stage) restore(ctx context.Context, id int) (*checkpoint, error) {
	cp := &checkpoint{Offset: -1, Engine: NewEngine(s.cfg.Engine)}
	var newest []byte
	err := bus.ReadToEnd(ctx, s.cfg.Brokers, records.TopicDetectorState, id, func(m kafka.Message) error {
		if string(m.Key) == string(stateKey) {
			newest = m.Value
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("surge: read checkpoint: %w", err)
	}
	if newest != nil {
		var got checkpoint
		if err := json.Unmarshal(newest, &got); err != nil || got.Engine == nil {
			s.log.Warn("complaint-surge checkpoint unreadable; starting over", "partition", id, "err", err)
			return cp, nil
		}
		if got.Engine.Keys == nil {
			got.Engine.Keys = map[string]*KeyState{}
		}
		cp = &got
	}
	return cp, nil
}
