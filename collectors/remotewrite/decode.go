package remotewrite

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// writeRequest is a prometheus.WriteRequest decoded without allocation: its
// label names and values are slices of the decoded body, and its slices are
// reused from request to request. prompb.WriteRequest.Unmarshal allocates a
// string per label and a struct per series, which at a million samples a
// second is most of the collector's CPU; this decoder is pinned to prompb's
// behaviour by FuzzDecodeMatchesPrompb.
type writeRequest struct {
	series   []timeSeries
	labels   []records.LabelBytes // backing store of every series' labels
	samples  []sample             // backing store of every series' samples
	metadata int
}

type sample struct {
	timestampMs int64
	value       float64
}

// timeSeries indexes into writeRequest.labels and .samples.
type timeSeries struct {
	labelsFrom, labelsTo   int
	samplesFrom, samplesTo int
	histograms             int
}

func (r *writeRequest) reset() {
	r.series = r.series[:0]
	r.labels = r.labels[:0]
	r.samples = r.samples[:0]
	r.metadata = 0
}

func (r *writeRequest) seriesLabels(s *timeSeries) []records.LabelBytes {
	return r.labels[s.labelsFrom:s.labelsTo]
}
func (r *writeRequest) seriesSamples(s *timeSeries) []sample {
	return r.samples[s.samplesFrom:s.samplesTo]
}

var errTruncated = errors.New("unexpected end of message")

// Field numbers of remote.proto and types.proto (prometheus/prompb).
const (
	fieldWriteRequestTimeseries = 1
	fieldWriteRequestMetadata   = 3
	fieldSeriesLabels           = 1
	fieldSeriesSamples          = 2
	fieldSeriesExemplars        = 3
	fieldSeriesHistograms       = 4
	fieldLabelName              = 1
	fieldLabelValue             = 2
	fieldSampleValue            = 1
	fieldSampleTimestamp        = 2
)

// unmarshal decodes a WriteRequest body. Unknown fields are skipped, as
// protobuf requires; wire-type mismatches on known fields are errors.
func (r *writeRequest) unmarshal(b []byte) error {
	r.reset()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("WriteRequest: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == fieldWriteRequestTimeseries && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("WriteRequest.timeseries: %w", protowire.ParseError(n))
			}
			b = b[n:]
			if err := r.unmarshalSeries(msg); err != nil {
				return fmt.Errorf("WriteRequest.timeseries[%d]: %w", len(r.series), err)
			}
		case num == fieldWriteRequestMetadata && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("WriteRequest.metadata: %w", protowire.ParseError(n))
			}
			b = b[n:]
			// Rare and not stored yet: validate with prompb, as strictly as
			// its own decoder would.
			var md prompb.MetricMetadata
			if err := md.Unmarshal(msg); err != nil {
				return fmt.Errorf("WriteRequest.metadata[%d]: %w", r.metadata, err)
			}
			r.metadata++
		case num == fieldWriteRequestTimeseries || num == fieldWriteRequestMetadata:
			return fmt.Errorf("WriteRequest field %d has wire type %d, want bytes", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("WriteRequest field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func (r *writeRequest) unmarshalSeries(b []byte) error {
	s := timeSeries{labelsFrom: len(r.labels), samplesFrom: len(r.samples)}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num >= fieldSeriesLabels && num <= fieldSeriesHistograms && typ != protowire.BytesType {
			return fmt.Errorf("TimeSeries field %d has wire type %d, want bytes", num, typ)
		}
		var msg []byte
		if typ == protowire.BytesType {
			msg, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("TimeSeries field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldSeriesLabels:
			l, err := unmarshalLabel(msg)
			if err != nil {
				return fmt.Errorf("labels[%d]: %w", len(r.labels)-s.labelsFrom, err)
			}
			r.labels = append(r.labels, l)
		case fieldSeriesSamples:
			smp, err := unmarshalSample(msg)
			if err != nil {
				return fmt.Errorf("samples[%d]: %w", len(r.samples)-s.samplesFrom, err)
			}
			r.samples = append(r.samples, smp)
		case fieldSeriesHistograms:
			var h prompb.Histogram
			if err := h.Unmarshal(msg); err != nil {
				return fmt.Errorf("histograms[%d]: %w", s.histograms, err)
			}
			s.histograms++
		case fieldSeriesExemplars:
			// Exemplars are not stored yet; reject what prompb would.
			var e prompb.Exemplar
			if err := e.Unmarshal(msg); err != nil {
				return fmt.Errorf("exemplars: %w", err)
			}
		}
	}
	s.labelsTo, s.samplesTo = len(r.labels), len(r.samples)
	r.series = append(r.series, s)
	return nil
}

func unmarshalLabel(b []byte) (records.LabelBytes, error) {
	var l records.LabelBytes
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return l, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == fieldLabelName || num == fieldLabelValue) && typ != protowire.BytesType {
			return l, fmt.Errorf("Label field %d has wire type %d, want bytes", num, typ)
		}
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return l, protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case fieldLabelName:
				l.Name = v
			case fieldLabelValue:
				l.Value = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return l, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return l, nil
}

func unmarshalSample(b []byte) (sample, error) {
	var s sample
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return s, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldSampleValue && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return s, protowire.ParseError(n)
			}
			b = b[n:]
			s.value = math.Float64frombits(v)
		case num == fieldSampleTimestamp && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return s, protowire.ParseError(n)
			}
			b = b[n:]
			s.timestampMs = int64(v)
		case num == fieldSampleValue || num == fieldSampleTimestamp:
			return s, fmt.Errorf("Sample field %d has wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return s, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return s, nil
}
