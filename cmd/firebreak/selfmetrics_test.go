package main

import (
	"encoding/json"
	"testing"
	"time"
)

// firebreak's own metrics reach the samples table through Kafka and the
// writer, labelled job="firebreak" and instance=<http addr>, and the
// detectors never see them (they read another topic): no bands for them.
func TestSelfMetricsStoredNotDetected(t *testing.T) {
	p := start(t, t.TempDir(), "", "", "--self-metrics-interval", "300ms", "--band-every", "0")
	q := `SELECT count(), uniqExact(metric_name), uniqExact(labels['instance'])
	      FROM samples WHERE labels['job'] = 'firebreak' AND metric_name = 'firebreak_self_scrapes_total'`
	deadline := time.Now().Add(30 * time.Second)
	var n, names, instances int
	for time.Now().Before(deadline) {
		code, r := p.sql(t, q)
		if code != 200 {
			t.Fatalf("%d %s", code, r.Error)
		}
		json.Unmarshal(r.Rows[0][0], &n)
		json.Unmarshal(r.Rows[0][1], &names)
		json.Unmarshal(r.Rows[0][2], &instances)
		if n >= 3 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n < 3 || names != 1 || instances != 1 {
		t.Fatalf("self-scrape points stored = %d (names %d, instances %d), want ≥ 3 from one instance", n, names, instances)
	}
	code, r := p.sql(t, "SELECT uniqExact(metric_name) FROM samples WHERE labels['job'] = 'firebreak' AND metric_name LIKE 'firebreak_writer_%'")
	var writerMetrics int
	json.Unmarshal(r.Rows[0][0], &writerMetrics)
	if code != 200 || writerMetrics == 0 {
		t.Fatalf("no firebreak_writer_* metric stored (%d %s)", code, r.Error)
	}
	// The stored self-scrapes include the detector's own point counter:
	// it must still be zero, since nothing but firebreak's metrics flowed.
	code, r = p.sql(t, `SELECT max(value) FROM samples
	      WHERE labels['job'] = 'firebreak' AND metric_name = 'firebreak_detector_points_total'`)
	var detected float64 = -1
	json.Unmarshal(r.Rows[0][0], &detected)
	if code != 200 || detected != 0 {
		t.Fatalf("firebreak_detector_points_total = %v with only self-metrics flowing (%d %s): detectors read them", detected, code, r.Error)
	}
}
