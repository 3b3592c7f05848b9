package logdetect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/detectors/internal/statebuf"
	"github.com/firebreak-aiops/firebreak/detectors/logpatterns"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// Checkpoints live in records.TopicDetectorState (compacted, shared with
// detectors/detect), in the partition of the logs partition they reflect
// (records.HeaderPartition), as two kinds of record whose keys cannot
// collide with the metrics detector's ("s" + 8 bytes, "offset"):
//
//	key "L" + service + "/" + chunk index (decimal): one chunk of the
//	  service's state (encodeService), at most ChunkBytes; an empty value
//	  (tombstone) deletes a chunk no longer used;
//	key "Loffset": the logs offset every chunk before it reflects, 8 bytes
//	  BE, written after the chunks.
//
// A chunk value is
//
//	'L', version 1, uint64 LE generation (the offset of the checkpoint that
//	wrote it), uvarint index, uvarint chunk count, uvarint state length,
//	uint64 LE xxhash64 of the whole state, then its part of the state.
//
// A state is restored only when all its chunks carry the same generation
// and the assembled bytes have the hash; otherwise (a crash in the middle
// of a service's chunks) that service relearns. Only services that changed
// since the last checkpoint are written. A crash between the chunks and
// the offset record is harmless: each service's state holds the newest
// logs offset it learned, and replayed records at or before it are
// skipped for that service.
const (
	chunkMagic   = 'L'
	chunkVersion = 1
	serviceMagic = 'G'
	// serviceVersion 1: see encodeService.
	serviceVersion = 1
)

var offsetKey = []byte("Loffset")

func chunkKey(service string, i int) []byte {
	k := make([]byte, 0, len(service)+8)
	k = append(k, 'L')
	k = append(k, service...)
	k = append(k, '/')
	return strconv.AppendInt(k, int64(i), 10)
}

// parseChunkKey splits a chunk key; ok is false for other keys.
func parseChunkKey(k []byte) (service string, i int, ok bool) {
	if len(k) < 3 || k[0] != 'L' {
		return "", 0, false
	}
	slash := bytes.LastIndexByte(k, '/')
	if slash < 1 {
		return "", 0, false
	}
	n, err := strconv.Atoi(string(k[slash+1:]))
	if err != nil || n < 0 || n > 1<<20 {
		return "", 0, false
	}
	return string(k[1:slash]), n, true
}

// encodeService appends a service's state:
//
//	'G', version 1, string name,
//	varint first ms, newest ms, lines, last offset, closed minute,
//	rate (error and warning lines),
//	4 × service minute: varint minute, uvarint lines, errors, warnings,
//	  uvarint touched count and cluster indexes, string error sample,
//	  uint64 LE its template id,
//	uvarint template slots, per slot a byte (0 none, 1 present) and:
//	  uint64 LE id, string text, varint first ms, byte severity class,
//	  varint lines, rate, 4 × (varint minute, uvarint lines, errors,
//	  warnings, string sample, uint64 LE sample entry id),
//	uvarint-prefixed miner state (logpatterns MarshalBinary).
//
// A rate is float64 LE mean and deviation, uvarint minutes, varint last.
func encodeService(dst []byte, s *service) ([]byte, error) {
	miner, err := s.miner.MarshalBinary()
	if err != nil {
		return nil, err
	}
	dst = append(dst, serviceMagic, serviceVersion)
	dst = appendString(dst, s.name)
	for _, v := range []int64{s.firstMs, s.newestMs, s.lines, s.lastOffset, s.closed} {
		dst = binary.AppendVarint(dst, v)
	}
	dst = appendRate(dst, &s.errRate)
	for _, sm := range s.minutes {
		dst = binary.AppendVarint(dst, sm.minute)
		dst = binary.AppendUvarint(dst, uint64(sm.n))
		dst = binary.AppendUvarint(dst, uint64(sm.errs))
		dst = binary.AppendUvarint(dst, uint64(sm.wrn))
		dst = binary.AppendUvarint(dst, uint64(len(sm.touched)))
		for _, c := range sm.touched {
			dst = binary.AppendUvarint(dst, uint64(c))
		}
		dst = appendString(dst, sm.errSample)
		dst = binary.LittleEndian.AppendUint64(dst, sm.errTemplate)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.tmpls)))
	for _, t := range s.tmpls {
		if t == nil {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		dst = binary.LittleEndian.AppendUint64(dst, t.id)
		dst = appendString(dst, t.text)
		dst = binary.AppendVarint(dst, t.firstMs)
		dst = append(dst, t.sevMax)
		dst = binary.AppendVarint(dst, t.lines)
		dst = appendRate(dst, &t.rate)
		for _, tm := range t.slots {
			dst = binary.AppendVarint(dst, tm.minute)
			dst = binary.AppendUvarint(dst, uint64(tm.n))
			dst = binary.AppendUvarint(dst, uint64(tm.errs))
			dst = binary.AppendUvarint(dst, uint64(tm.wrn))
			dst = appendString(dst, tm.sample)
			dst = binary.LittleEndian.AppendUint64(dst, tm.sampleID)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(miner)))
	return append(dst, miner...), nil
}

