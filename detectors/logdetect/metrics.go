package logdetect

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	lines              prometheus.Counter
	skipped            prometheus.Counter
	late               prometheus.Counter
	malformed          prometheus.Counter
	assigned           prometheus.Counter
	services           prometheus.Gauge
	templates          prometheus.Gauge
	newTemplates       prometheus.Counter
	variants           prometheus.Counter
	patterns           *prometheus.CounterVec
	anomalies          *prometheus.CounterVec
	evicted            prometheus.Counter
	resets             prometheus.Counter
	checkpointSeconds  prometheus.Histogram
	checkpointServices prometheus.Counter
	checkpointBytes    prometheus.Counter
	restoreSeconds     prometheus.Histogram
	restoredServices   prometheus.Counter
	restoreErrors      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_lines_total",
			Help: "Log lines mined (assigned to a template).",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_lines_skipped_total",
			Help: "Log lines of records a service's checkpoint already holds (replays after a restart): not mined twice.",
		}),
		late: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_lines_late_total",
			Help: "Log lines whose minute was already closed: mined and assigned, not counted in the minute records.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_malformed_records_total",
			Help: "Logs records the log detector could not decode and skipped (the writer dead-letters them).",
		}),
		assigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_line_templates_total",
			Help: "Line-to-template assignments published to firebreak.log-templates.",
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firebreak_logdetect_services",
			Help: "Services whose templates this process holds.",
		}),
		templates: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "firebreak_logdetect_templates",
			Help: "Templates this process holds, over all services.",
		}),
		newTemplates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_new_templates_total",
			Help: "Templates seen for the first time in their service (warm-up included).",
		}),
		variants: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_new_template_variants_total",
			Help: "New templates after warm-up not reported as anomalies: one word away from a known template of the same severity or worse.",
		}),
		patterns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_logdetect_pattern_records_total",
			Help: "Pattern records published, by kind (minute, new, changed).",
		}, []string{"kind"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_logdetect_anomaly_events_total",
			Help: "log_pattern anomaly events published, by reason (new_template, template_surge, error_surge).",
		}, []string{"reason"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_services_evicted_total",
			Help: "Services dropped (least recently seen) to keep a partition within its service limit.",
		}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_service_resets_total",
			Help: "Services whose templates were relearned because they exceeded the template limit.",
		}),
		checkpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_logdetect_checkpoint_duration_seconds",
			Help:    "Time to write one partition's checkpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		checkpointServices: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_checkpoint_services_total",
			Help: "Service states written to the checkpoint topic.",
		}),
		checkpointBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_checkpoint_bytes_total",
			Help: "Bytes of service state written to the checkpoint topic.",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_logdetect_restore_duration_seconds",
			Help:    "Time to restore one partition's state on assignment.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		restoredServices: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_restored_services_total",
			Help: "Services restored from checkpoints (no relearning).",
		}),
		restoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "firebreak_logdetect_restore_errors_total",
			Help: "Service states that could not be restored (another build's state, damage, an interrupted checkpoint); those services relearn.",
		}),
	}
	reg.MustRegister(m.lines, m.skipped, m.late, m.malformed, m.assigned, m.services, m.templates, m.newTemplates,
		m.variants, m.patterns, m.anomalies, m.evicted, m.resets, m.checkpointSeconds, m.checkpointServices,
		m.checkpointBytes, m.restoreSeconds, m.restoredServices, m.restoreErrors)
	return m
}
