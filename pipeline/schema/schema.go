// Package schema owns Firebreak's ClickHouse schema: versioned, idempotent
// migrations applied in order at start-up by whoever owns the store. The same
// statements run on the embedded engine and on a server; Options only change
// retention and, for clusters, the table engines.
package schema

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// Options parametrize the migrations.
type Options struct {
	// RetentionDays is the TTL of raw data (samples). Default 30.
	RetentionDays int
	// RollupRetentionDays is the TTL of the 1-minute rollup. Default 400.
	RollupRetentionDays int
	// SupportRetentionDays is the TTL of support messages (redacted text
	// of customers). Default 90.
	SupportRetentionDays int
	// BandsRetentionDays is the TTL of the detectors' bands (one row per
	// scored point, as large as the samples). Default 30.
	BandsRetentionDays int
	// AlertsRetentionDays is the TTL of anomalies and alert transitions
	// (small; kept for post-incident review and tuning). Default 400.
	AlertsRetentionDays int
}

func (o Options) withDefaults() Options {
	if o.RetentionDays <= 0 {
		o.RetentionDays = 30
	}
	if o.RollupRetentionDays <= 0 {
		o.RollupRetentionDays = 400
	}
	if o.SupportRetentionDays <= 0 {
		o.SupportRetentionDays = 90
	}
	if o.BandsRetentionDays <= 0 {
		o.BandsRetentionDays = 30
	}
	if o.AlertsRetentionDays <= 0 {
		o.AlertsRetentionDays = 400
	}
	return o
}

// Migration is one step of the schema. Statements must be idempotent
// (IF NOT EXISTS) so a crash between a statement and the version record
// only repeats harmless work.
type Migration struct {
	Version    int
	Name       string
	Statements func(o Options) []string
}

// Migrations are applied in order; never edit a released one, add another.
var Migrations = []Migration{
	{1, "samples, series and the 1-minute rollup", samplesV1},
	{2, "logs and support messages", logsAndSupportV2},
	{3, "bands, anomalies and alerts", detectionsV3},
	{4, "events, incidents and their timelines", incidentsV4},
	{5, "log templates and patterns", patternsV5},
}

