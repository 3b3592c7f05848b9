// Service drill-down: one service, one metric. The baseline's band around
// the metric, the detectors' findings, and what logs and customers said.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { FirebreakAnnotationBuilder, sql, sqlText } from './firebreak';
import {
  displayName,
  hidden,
  link,
  logsPanel,
  scoreCell,
  statPanel,
  tablePanel,
  thresholdsFrom,
  timeseriesPanel,
  width, firebreakDashboard } from './panels';
import { ERROR_LOGS, RANGE_END, asOfRangeEnd, labelsText, nullIfEpoch } from './sql';
import { metricVariable, serviceVariable, seriesVariable } from './variables';

export const SERVICE_UID = 'firebreak-service';

/** Series of $metric that belong to $service (service label). */
const SERVICE_SERIES = sqlText`SELECT series_id FROM series FINAL WHERE metric_name = '$metric' AND labels['service'] = '$service'`;

/**
 * The series the band panel shows: $series_id when set, otherwise the series
 * of $metric and $service with the highest anomaly score in the range.
 */
const PICKED_SERIES = sqlText`
  (
    SELECT series_id
    FROM bands
    WHERE metric_name = '$metric' AND $__timeFilter(time)
      AND (('$series_id' = '' AND series_id IN (${SERVICE_SERIES})) OR toString(series_id) = '$series_id')
    GROUP BY series_id
    ORDER BY max(score) DESC, series_id
    LIMIT 1
  )
`;

/** Link to this dashboard for the row's metric and series, keeping service and time. */
const seriesLink = `/d/${SERVICE_UID}?\${service:queryparam}&var-metric=\${__data.fields.metric}&var-series_id=\${__data.fields.series}&\${__url_time_range}`;

const BAND_COLOR = 'rgba(115, 191, 105, 0.25)';

