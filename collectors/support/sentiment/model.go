package sentiment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
)

// Model is the trained scorer: one logistic regression over hashed
// features of both languages (see features.go), trained by Train on
// labelled negative/positive texts. Score is tanh(z/2) = 2·P(positive) − 1
// for the model's margin z; |score| below the model's neutral band is
// neutral. The band is chosen at training time on held-back rows of the
// sets that label neutral texts (the airline tweets), since the model
// itself is trained on two classes.
//
// Both scripts are read in every message, whatever lang says: Chinese
// character n-grams and English word n-grams live in one weight vector, so
// "app一直crash，太差了" is scored by both.
//
// A Model is safe for concurrent use and allocates nothing per message once
// warm.
type Model struct {
	bits  uint8
	wordN uint8
	charN uint8
	bias  float32
	w     []float32
	band  float64
	// The lexicon baseline's squashed valence is one more feature, with
	// weight lexW; a message in which the lexicons find no sentiment has its
	// score multiplied by quiet (≤ 1), chosen with the band.
	lexW  float32
	quiet float32
	lex   *Baseline

	// The split it was trained with, and the texts it saw (trained on or
	// tuned on), as sorted 32-bit fingerprints of the normalized text: what
	// Evaluate must leave out.
	seed     uint64
	testFrac float64
	seen     []uint32

	info ModelInfo
	pool sync.Pool // *featScratch
}

// ModelInfo describes how a model was trained.
type ModelInfo struct {
	Sets    []SetInfo    `json:"sets"`
	Options TrainOptions `json:"options"`
}

// SetInfo is one training set: its rows used for training (negative,
// positive) and for tuning the neutral band.
type SetInfo struct {
	Name      string `json:"name"`
	Language  string `json:"language"`
	Negative  int    `json:"negative"`
	Positive  int    `json:"positive"`
	Held      int    `json:"held_back"`
	TestRows  int    `json:"test_rows"`
	Neutral   int    `json:"neutral_skipped,omitempty"`
	EvalFile  string `json:"eval_file,omitempty"`
	SplitRows bool   `json:"split_by_text"`
}

// Info returns how the model was trained.
func (m *Model) Info() ModelInfo { return m.info }

// NeutralBand returns the half-width of the neutral label around 0.
func (m *Model) NeutralBand() float64 { return m.band }

// Score implements Scorer.
func (m *Model) Score(text, lang string) Result {
	s := m.score(text, m.quiet)
	if isPlainQuestion(text) {
		s *= float64(m.quiet) // see questions.go
	}
	return Result{Score: s, Label: LabelFor(s, m.band)}
}

// score is tanh(margin/2), times quiet when the lexicons find no sentiment.
func (m *Model) score(text string, quiet float32) float64 {
	z, v := m.margin(text)
	s := math.Tanh(z / 2)
	if v == 0 {
		s *= float64(quiet)
	}
	return Clamp(s)
}

// margin is the model's log-odds of positive, and the lexicon valence.
func (m *Model) margin(text string) (float64, float64) {
	v := m.lex.valence(text)
	sc, _ := m.pool.Get().(*featScratch)
	if sc == nil {
		sc = &featScratch{}
	}
	sc.extract(text, int(m.wordN), int(m.charN))
	z := float64(m.bias) + float64(m.lexW)*squash(v)
	if n := len(sc.feats); n > 0 {
		mask := uint64(1)<<m.bits - 1
		var sum float32
		for _, h := range sc.feats {
			w := m.w[h&mask]
			if h>>63 != 0 {
				w = -w
			}
			sum += w
		}
		z += float64(sum) / math.Sqrt(float64(n))
	}
	// Long texts shrink the buffers back rather than pin them.
	if cap(sc.feats) > 1<<16 {
		sc.feats, sc.units = nil, nil
	}
	m.pool.Put(sc)
	return z, v
}

