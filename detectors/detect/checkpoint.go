package detect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/anomaly"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Checkpoints live in records.TopicDetectorState (compacted), in the
// partition of the metrics partition they reflect, as two kinds of record:
//
//	key "s" + series id (8 bytes BE): the series' state (encodeSeries);
//	  an empty value (tombstone) when a series was forgotten;
//	key "offset": the metrics offset every series record before it
//	  reflects, as 8 bytes BE, written after the series records.
//
// Only series that changed since the last checkpoint are written;
// compaction keeps the newest record of each key. A crash between series
// records and the offset record is harmless: series then hold points
// newer than the offset, and replayed points older than a series' newest
// are skipped (see series.observe).
const (
	stateMagic   = 'D'
	stateVersion = 1
)

var offsetKey = []byte("offset")

func seriesKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'s'}, id)
}

func encodeSeries(dst []byte, s *series) []byte {
	dst = append(dst, stateMagic, stateVersion)
	dst = binary.LittleEndian.AppendUint64(dst, s.id)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.lastTs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.lastBandTs))
	dst = binary.LittleEndian.AppendUint16(dst, s.normalRun)
	var flags byte
	for i, b := range []bool{s.anomalous, s.silent, s.retired} {
		if b {
			flags |= 1 << i
		}
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(s.labels)))
	for _, l := range s.labels {
		dst = appendString(dst, l.Name)
		dst = appendString(dst, l.Value)
	}
	dst = s.det.AppendSnapshot(dst)
	dst = binary.AppendUvarint(dst, uint64(len(s.rules)))
	for _, r := range s.rules {
		dst = appendString(dst, r.rule.Name)
		dst = forecast.AppendState(dst, &r.st)
	}
	return dst
}

var errState = errors.New("detector checkpoint record malformed")

func (p *partition) decodeSeries(b []byte) (*series, error) {
	if len(b) < 2 || b[0] != stateMagic || b[1] != stateVersion {
		return nil, fmt.Errorf("%w: bad magic or version", errState)
	}
	b = b[2:]
	if len(b) < 27 {
		return nil, fmt.Errorf("%w: truncated", errState)
	}
	s := &series{
		id:         binary.LittleEndian.Uint64(b),
		lastTs:     int64(binary.LittleEndian.Uint64(b[8:])),
		lastBandTs: int64(binary.LittleEndian.Uint64(b[16:])),
		normalRun:  binary.LittleEndian.Uint16(b[24:]),
	}
	flags := b[26]
	s.anomalous, s.silent, s.retired = flags&1 != 0, flags&2 != 0, flags&4 != 0
	b = b[27:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: label count", errState)
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		var name, value string
		var ok bool
		if name, b, ok = readString(b); !ok {
			return nil, fmt.Errorf("%w: label", errState)
		}
		if value, b, ok = readString(b); !ok {
			return nil, fmt.Errorf("%w: label", errState)
		}
		s.labels = append(s.labels, records.Label{Name: name, Value: value})
	}
	if len(b) < anomaly.SnapshotSize {
		return nil, fmt.Errorf("%w: truncated detector", errState)
	}
	if err := s.det.RestoreSnapshot(b[:anomaly.SnapshotSize]); err != nil {
		return nil, err
	}
	b = b[anomaly.SnapshotSize:]
	nr, k := binary.Uvarint(b)
	if k <= 0 || nr > uint64(len(b)) {
		return nil, fmt.Errorf("%w: rule count", errState)
	}
	b = b[k:]
	for i := uint64(0); i < nr; i++ {
		name, rest, ok := readString(b)
		if !ok || len(rest) < forecast.StateSize {
			return nil, fmt.Errorf("%w: rule state", errState)
		}
		rs := ruleState{rule: &forecast.Rule{Name: name}}
		if err := forecast.ReadState(rest, &rs.st); err != nil {
			return nil, err
		}
		s.rules = append(s.rules, rs)
		b = rest[forecast.StateSize:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errState, len(b))
	}
	// Rules are matched anew (the rule file may have changed); states of
	// rules that still match are kept by name.
	p.describe(s)
	return s, nil
}

// checkpoint publishes pending outputs, then the changed series, then the
// offset they reflect, and commits that offset for the group (so lag
// shows how far detection is behind).
func (p *partition) checkpoint(ctx context.Context, gen *kafka.Generation) error {
	if p.nextOffset < 0 {
		return nil // nothing consumed since assignment
	}
	start := time.Now()
	if err := p.flush(ctx); err != nil {
		return err
	}
	hdr := []kafka.Header{partitionHeader(p.id)}
	var msgs []kafka.Message
	var size int
	send := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := p.stage.pub.Publish(ctx, msgs...); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
		msgs, size = msgs[:0], 0
		return nil
	}
	written := 0
	for _, s := range p.series {
		if !s.dirty {
			continue
		}
		v := encodeSeries(nil, s)
		msgs = append(msgs, kafka.Message{Topic: records.TopicDetectorState, Key: seriesKey(s.id), Value: v, Headers: hdr})
		size += len(v)
		written++
		if size >= 4<<20 {
			if err := send(); err != nil {
				return err
			}
		}
	}
	for _, id := range p.forgotten {
		msgs = append(msgs, kafka.Message{Topic: records.TopicDetectorState, Key: seriesKey(id), Headers: hdr})
	}
	if err := send(); err != nil {
		return err
	}
	msgs = append(msgs, kafka.Message{Topic: records.TopicDetectorState, Key: offsetKey,
		Value: binary.BigEndian.AppendUint64(nil, uint64(p.nextOffset)), Headers: hdr})
	if err := send(); err != nil {
		return err
	}
	for _, s := range p.series {
		s.dirty = false
	}
	p.forgotten = p.forgotten[:0]
	if gen != nil {
		if err := gen.CommitOffsets(map[string]map[int]int64{records.TopicMetrics: {p.id: p.nextOffset}}); err != nil {
			p.stage.log.Warn("detector offset commit failed (the checkpoint holds the offset)", "partition", p.id, "err", err)
		}
	}
	p.stage.metrics.checkpointSeconds.Observe(time.Since(start).Seconds())
	p.stage.metrics.checkpointSeries.Add(float64(written))
	return nil
}

// restore reads the partition's checkpoint records from the start of the
// state topic partition to its end, and returns the offset to resume the
// metrics partition from (-1: none, start at the beginning).
func (p *partition) restore(ctx context.Context) (int64, error) {
	latest := map[uint64][]byte{}
	offset := int64(-1)
	err := bus.ReadToEnd(ctx, p.stage.cfg.Brokers, records.TopicDetectorState, p.id, func(msg kafka.Message) error {
		switch {
		case string(msg.Key) == string(offsetKey) && len(msg.Value) == 8:
			offset = int64(binary.BigEndian.Uint64(msg.Value))
		case len(msg.Key) == 9 && msg.Key[0] == 's':
			id := binary.BigEndian.Uint64(msg.Key[1:])
			if len(msg.Value) == 0 {
				delete(latest, id)
			} else {
				latest[id] = msg.Value
			}
		}
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("read checkpoint: %w", err)
	}
	for _, v := range latest {
		s, err := p.decodeSeries(v)
		if err != nil {
			// A model from another build, or damage: that series relearns.
			p.stage.metrics.restoreErrors.Inc()
			p.stage.log.Warn("detector series state not restored; it relearns", "partition", p.id, "err", err)
			continue
		}
		p.add(s)
		if s.lastTs > p.watermark {
			p.advanceWatermark(s.lastTs)
		}
	}
	p.stage.metrics.restoredSeries.Add(float64(len(p.series)))
	return offset, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}
