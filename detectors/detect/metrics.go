package detect

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	points            prometheus.Counter
	skipped           prometheus.Counter
	malformed         prometheus.Counter
	series            prometheus.Gauge
	anomalies         *prometheus.CounterVec
	bandsPublished    prometheus.Counter
	checkpointSeconds prometheus.Histogram
	checkpointSeries  prometheus.Counter
	restoreSeconds    prometheus.Histogram
	restoredSeries    prometheus.Counter
	restoreErrors     prometheus.Counter
	recordDelay       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_points_total",
			Help: "Points learned and scored by the detector stage.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_points_skipped_total",
			Help: "Points not newer than their series' newest (replays after a restart, duplicates, late points): not learned twice.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_malformed_records_total",
			Help: "Metrics records the detector could not decode and skipped (the writer dead-letters them).",
		}),
		series: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firebreak_detector_series",
			Help: "Series whose baselines this process holds.",
		}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_detector_anomaly_events_total",
			Help: "Anomaly events published, by kind (anomaly, silence, predictive) and state (open, resolved).",
		}, []string{"kind", "state"}),
		bandsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_bands_total",
			Help: "Bands (expected value, lower, upper, score) published.",
		}),
		checkpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_detector_checkpoint_duration_seconds",
			Help:    "Time to write one partition's checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		checkpointSeries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_checkpoint_series_total",
			Help: "Series states written to the checkpoint topic.",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_detector_restore_duration_seconds",
			Help:    "Time to restore one partition's state on assignment.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		restoredSeries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_restored_series_total",
			Help: "Series restored from checkpoints (no relearning).",
		}),
		restoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_detector_restore_errors_total",
			Help: "Series states that could not be restored (another build's model, damage); those series relearn.",
		}),
		recordDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_detector_record_delay_seconds",
			Help:    "Wall time from a metrics record's produce time (the collector's acknowledgement) to the detector scoring it: the detector's latency, lag included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}),
	}
	reg.MustRegister(m.recordDelay, m.points, m.skipped, m.malformed, m.series, m.anomalies, m.bandsPublished,
		m.checkpointSeconds, m.checkpointSeries, m.restoreSeconds, m.restoredSeries, m.restoreErrors)
	return m
}