// Seen reports whether the model was trained or tuned on text (by its
// normalized form; 32-bit fingerprints, so about one text in 30,000 that it
// never saw is reported seen too).
func (m *Model) Seen(text string) bool {
	_, ok := slices.BinarySearch(m.seen, fingerprint(textID(text)))
	return ok
}

func fingerprint(id uint64) uint32 { return uint32(id >> 32) }

// Model file: gzip of
//
//	"FBSM" version(u16) bits wordN charN (u8 each) pad(u8)
//	bias band testFrac (f32 each) seed (u64) scale lexW quiet (f32 each)
//	2^bits weights as int16 (weight = q·scale)
//	seen count (u32), then the sorted fingerprints as uvarint deltas
//	info length (u32), info JSON
//
// all little-endian. Weights are stored as 16-bit integers: the model
// scores with exactly the weights it was evaluated with (Train rounds them
// the same way before it reports).
const (
	modelMagic     = "FBSM"
	modelVersion   = 1
	modelHeaderLen = 42
)

// quantize rounds the weights to what the file holds and returns the scale.
func (m *Model) quantize() float32 {
	var maxAbs float32
	for _, w := range m.w {
		maxAbs = max(maxAbs, float32(math.Abs(float64(w))))
	}
	if maxAbs == 0 {
		return 1
	}
	scale := maxAbs / 32767
	for i, w := range m.w {
		m.w[i] = float32(int16(math.Round(float64(w/scale)))) * scale
	}
	return scale
}

// WriteTo writes the model file.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	var maxAbs float32
	for _, x := range m.w {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	scale := maxAbs / 32767
	if scale == 0 {
		scale = 1
	}
	le := binary.LittleEndian
	hdr := make([]byte, 0, modelHeaderLen)
	hdr = append(hdr, modelMagic...)
	hdr = le.AppendUint16(hdr, modelVersion)
	hdr = append(hdr, m.bits, m.wordN, m.charN, 0)
	hdr = le.AppendUint32(hdr, math.Float32bits(m.bias))
	hdr = le.AppendUint32(hdr, math.Float32bits(float32(m.band)))
	hdr = le.AppendUint32(hdr, math.Float32bits(float32(m.testFrac)))
	hdr = le.AppendUint64(hdr, m.seed)
	hdr = le.AppendUint32(hdr, math.Float32bits(scale))
	hdr = le.AppendUint32(hdr, math.Float32bits(m.lexW))
	hdr = le.AppendUint32(hdr, math.Float32bits(m.quiet))
	bw.Write(hdr)
	var b [binary.MaxVarintLen64]byte
	for _, x := range m.w {
		q := int16(math.Round(float64(x / scale)))
		le.PutUint16(b[:2], uint16(q))
		bw.Write(b[:2])
	}
	le.PutUint32(b[:4], uint32(len(m.seen)))
	bw.Write(b[:4])
	prev := uint32(0)
	for _, f := range m.seen {
		bw.Write(b[:binary.PutUvarint(b[:], uint64(f-prev))])
		prev = f
	}
	info, err := json.Marshal(m.info)
	if err != nil {
		return 0, err
	}
	le.PutUint32(b[:4], uint32(len(info)))
	bw.Write(b[:4])
	bw.Write(info)
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

// MarshalBinary returns the model file.
func (m *Model) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	_, err := m.WriteTo(&buf)
	return buf.Bytes(), err
}

// Save writes the model file to path and returns its size.
func (m *Model) Save(path string) (int64, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return 0, fmt.Errorf("sentiment model: %w", err)
	}
	return int64(len(b)), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// LoadModel reads a model file.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sentiment model: %w", err)
	}
	m, err := ReadModel(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("sentiment model %s: %w", path, err)
	}
	return m, nil
}