export function serviceDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak service drill-down',
      uid: SERVICE_UID,
      description: "One service: a metric against its learned band, the detectors' findings, error logs and support messages.",
      tags: ['service'],
      from: 'now-6h',
      refresh: '1m',
    })
      .withVariable(serviceVariable({ multi: false }))
      .withVariable(metricVariable())
      .withVariable(seriesVariable())
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )
      .annotation(
        new FirebreakAnnotationBuilder(
          'Alerts of $service',
          sql`
            SELECT
              started AS time,
              if(last.1 = 'firing', ${RANGE_END}, last.2) AS timeEnd,
              concat(last.3, ' (', last.4, ')', if(last.5 = '', '', concat(': ', last.5))) AS text
            FROM (
              SELECT fingerprint, starts_at AS started,
                argMax((state, ends_at, alertname, severity, annotations['summary']), time) AS last
              FROM alerts FINAL
              WHERE service = '$service' AND $__timeFilter(time)
              GROUP BY fingerprint, started
            )
            ORDER BY time
          `,
          'red',
        ),
      )

      // Row 1: the service at a glance.
      .withPanel(
        statPanel('$service now')
          .description('Firing alerts and open detector findings at the end of the range; error log lines and negative support share over the range.')
          .height(4)
          .span(24)
          .thresholds(thresholdsFrom(1, 'red'))
          .overrideByName('firing_alerts', displayName('Firing alerts'))
          .overrideByName('open_findings', [...displayName('Open findings'), { id: 'thresholds', value: thresholdsFrom(1, 'orange').build() }])
          .overrideByName('error_logs', [...displayName('Error log lines'), { id: 'thresholds', value: thresholdsFrom(1, 'orange').build() }])
          .overrideByName('negative_share', [
            ...displayName('Negative support messages'),
            { id: 'unit', value: 'percentunit' },
            { id: 'decimals', value: 0 },
            { id: 'thresholds', value: thresholdsFrom(0.3, 'orange').build() },
          ])
          .withTarget(
            sql`
              SELECT
                (
                  SELECT count()
                  FROM (
                    SELECT fingerprint, argMax(state, time) AS last_state
                    FROM alerts FINAL
                    WHERE service = '$service' AND ${asOfRangeEnd()}
                    GROUP BY fingerprint
                  )
                  WHERE last_state = 'firing'
                ) AS firing_alerts,
                (
                  SELECT count()
                  FROM (
                    SELECT kind, series_id, rule, argMax(state, time) AS last_state
                    FROM anomalies FINAL
                    WHERE service = '$service' AND ${asOfRangeEnd()}
                    GROUP BY kind, series_id, rule
                  )
                  WHERE last_state = 'open'
                ) AS open_findings,
                (
                  SELECT count()
                  FROM logs
                  WHERE service = '$service' AND $__timeFilter(time) AND ${ERROR_LOGS}
                ) AS error_logs,
                (
                  SELECT if(count() = 0, 0, countIf(label = 'negative') / count())
                  FROM support_messages FINAL
                  WHERE service = '$service' AND $__timeFilter(time)
                ) AS negative_share
            `,
          ),
      )

      // Row 2: the metric against its band.
      .withPanel(
        timeseriesPanel('$metric: value, expected and band')
          .description(
            "One series of $metric for $service (the series id variable, or the series with the highest anomaly score in the range): the value, the baseline's expected value and its band (drawn once the baseline has learned), and anomalies as red points.",
          )
          .height(10)
          .span(24)
          .withTarget(
            sql`
              SELECT
                $__timeGroup(time, $__interval) AS t,
                avg(value) AS observed,
                avg(expected) AS baseline,
                avgIf(lower, learning = 0) AS band_lower,
                avgIf(upper, learning = 0) AS band_upper
              FROM bands FINAL
              WHERE metric_name = '$metric' AND series_id = ${PICKED_SERIES} AND $__timeFilter(time)
              GROUP BY t
              ORDER BY t
            `.timeSeries(),
          )
          .withTarget(
            sql`
              SELECT time, value AS anomaly
              FROM anomalies FINAL
              WHERE kind = 'anomaly' AND state = 'open' AND metric_name = '$metric'
                AND series_id = ${PICKED_SERIES} AND $__timeFilter(time)
              ORDER BY time
            `
              .refId('B')
              .timeSeries(),
          )
          .overrideByName('observed', [
            ...displayName('value'),
            { id: 'custom.lineWidth', value: 2 },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
          ])
          .overrideByName('baseline', [
            ...displayName('expected'),
            { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'green' } },
          ])
          .overrideByName('band_upper', [
            ...displayName('upper'),
            { id: 'custom.fillBelowTo', value: 'lower' },
            { id: 'custom.lineWidth', value: 0 },
            { id: 'custom.fillOpacity', value: 25 },
            { id: 'color', value: { mode: 'fixed', fixedColor: BAND_COLOR } },
          ])
          .overrideByName('band_lower', [
            ...displayName('lower'),
            { id: 'custom.lineWidth', value: 0 },
            { id: 'custom.fillOpacity', value: 0 },
            { id: 'color', value: { mode: 'fixed', fixedColor: BAND_COLOR } },
            { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
          ])
          .overrideByName('anomaly', [
            { id: 'custom.drawStyle', value: common.GraphDrawStyle.Points },
            { id: 'custom.showPoints', value: common.VisibilityMode.Always },
            { id: 'custom.pointSize', value: 9 },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
          ]),
      )

      // Row 3: scores and findings.
      .withPanel(
        timeseriesPanel('$metric: anomaly score per series')
          .description('The detector score in [0, 1] of every series of $metric for $service (highest per interval).')
          .height(8)
          .span(12)
          .min(0)
          .max(1)
          .decimals(2)
          .thresholds(
            new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
              { value: null, color: 'green' },
              { value: 0.9, color: 'red' },
            ]),
          )
          .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed))
          .withTarget(
            sql`
              SELECT $__timeGroup(b.time, $__interval) AS t, s.series_text AS series, max(b.score) AS top_score
              FROM bands AS b
              INNER JOIN (
                SELECT series_id, if(empty(labels), toString(series_id), ${labelsText('labels', ['service'])}) AS series_text
                FROM series FINAL
                WHERE metric_name = '$metric' AND labels['service'] = '$service'
              ) AS s ON b.series_id = s.series_id
              WHERE b.metric_name = '$metric' AND $__timeFilter(b.time)
              GROUP BY t, series
              ORDER BY t
            `.timeSeries(),
          )
          .displayName('${__field.labels.series}'),
      )
      .withPanel(
        tablePanel('Findings for $service')
          .description('Every detector event of the service in the range; the metric links to its band.')
          .height(8)
          .span(12)
          .overrideByName('time', width(160))
          .overrideByName('kind', width(90))
          .overrideByName('state', width(80))
          .overrideByName('metric', link('Show this series', seriesLink))
          .overrideByName('score', [...width(110), ...scoreCell])
          .overrideByName('series', hidden)
          .withTarget(
            sql`
              SELECT
                time, kind, state, metric_name AS metric, ${labelsText('labels', ['service'])} AS series_labels,
                value, expected, lower, upper, score, direction, rule, severity,
                ${nullIfEpoch('predicted_breach_at')} AS breach_at,
                toString(series_id) AS series
              FROM anomalies FINAL
              WHERE service = '$service' AND $__timeFilter(time)
              ORDER BY time DESC
              LIMIT 500
            `,
          ),
      )

      // Row 4: what logs and customers said.
      .withPanel(
        logsPanel('Error logs of $service')
          .description('The latest 500 log entries at severity error or worse.')
          .height(10)
          .span(12)
          .withTarget(
            sql`
              SELECT time, body, severity AS level, trace_id, span_id, ${labelsText('attributes')} AS attrs
              FROM logs
              WHERE service = '$service' AND $__timeFilter(time) AND ${ERROR_LOGS}
              ORDER BY time DESC
              LIMIT 500
            `,
          ),
      )
      .withPanel(
        tablePanel('Support messages about $service')
          .description('The latest 200 customer messages attributed to the service (personal data redacted at the edge).')
          .height(10)
          .span(12)
          .overrideByName('time', width(160))
          .overrideByName('label', [
            ...width(90),
            {
              id: 'mappings',
              value: [
                {
                  type: dashboard.MappingType.ValueToText,
                  options: { negative: { color: 'red', index: 0 }, neutral: { color: 'text', index: 1 }, positive: { color: 'green', index: 2 } },
                },
              ],
            },
            { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } },
          ])
          .overrideByName('sentiment', [...width(90), { id: 'decimals', value: 2 }])
          .withTarget(
            sql`
              SELECT time, label, sentiment, channel, source, region, arrayStringConcat(categories, ', ') AS topics, text
              FROM support_messages FINAL
              WHERE service = '$service' AND $__timeFilter(time)
              ORDER BY time DESC
              LIMIT 200
            `,
          ),
      )
  );
}