func samplesV1(o Options) []string {
	return []string{
		// Dedup by content: (metric_name, series_id, time) is the sort key, so
		// a replayed or re-sent point collapses into one row on merge, and
		// the samples view reads FINAL so analysts never see the duplicate.
		`CREATE TABLE IF NOT EXISTS samples_data (
			metric_name LowCardinality(String),
			series_id UInt64,
			time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
			value Float64 CODEC(Gorilla, ZSTD(1))
		) ENGINE = ReplacingMergeTree
		PARTITION BY toDate(time)
		ORDER BY (metric_name, series_id, time)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.RetentionDays) + ` DAY`,

		`CREATE TABLE IF NOT EXISTS series (
			series_id UInt64,
			metric_name LowCardinality(String),
			labels Map(LowCardinality(String), String),
			last_seen DateTime64(3, 'UTC')
		) ENGINE = ReplacingMergeTree(last_seen)
		ORDER BY series_id`,

		// Analysts' view: one row per point with its labels, deduplicated.
		`CREATE VIEW IF NOT EXISTS samples AS
		SELECT d.time AS time, d.series_id AS series_id, d.metric_name AS metric_name,
		       s.labels AS labels, d.value AS value
		FROM samples_data AS d FINAL
		LEFT JOIN (SELECT series_id, labels FROM series FINAL) AS s USING (series_id)`,

		`CREATE TABLE IF NOT EXISTS samples_1m (
			metric_name LowCardinality(String),
			series_id UInt64,
			minute DateTime('UTC'),
			count SimpleAggregateFunction(sum, UInt64),
			sum SimpleAggregateFunction(sum, Float64),
			min SimpleAggregateFunction(min, Float64),
			max SimpleAggregateFunction(max, Float64),
			last AggregateFunction(argMax, Float64, DateTime64(3, 'UTC'))
		) ENGINE = AggregatingMergeTree
		PARTITION BY toYYYYMM(minute)
		ORDER BY (metric_name, series_id, minute)
		TTL minute + INTERVAL ` + fmt.Sprint(o.RollupRetentionDays) + ` DAY`,

		`CREATE MATERIALIZED VIEW IF NOT EXISTS samples_1m_mv TO samples_1m AS
		SELECT metric_name, series_id, toStartOfMinute(time) AS minute,
		       count() AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
		       argMaxState(value, time) AS last
		FROM samples_data
		GROUP BY metric_name, series_id, minute`,
	}
}

func logsAndSupportV2(o Options) []string {
	return []string{
		// entry_id is the content key (records.EntryIDs): a re-delivered
		// line collapses, the same line logged twice in one request stays.
		`CREATE TABLE IF NOT EXISTS logs (
			time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
			service LowCardinality(String),
			stream_id UInt64,
			entry_id UInt64,
			severity_number UInt8,
			severity LowCardinality(String),
			body String CODEC(ZSTD(3)),
			trace_id String,
			span_id String,
			labels Map(LowCardinality(String), String),
			attributes Map(LowCardinality(String), String),
			INDEX body_tokens body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 4,
			INDEX trace trace_id TYPE bloom_filter(0.01) GRANULARITY 4
		) ENGINE = ReplacingMergeTree
		PARTITION BY toDate(time)
		ORDER BY (service, time, entry_id)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.RetentionDays) + ` DAY`,

		`CREATE TABLE IF NOT EXISTS support_messages (
			time DateTime64(3, 'UTC'),
			message_id String,
			source LowCardinality(String),
			channel LowCardinality(String),
			customer String,
			service LowCardinality(String),
			region LowCardinality(String),
			language LowCardinality(String),
			sentiment Float64,
			label LowCardinality(String),
			categories Array(LowCardinality(String)),
			text String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (service, time, message_id)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.SupportRetentionDays) + ` DAY`,
	}
}

// detectionsV3 stores what the detectors and the alerter publish. Every
// table is keyed by content, so a replayed record collapses on merge (read
// with FINAL where exact counts matter). The store's blocks have neither
// Nullable nor Float32 columns (and the embedded engine's RowBinary insert
// does not convert Float64 to Float32), so a time that does not apply
// (predicted_breach_at, last_seen, ends_at) is the epoch,
// 1970-01-01 00:00:00.000, and score is Float64 (a float32 on the topic,
// stored exactly; Gorilla+ZSTD keeps the column small).
func detectionsV3(o Options) []string {
	return []string{
		// One row per scored point: the same key as samples_data, so a band
		// sits beside its sample and a re-scored point replaces the old band.
		`CREATE TABLE IF NOT EXISTS bands (
			metric_name LowCardinality(String),
			series_id UInt64,
			time DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
			value Float64 CODEC(Gorilla, ZSTD(1)),
			expected Float64 CODEC(Gorilla, ZSTD(1)),
			lower Float64 CODEC(Gorilla, ZSTD(1)),
			upper Float64 CODEC(Gorilla, ZSTD(1)),
			score Float64 CODEC(Gorilla, ZSTD(1)),
			learning UInt8 CODEC(ZSTD(1))
		) ENGINE = ReplacingMergeTree
		PARTITION BY toDate(time)
		ORDER BY (metric_name, series_id, time)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.BandsRetentionDays) + ` DAY`,

		// An event of a problem: its open and its resolved rows differ in
		// state, so both stay; a replay of either collapses.
		`CREATE TABLE IF NOT EXISTS anomalies (
			time DateTime64(3, 'UTC'),
			kind LowCardinality(String),
			state LowCardinality(String),
			series_id UInt64,
			metric_name LowCardinality(String),
			service LowCardinality(String),
			labels Map(LowCardinality(String), String),
			value Float64,
			expected Float64,
			lower Float64,
			upper Float64,
			score Float64,
			direction LowCardinality(String),
			rule LowCardinality(String),
			severity LowCardinality(String),
			op LowCardinality(String),
			threshold Float64,
			predicted_breach_at DateTime64(3, 'UTC'),
			last_seen DateTime64(3, 'UTC'),
			cadence_ms Float64,
			INDEX service_idx service TYPE bloom_filter(0.01) GRANULARITY 4
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (kind, series_id, time, state)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.AlertsRetentionDays) + ` DAY`,

		// One row per transition of an alert, as sent to Alertmanager.
		`CREATE TABLE IF NOT EXISTS alerts (
			time DateTime64(3, 'UTC'),
			fingerprint String,
			alertname LowCardinality(String),
			kind LowCardinality(String),
			severity LowCardinality(String),
			service LowCardinality(String),
			state LowCardinality(String),
			starts_at DateTime64(3, 'UTC'),
			ends_at DateTime64(3, 'UTC'),
			labels Map(LowCardinality(String), String),
			annotations Map(LowCardinality(String), String),
			generator_url String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (fingerprint, starts_at, state, time)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.AlertsRetentionDays) + ` DAY`,
	}
}