func appendRate(dst []byte, r *rate) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.mean))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.dev))
	dst = binary.AppendUvarint(dst, uint64(r.minutes))
	return binary.AppendVarint(dst, r.last)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errState = errors.New("log detector checkpoint malformed")

// decodeService restores a service's state; it never panics on bad input.
func decodeService(b []byte, cfg *Config) (*service, error) {
	if len(b) < 2 || b[0] != serviceMagic || b[1] != serviceVersion {
		return nil, fmt.Errorf("%w: bad magic or version", errState)
	}
	r := statebuf.NewReader(b[2:], errState)
	s := &service{byID: map[uint64]int32{}}
	s.name = r.Str()
	for _, v := range []*int64{&s.firstMs, &s.newestMs, &s.lines, &s.lastOffset, &s.closed} {
		*v = r.Varint()
	}
	readRate(r, &s.errRate)
	for i := range s.minutes {
		sm := &s.minutes[i]
		sm.minute = r.Varint()
		sm.n, sm.errs, sm.wrn = r.U32(), r.U32(), r.U32()
		n := r.Uvarint(uint64(r.Len()))
		for range n {
			sm.touched = append(sm.touched, int32(r.Uvarint(math.MaxInt32)))
		}
		sm.errSample = r.Str()
		sm.errTemplate = r.U64()
	}
	nt := r.Uvarint(uint64(r.Len()))
	if r.Err() == nil {
		s.tmpls = make([]*tmpl, nt)
	}
	for i := range s.tmpls {
		switch r.Byte() {
		case 0:
			continue
		case 1:
		default:
			r.Fail()
		}
		if r.Err() != nil {
			break
		}
		t := &tmpl{cluster: int32(i)}
		t.id = r.U64()
		t.text = r.Str()
		t.firstMs = r.Varint()
		t.sevMax = min(r.Byte(), sevError)
		t.lines = r.Varint()
		readRate(r, &t.rate)
		for j := range t.slots {
			tm := &t.slots[j]
			tm.minute = r.Varint()
			tm.n, tm.errs, tm.wrn = r.U32(), r.U32(), r.U32()
			tm.sample = r.Str()
			tm.sampleID = r.U64()
		}
		s.tmpls[i] = t
		s.byID[t.id] = t.cluster
		s.live++
	}
	mb := r.Bytes()
	if r.Err() != nil {
		return nil, fmt.Errorf("%w: truncated or damaged", errState)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errState, r.Len())
	}
	for _, sm := range s.minutes {
		for _, c := range sm.touched {
			if int(c) >= len(s.tmpls) {
				return nil, fmt.Errorf("%w: minute names template %d of %d", errState, c, len(s.tmpls))
			}
		}
	}
	s.miner = logpatterns.NewMiner(cfg.Miner)
	if err := s.miner.UnmarshalBinary(mb); err != nil {
		return nil, err
	}
	s.skipThrough = s.lastOffset
	return s, nil
}

