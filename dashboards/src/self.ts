// Firebreak self-health: is the pipeline keeping up? Every 15 s firebreak
// stores its own /metrics in samples (job="firebreak", instance=host:port),
// so these panels read them like any series. Counters are stored raw
// (cumulative): rates come from sql.counterIncrease (reset-aware
// differences per series and interval); gauges use the metrics query type
// with aggregation last.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { FirebreakQueryBuilder, query, sql } from './firebreak';
import { displayName, statPanel, thresholdsFrom, timeseriesPanel, firebreakDashboard } from './panels';
import { counterIncrease, inVariable } from './sql';
import { selfInstanceVariable } from './variables';

export const SELF_UID = 'firebreak-self';

const INSTANCES = inVariable("labels['instance']", 'instance');

/** Per-second rate of counters per interval, one series per group (a label expression). */
function rate(metrics: string[], group: string, name: string): FirebreakQueryBuilder {
  return sql`
    SELECT t, grp AS ${name}, sum(increase) * 1000 / $__interval_ms AS per_second
    FROM (
      ${counterIncrease(metrics, group, INSTANCES)}
    )
    GROUP BY t, grp
    ORDER BY t
  `.timeSeries();
}

/** A rate panel: one line per group, named by the group. */
function ratePanel(title: string, description: string, metrics: string[], group: string, name: string): ReturnType<typeof timeseriesPanel> {
  return timeseriesPanel(title)
    .description(description)
    .height(8)
    .span(12)
    .interval('1m')
    .unit('short')
    .axisSoftMin(0)
    .displayName(`\${__field.labels.${name}}`)
    .withTarget(rate(metrics, group, name));
}