func incidentsV4(o Options) []string {
	ttl := ` TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.AlertsRetentionDays) + ` DAY`
	return []string{
		// What people and other systems reported: changes, alerts from any
		// Alertmanager, incident actions. The id is the content key.
		`CREATE TABLE IF NOT EXISTS events (
			time DateTime64(3, 'UTC'),
			id String,
			kind LowCardinality(String),
			type LowCardinality(String),
			service LowCardinality(String),
			title String,
			detail String,
			author String,
			incident_id String,
			state LowCardinality(String),
			fingerprint String,
			labels Map(LowCardinality(String), String)
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (kind, id)` + ttl,

		// One row per incident: each change re-inserts it, the newest
		// updated_at wins (read with FINAL).
		`CREATE TABLE IF NOT EXISTS incidents (
			id String,
			title String,
			state LowCardinality(String),
			severity LowCardinality(String),
			services Array(LowCardinality(String)),
			opened_at DateTime64(3, 'UTC'),
			acked_at DateTime64(3, 'UTC'),
			mitigated_at DateTime64(3, 'UTC'),
			resolved_at DateTime64(3, 'UTC'),
			updated_at DateTime64(3, 'UTC'),
			signals UInt32,
			missing_data Array(String),
			root_causes String,
			time DateTime64(3, 'UTC') ALIAS opened_at
		) ENGINE = ReplacingMergeTree(updated_at)
		PARTITION BY toYYYYMM(opened_at)
		ORDER BY id
		TTL toDateTime(opened_at) + INTERVAL ` + fmt.Sprint(o.AlertsRetentionDays) + ` DAY`,

		// An incident's timeline; a replay of the correlator re-emits the
		// same rows, which collapse.
		`CREATE TABLE IF NOT EXISTS incident_events (
			incident_id String,
			time DateTime64(3, 'UTC'),
			kind LowCardinality(String),
			service LowCardinality(String),
			title String,
			detail String,
			ref String
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (incident_id, time, kind, title)` + ttl,
	}
}

func patternsV5(o Options) []string {
	return []string{
		// One row per mined log line: (service, time, entry_id) is the logs
		// row's own key, so a line joins its template.
		`CREATE TABLE IF NOT EXISTS log_templates (
			time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
			service LowCardinality(String),
			entry_id UInt64,
			template_id UInt64
		) ENGINE = ReplacingMergeTree
		PARTITION BY toDate(time)
		ORDER BY (service, time, entry_id)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.RetentionDays) + ` DAY`,

		// Minute counts per template, new templates, and id changes when a
		// template generalizes (prev_ids: the ids it replaces, decimal).
		`CREATE TABLE IF NOT EXISTS patterns (
			time DateTime64(3, 'UTC'),
			kind LowCardinality(String),
			service LowCardinality(String),
			template_id UInt64,
			partition UInt32,
			template String CODEC(ZSTD(3)),
			count UInt64,
			errors UInt64,
			warnings UInt64,
			first_seen DateTime64(3, 'UTC'),
			severity LowCardinality(String),
			sample String CODEC(ZSTD(3)),
			sample_entry_id UInt64,
			prev_ids Array(String)
		) ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(time)
		ORDER BY (service, template_id, kind, time, partition)
		TTL toDateTime(time) + INTERVAL ` + fmt.Sprint(o.AlertsRetentionDays) + ` DAY`,
	}
}

// Latest is the newest schema version this build knows.
func Latest() int { return Migrations[len(Migrations)-1].Version }

// Migrate brings the store to the newest version and applies the retention
// options (TTL changes are metadata-only: existing parts are not rewritten).
func Migrate(ctx context.Context, s store.Store, opts Options, log *slog.Logger) error {
	opts = opts.withDefaults()
	if err := s.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime64(3, 'UTC')
	) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	res, err := s.Query(ctx, `SELECT max(version) FROM schema_migrations FINAL`, store.QueryOptions{})
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	current := 0
	if len(res.Rows) == 1 {
		fmt.Sscan(fmt.Sprint(res.Rows[0][0]), &current)
	}
	if current > Latest() {
		return fmt.Errorf("store schema is version %d, newer than this build's %d: upgrade firebreak", current, Latest())
	}
	for _, m := range Migrations {
		if m.Version <= current {
			continue
		}
		log.Info("applying schema migration", "version", m.Version, "name", m.Name)
		for _, stmt := range m.Statements(opts) {
			if err := s.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w\nstatement: %s", m.Version, m.Name, err, oneLine(stmt))
			}
		}
		now := time.Now().UTC().Format("2006-01-02 15:04:05.000")
		if err := s.Exec(ctx, fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', '%s')`,
			m.Version, strings.ReplaceAll(m.Name, "'", "''"), now)); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
	}
	ttl := []string{
		fmt.Sprintf(`ALTER TABLE samples_data MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.RetentionDays),
		fmt.Sprintf(`ALTER TABLE samples_1m MODIFY TTL minute + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.RollupRetentionDays),
		fmt.Sprintf(`ALTER TABLE logs MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.RetentionDays),
		fmt.Sprintf(`ALTER TABLE support_messages MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.SupportRetentionDays),
		fmt.Sprintf(`ALTER TABLE bands MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.BandsRetentionDays),
		fmt.Sprintf(`ALTER TABLE anomalies MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
		fmt.Sprintf(`ALTER TABLE alerts MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
		fmt.Sprintf(`ALTER TABLE events MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
		fmt.Sprintf(`ALTER TABLE incidents MODIFY TTL toDateTime(opened_at) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
		fmt.Sprintf(`ALTER TABLE log_templates MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.RetentionDays),
		fmt.Sprintf(`ALTER TABLE patterns MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
		fmt.Sprintf(`ALTER TABLE incident_events MODIFY TTL toDateTime(time) + INTERVAL %d DAY SETTINGS materialize_ttl_after_modify = 0`, opts.AlertsRetentionDays),
	}
	for _, stmt := range ttl {
		if err := s.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("apply retention: %w", err)
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