// readRate reads what appendRate wrote; a non-finite mean or deviation
// marks the state bad.
func readRate(r *statebuf.Reader, x *rate) {
	x.mean = math.Float64frombits(r.U64())
	x.dev = math.Float64frombits(r.U64())
	x.minutes = r.U32()
	x.last = r.Varint()
	if math.IsNaN(x.mean) || math.IsNaN(x.dev) || math.IsInf(x.mean, 0) || math.IsInf(x.dev, 0) {
		r.Fail()
	}
}

// chunks splits a service state into chunk record values of at most size
// bytes each (header included).
func chunks(state []byte, gen uint64, size int) [][]byte {
	hash := xxhash.Sum64(state)
	const header = 2 + 8 + 3*binary.MaxVarintLen32 + 8
	part := size - header
	total := max(1, (len(state)+part-1)/part)
	out := make([][]byte, 0, total)
	for i := range total {
		body := state[i*part : min(len(state), (i+1)*part)]
		v := make([]byte, 0, header+len(body))
		v = append(v, chunkMagic, chunkVersion)
		v = binary.LittleEndian.AppendUint64(v, gen)
		v = binary.AppendUvarint(v, uint64(i))
		v = binary.AppendUvarint(v, uint64(total))
		v = binary.AppendUvarint(v, uint64(len(state)))
		v = binary.LittleEndian.AppendUint64(v, hash)
		out = append(out, append(v, body...))
	}
	return out
}

type chunkHeader struct {
	gen          uint64
	index, total int
	length       int
	hash         uint64
	body         []byte
}

func parseChunk(v []byte) (chunkHeader, bool) {
	var h chunkHeader
	if len(v) < 10 || v[0] != chunkMagic || v[1] != chunkVersion {
		return h, false
	}
	r := statebuf.NewReader(v[2:], errState)
	h.gen = r.U64()
	h.index = int(r.Uvarint(1 << 20))
	h.total = int(r.Uvarint(1 << 20))
	h.length = int(r.Uvarint(1 << 40))
	h.hash = r.U64()
	h.body = r.Rest()
	return h, r.Err() == nil && h.index < h.total
}

// assemble joins a service's chunks, checking that they belong together.
func assemble(parts map[int][]byte) ([]byte, int, error) {
	first, ok := parseChunk(parts[0])
	if !ok {
		return nil, 0, fmt.Errorf("%w: first chunk missing or damaged", errState)
	}
	state := make([]byte, 0, first.length)
	for i := range first.total {
		h, ok := parseChunk(parts[i])
		if !ok || h.gen != first.gen || h.total != first.total || h.index != i {
			return nil, first.total, fmt.Errorf("%w: chunk %d of %d missing or from another checkpoint", errState, i, first.total)
		}
		state = append(state, h.body...)
	}
	if len(state) != first.length || xxhash.Sum64(state) != first.hash {
		return nil, first.total, fmt.Errorf("%w: state does not match its hash", errState)
	}
	return state, first.total, nil
}