export function selfDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak self-health',
      uid: SELF_UID,
      description: "Firebreak's own metrics: ingest and refusals per source, Kafka lag, dead letters, writer inserts, detector throughput and alert delivery.",
      tags: ['operations'],
      from: 'now-3h',
      refresh: '30s',
    })
      .withVariable(selfInstanceVariable())
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )

      .withPanel(
        statPanel('In the range')
          .description('Items accepted and refused, records dead-lettered, failed inserts and undelivered alerts over the picked range (increases of the counters).')
          .height(4)
          .span(18)
          .thresholds(thresholdsFrom(1, 'red'))
          .overrideByName('accepted', [...displayName('Accepted'), { id: 'thresholds', value: thresholdsFrom(0, 'green').build() }])
          .overrideByName('refused', [...displayName('Refused'), { id: 'thresholds', value: thresholdsFrom(1, 'orange').build() }])
          .overrideByName('dead_letters', displayName('Dead letters'))
          .overrideByName('insert_errors', displayName('Insert errors'))
          .overrideByName('alert_delivery_failures', displayName('Alerts not delivered'))
          .withTarget(
            sql`
              SELECT
                sumIf(increase, metric = 'firebreak_collector_accepted_total') AS accepted,
                sumIf(increase, metric = 'firebreak_collector_rejected_total') AS refused,
                sumIf(increase, metric = 'firebreak_writer_dead_letters_total') AS dead_letters,
                sumIf(increase, metric = 'firebreak_writer_insert_errors_total') AS insert_errors,
                sumIf(increase, metric IN ('firebreak_alertmanager_errors_total', 'firebreak_alertmanager_dropped_total')) AS alert_delivery_failures
              FROM (
                ${counterIncrease(
                  [
                    'firebreak_collector_accepted_total',
                    'firebreak_collector_rejected_total',
                    'firebreak_writer_dead_letters_total',
                    'firebreak_writer_insert_errors_total',
                    'firebreak_alertmanager_errors_total',
                    'firebreak_alertmanager_dropped_total',
                  ],
                  "labels['source']",
                  INSTANCES,
                )}
              )
            `,
          ),
      )

      .withPanel(
        statPanel('Detector lag')
          .description(
            "How far the detector's stored bands trail the newest stored point of the metrics it scores, in event time, at the end of the range: the detector's and the band writes' delay together (no metric measures it inside the detector yet).",
          )
          .height(4)
          .span(6)
          .unit('s')
          .decimals(1)
          .thresholds(thresholdsFrom(30, 'orange'))
          .withTarget(
            sql`
              SELECT greatest(dateDiff('millisecond', newest_band, newest_point), 0) / 1000 AS detector_lag_seconds
              FROM (
                SELECT
                  (SELECT max(time) FROM bands WHERE $__timeFilter(time)) AS newest_band,
                  (
                    SELECT max(time) FROM samples_data
                    WHERE $__timeFilter(time) AND metric_name IN (SELECT DISTINCT metric_name FROM bands WHERE $__timeFilter(time))
                  ) AS newest_point
              )
            `,
          ),
      )

      // Ingest.
      .withPanel(
        ratePanel(
          'Ingest rate per source',
          'Items acknowledged by Kafka per second, by collector source and kind (samples, logs, messages).',
          ['firebreak_collector_accepted_total'],
          "concat(labels['source'], ' ', labels['kind'])",
          'source_kind',
        ),
      )
      .withPanel(
        ratePanel(
          'Requests per source and status',
          'Collector requests per second by source and HTTP status: 2xx stored, 429 rate limited (--ingest-rate), 400 invalid, 413 too large, 503 Kafka did not acknowledge.',
          ['firebreak_collector_requests_total'],
          "concat(labels['source'], ' ', labels['code'])",
          'source_code',
        ),
      )
      // Kafka and the writer.
      .withPanel(
        timeseriesPanel('Writer Kafka lag')
          .description("Records each firebreak process's writer is behind the newest offsets (kafka-go's last measure; one line per instance, whatever the instance variable): it should stay near zero.")
          .height(8)
          .span(8)
          .interval('1m')
          .unit('short')
          .axisSoftMin(0)
          .withTarget(query().metrics('{__name__="firebreak_writer_kafka_lag_messages", job="firebreak"}', 'last')),
      )
      .withPanel(
        ratePanel(
          'Dead letters and insert errors',
          'Undecodable records the writer sent to the dead-letter topic (by source topic) and failed insert attempts (retried, offsets held), per second: both should stay at 0.',
          ['firebreak_writer_dead_letters_total', 'firebreak_writer_insert_errors_total'],
          "if(metric_name = 'firebreak_writer_insert_errors_total', 'insert errors', concat('dead letters ', labels['topic']))",
          'problem',
        ).span(8),
      )
      .withPanel(
        timeseriesPanel('Writer insert latency')
          .description('Mean time to insert one batch (all its tables) per interval: the increase of the histogram sum over that of its count.')
          .height(8)
          .span(8)
          .interval('1m')
          .unit('s')
          .axisSoftMin(0)
          .withTarget(
            sql`
              SELECT t, sumIf(increase, metric = 'firebreak_writer_insert_duration_seconds_sum') / nullIf(sumIf(increase, metric = 'firebreak_writer_insert_duration_seconds_count'), 0) AS mean_insert_seconds
              FROM (
                ${counterIncrease(['firebreak_writer_insert_duration_seconds_sum', 'firebreak_writer_insert_duration_seconds_count'], "''", INSTANCES)}
              )
              GROUP BY t
              ORDER BY t
            `.timeSeries(),
          )
          .displayName('mean insert'),
      )
      .withPanel(
        ratePanel(
          'Rows inserted per table',
          'Rows the store acknowledged per second, by table.',
          ['firebreak_writer_rows_inserted_total'],
          "labels['table']",
          'table_name',
        ),
      )

      // Detectors and alerting.
      .withPanel(
        ratePanel(
          'Detector throughput',
          'Points the metric detector learned and scored, points it skipped (replays, late points), and log lines the log-pattern stage mined, per second.',
          ['firebreak_detector_points_total', 'firebreak_detector_points_skipped_total', 'firebreak_logdetect_lines_total'],
          'metric_name',
          'counter',
        ),
      )
      .withPanel(
        timeseriesPanel('Detector series and checkpoint time')
          .description("Series whose baselines the detector holds (left) and the mean time to write one partition's checkpoint (right).")
          .height(8)
          .span(12)
          .interval('1m')
          .unit('short')
          .axisSoftMin(0)
          .overrideByName('mean_checkpoint_seconds', [
            { id: 'unit', value: 's' },
            { id: 'custom.axisPlacement', value: 'right' },
            ...displayName('mean checkpoint'),
          ])
          .withTarget(query().metrics('{__name__="firebreak_detector_series", job="firebreak"}', 'last'))
          .withTarget(
            sql`
              SELECT t, sumIf(increase, metric = 'firebreak_detector_checkpoint_duration_seconds_sum') / nullIf(sumIf(increase, metric = 'firebreak_detector_checkpoint_duration_seconds_count'), 0) AS mean_checkpoint_seconds
              FROM (
                ${counterIncrease(['firebreak_detector_checkpoint_duration_seconds_sum', 'firebreak_detector_checkpoint_duration_seconds_count'], "''", INSTANCES)}
              )
              GROUP BY t
              ORDER BY t
            `
              .refId('B')
              .timeSeries(),
          ),
      )
      .withPanel(
        ratePanel(
          'Alert transitions and delivery',
          'Alert transitions the alerter published (by kind and state) and failed publishes, and per Alertmanager the alerts it accepted and those not delivered (rejected, failing after every retry, or dropped from a full queue), per second.',
          [
            'firebreak_alerter_transitions_total',
            'firebreak_alerter_publish_errors_total',
            'firebreak_alertmanager_alerts_sent_total',
            'firebreak_alertmanager_errors_total',
            'firebreak_alertmanager_dropped_total',
          ],
          "multiIf(metric_name = 'firebreak_alerter_transitions_total', concat(labels['kind'], ' ', labels['state']), metric_name = 'firebreak_alerter_publish_errors_total', 'publish errors', concat(replaceOne(metric_name, 'firebreak_alertmanager_', ''), ' ', labels['alertmanager']))",
          'outcome',
        ),
      )
  );
}