// ReadModel decodes a model file.
func ReadModel(r io.Reader) (*Model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a model file: %w", err)
	}
	br := bufio.NewReaderSize(zr, 1<<16)
	le := binary.LittleEndian
	hdr := make([]byte, modelHeaderLen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("model header: %w", err)
	}
	if string(hdr[:4]) != modelMagic {
		return nil, errors.New("not a model file (magic)")
	}
	if v := le.Uint16(hdr[4:]); v != modelVersion {
		return nil, fmt.Errorf("model version %d, want %d", v, modelVersion)
	}
	m := &Model{bits: hdr[6], wordN: hdr[7], charN: hdr[8], lex: NewBaseline()}
	if m.bits < 8 || m.bits > 26 || m.wordN < 1 || m.wordN > 3 || m.charN < 1 || m.charN > 3 {
		return nil, fmt.Errorf("model header: bits %d, n-grams %d/%d out of range", m.bits, m.wordN, m.charN)
	}
	m.bias = math.Float32frombits(le.Uint32(hdr[10:]))
	m.band = float64(math.Float32frombits(le.Uint32(hdr[14:])))
	m.testFrac = float64(math.Float32frombits(le.Uint32(hdr[18:])))
	m.seed = le.Uint64(hdr[22:])
	scale := math.Float32frombits(le.Uint32(hdr[30:]))
	m.lexW = math.Float32frombits(le.Uint32(hdr[34:]))
	m.quiet = math.Float32frombits(le.Uint32(hdr[38:]))
	if !finite32(m.bias) || !finite32(scale) || !finite32(m.lexW) || !(m.quiet >= 0 && m.quiet <= 1) || math.IsNaN(m.band) || m.band < 0 || m.band >= 1 {
		return nil, errors.New("model header: bad numbers")
	}
	raw := make([]byte, 2<<m.bits)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	m.w = make([]float32, 1<<m.bits)
	for i := range m.w {
		m.w[i] = float32(int16(le.Uint16(raw[2*i:]))) * scale
	}
	var b4 [4]byte
	if _, err := io.ReadFull(br, b4[:]); err != nil {
		return nil, fmt.Errorf("model seen texts: %w", err)
	}
	n := le.Uint32(b4[:])
	if n > 1<<26 {
		return nil, errors.New("model seen texts: too many")
	}
	m.seen = make([]uint32, n)
	prev := uint64(0)
	for i := range m.seen {
		d, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("model seen texts: %w", err)
		}
		prev += d
		if prev > math.MaxUint32 {
			return nil, errors.New("model seen texts: out of range")
		}
		m.seen[i] = uint32(prev)
	}
	if _, err := io.ReadFull(br, b4[:]); err != nil {
		return nil, fmt.Errorf("model info: %w", err)
	}
	n = le.Uint32(b4[:])
	if n > 1<<20 {
		return nil, errors.New("model info: too long")
	}
	info := make([]byte, n)
	if _, err := io.ReadFull(br, info); err != nil {
		return nil, fmt.Errorf("model info: %w", err)
	}
	if err := json.Unmarshal(info, &m.info); err != nil {
		return nil, fmt.Errorf("model info: %w", err)
	}
	return m, nil
}

func finite32(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// The model shipped in the repository (model/README.md: data, licenses,
// how to retrain).
//
//go:embed model/sentiment-zh-en.fbsm
var embeddedModel []byte

var (
	defaultOnce  sync.Once
	defaultModel *Model
	defaultErr   error
)

// EmbeddedModel returns the model shipped in the binary (shared by every
// caller: it is read-only).
func EmbeddedModel() (*Model, error) {
	defaultOnce.Do(func() {
		defaultModel, defaultErr = ReadModel(bytes.NewReader(embeddedModel))
		if defaultErr != nil {
			defaultErr = fmt.Errorf("embedded sentiment model: %w", defaultErr)
		}
	})
	return defaultModel, defaultErr
}

// EmbeddedModelSize is the size of the embedded model file in bytes.
func EmbeddedModelSize() int { return len(embeddedModel) }

// Default returns the scorer the collector uses when none is configured:
// the embedded model, or the Baseline if the model cannot be read (a build
// without it; tests make sure the shipped one loads).
func Default() Scorer {
	if m, err := EmbeddedModel(); err == nil {
		return m
	}
	return NewBaseline()
}