// checkpoint publishes pending outputs, then the changed services' states,
// then the offset they reflect, and commits that offset for the group (so
// lag shows how far detection is behind).
func (p *partition) checkpoint(ctx context.Context, gen *kafka.Generation) error {
	if p.nextOffset < 0 {
		return nil // nothing consumed since assignment
	}
	start := time.Now()
	if err := p.flush(ctx); err != nil {
		return err
	}
	hdr := []kafka.Header{p.stage.header(p.id)}
	var msgs []kafka.Message
	size := 0
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
	add := func(key, value []byte) error {
		msgs = append(msgs, kafka.Message{Topic: records.TopicDetectorState, Key: key, Value: value, Headers: hdr})
		size += len(value) + len(key)
		if size >= 4<<20 {
			return send()
		}
		return nil
	}
	written, bytesOut := 0, 0
	for _, s := range p.services {
		if !s.dirty {
			continue
		}
		state, err := encodeService(nil, s)
		if err != nil {
			return fmt.Errorf("encode service %q: %w", s.name, err)
		}
		parts := chunks(state, uint64(p.nextOffset), p.stage.cfg.ChunkBytes)
		for i, v := range parts {
			if err := add(chunkKey(s.name, i), v); err != nil {
				return err
			}
			bytesOut += len(v)
		}
		for i := len(parts); i < s.chunks; i++ {
			if err := add(chunkKey(s.name, i), nil); err != nil {
				return err
			}
		}
		s.chunks = len(parts)
		written++
	}
	for name, n := range p.evicted {
		from := 0
		if s := p.services[name]; s != nil {
			from = s.chunks // back again: its new chunks replace the old
		}
		for i := from; i < n; i++ {
			if err := add(chunkKey(name, i), nil); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	if err := add(offsetKey, binary.BigEndian.AppendUint64(nil, uint64(p.nextOffset))); err != nil {
		return err
	}
	if err := send(); err != nil {
		return err
	}
	for _, s := range p.services {
		s.dirty = false
	}
	clear(p.evicted)
	if gen != nil {
		if err := gen.CommitOffsets(map[string]map[int]int64{records.TopicLogs: {p.id: p.nextOffset}}); err != nil {
			p.stage.log.Warn("log detector offset commit failed (the checkpoint holds the offset)", "partition", p.id, "err", err)
		}
	}
	p.stage.metrics.checkpointSeconds.Observe(time.Since(start).Seconds())
	p.stage.metrics.checkpointServices.Add(float64(written))
	p.stage.metrics.checkpointBytes.Add(float64(bytesOut))
	return nil
}

// restore reads the partition's checkpoint records from the start of the
// state topic partition to its end, and returns the offset to resume the
// logs partition from (-1: none, start at the beginning).
func (p *partition) restore(ctx context.Context) (int64, error) {
	latest := map[string]map[int][]byte{}
	offset := int64(-1)
	err := bus.ReadToEnd(ctx, p.stage.cfg.Brokers, records.TopicDetectorState, p.id, func(msg kafka.Message) error {
		if bytes.Equal(msg.Key, offsetKey) && len(msg.Value) == 8 {
			offset = int64(binary.BigEndian.Uint64(msg.Value))
		} else if name, i, ok := parseChunkKey(msg.Key); ok {
			parts := latest[name]
			if parts == nil {
				parts = map[int][]byte{}
				latest[name] = parts
			}
			if len(msg.Value) == 0 {
				delete(parts, i)
			} else {
				parts[i] = msg.Value
			}
		}
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("read checkpoint: %w", err)
	}
	for name, parts := range latest {
		if len(parts) == 0 {
			continue
		}
		state, total, err := assemble(parts)
		var s *service
		if err == nil {
			s, err = decodeService(state, &p.stage.cfg)
		}
		if err == nil && s.name != name {
			err = fmt.Errorf("%w: state of %q under the key of %q", errState, s.name, name)
		}
		if err != nil {
			// Another build's state, damage, or a crash between a
			// service's chunks: that service relearns, its chunks go.
			p.stage.metrics.restoreErrors.Inc()
			p.stage.log.Warn("log service state not restored; it relearns", "partition", p.id, "service", name, "err", err)
			n := total
			for i := range parts {
				n = max(n, i+1)
			}
			p.evicted[name] = n
			continue
		}
		s.chunks = total
		for i := range parts {
			if i >= total {
				p.evicted[name] = max(p.evicted[name], i+1) // stray chunks of a larger old state
			}
		}
		p.add(s)
		if s.newestMs > p.watermark {
			p.advanceWatermark(s.newestMs)
		}
	}
	p.stage.metrics.restoredServices.Add(float64(len(p.services)))
	return offset, nil
}
