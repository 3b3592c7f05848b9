package remotewrite

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// FuzzDecodeMatchesPrompb pins the allocation-free decoder to prompb's
// generated one: for any input both accept, they must see the same series,
// labels, samples, histogram counts and metadata count; any input prompb
// rejects, we must reject too (we may be stricter, never looser).
func FuzzDecodeMatchesPrompb(f *testing.F) {
	req := workload.NewShop(1, time.Hour, 1, time.Unix(0, 0)).Sample(time.Unix(1e9, 0))
	req.Metadata = []prompb.MetricMetadata{{MetricFamilyName: "up", Help: "h"}}
	req.Timeseries[0].Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 3}}}
	req.Timeseries[1].Exemplars = []prompb.Exemplar{{Value: 1, Timestamp: 2}}
	raw, _ := req.Marshal()
	f.Add(raw)
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x04, 0x12, 0x02, 0x10, 0x05})
	f.Fuzz(func(t *testing.T, body []byte) {
		var ours writeRequest
		ourErr := ours.unmarshal(body)
		var ref prompb.WriteRequest
		refErr := ref.Unmarshal(body)
		if refErr != nil {
			if ourErr == nil {
				t.Fatalf("prompb rejects (%v) what we accept", refErr)
			}
			return
		}
		if ourErr != nil {
			// Stricter is allowed only for wire-type mismatches prompb skips.
			t.Skipf("we reject what prompb accepts: %v", ourErr)
		}
		compare(t, &ours, &ref)
	})
}

func compare(t *testing.T, ours *writeRequest, ref *prompb.WriteRequest) {
	t.Helper()
	if len(ours.series) != len(ref.Timeseries) || ours.metadata != len(ref.Metadata) {
		t.Fatalf("series %d/%d metadata %d/%d", len(ours.series), len(ref.Timeseries), ours.metadata, len(ref.Metadata))
	}
	for i := range ours.series {
		s, r := &ours.series[i], &ref.Timeseries[i]
		ls, ss := ours.seriesLabels(s), ours.seriesSamples(s)
		if len(ls) != len(r.Labels) || len(ss) != len(r.Samples) || s.histograms != len(r.Histograms) {
			t.Fatalf("series %d: labels %d/%d samples %d/%d histograms %d/%d", i,
				len(ls), len(r.Labels), len(ss), len(r.Samples), s.histograms, len(r.Histograms))
		}
		for j := range ls {
			if string(ls[j].Name) != r.Labels[j].Name || string(ls[j].Value) != r.Labels[j].Value {
				t.Fatalf("series %d label %d: %q=%q vs %q=%q", i, j, ls[j].Name, ls[j].Value, r.Labels[j].Name, r.Labels[j].Value)
			}
		}
		for j := range ss {
			if ss[j].timestampMs != r.Samples[j].Timestamp ||
				math.Float64bits(ss[j].value) != math.Float64bits(r.Samples[j].Value) {
				t.Fatalf("series %d sample %d: %v vs %v", i, j, ss[j], r.Samples[j])
			}
		}
	}
}

func TestDecodeMatchesPrompbOnShop(t *testing.T) {
	req := workload.NewShop(4, time.Hour, 7, time.Unix(0, 0)).Sample(time.Unix(1e9, 0))
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ours writeRequest
	if err := ours.unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	var ref prompb.WriteRequest
	if err := ref.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	compare(t, &ours, &ref)
}
