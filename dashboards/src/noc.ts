// NOC overview: the wall screen. What pages now, what the detectors see, and
// whether data still flows. "Now" panels show the state as of the end of
// the picked range ($__to), so moving the time picker back replays the wall.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { sql } from './firebreak';
import {
  displayName,
  fromNow,
  hidden,
  link,
  severityCell,
  stackedBarsPanel,
  statPanel,
  tablePanel,
  thresholdsFrom,
  timeseriesPanel,
  width,
} from './panels';
import { ERROR_LOGS, RANGE_END, SEVERITIES, asOfRangeEnd, bySeverity, labelsText, nullIfEpoch, serviceName } from './sql';

export const NOC_UID = 'firebreak-noc';

const serviceLink = (service: string) =>
  `/d/firebreak-service?var-service=\${__data.fields.${service}}&\${__url_time_range}`;

export function nocDashboard(): dashboard.DashboardBuilder {
  return (
    new dashboard.DashboardBuilder('Firebreak NOC overview')
      .uid(NOC_UID)
      .description('Wall screen: firing alerts, open detector findings, ingest, log errors and customer sentiment.')
      .tags(['firebreak', 'noc'])
      .readonly()
      .time({ from: 'now-6h', to: 'now' })
      .refresh('30s')
      .timezone('browser')
      .tooltip(dashboard.DashboardCursorSync.Crosshair)
      .timepicker(new dashboard.TimePickerBuilder().refreshIntervals(['10s', '30s', '1m', '5m', '15m']))
      .link(
        new dashboard.DashboardLinkBuilder('Wall screen (dark, kiosk)')
          .type(dashboard.DashboardLinkType.Link)
          .url(`/d/${NOC_UID}?theme=dark&kiosk`)
          .icon('dashboard')
          .keepTime(true),
      )
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )

      // Row 1: big numbers.
      .withPanel(
        statPanel('Firing alerts')
          .description('Alerts firing at the end of the range, by severity (latest transition per fingerprint).')
          .height(5)
          .span(12)
          .thresholds(thresholdsFrom(1, 'red'))
          .withTarget(
            sql`
              SELECT severity, sum(n) AS firing
              FROM (
                SELECT arrayJoin([${SEVERITIES.map((s) => `'${s}'`).join(', ')}]) AS severity, toUInt64(0) AS n
                UNION ALL
                SELECT last.2 AS severity, count() AS n
                FROM (
                  SELECT fingerprint, argMax((state, severity), time) AS last
                  FROM alerts FINAL
                  WHERE ${asOfRangeEnd()}
                  GROUP BY fingerprint
                )
                WHERE last.1 = 'firing'
                GROUP BY severity
              )
              GROUP BY severity
              ORDER BY ${bySeverity('severity')}
            `,
          ),
      )
      .withPanel(
        statPanel('Open detector findings')
          .description(
            'Problems open at the end of the range: anomalous series, silent sources (a series stopped at its learned cadence) and forecasts crossing a rule threshold.',
          )
          .height(5)
          .span(12)
          .thresholds(thresholdsFrom(1, 'orange'))
          .overrideByName('anomalies', displayName('Anomalous series'))
          .overrideByName('silent_sources', [...displayName('Silent sources'), { id: 'thresholds', value: thresholdsFrom(1, 'red').build() }])
          .overrideByName('predicted_breaches', displayName('Predicted breaches'))
          .withTarget(
            sql`
              SELECT
                countIf(kind = 'anomaly') AS anomalies,
                countIf(kind = 'silence') AS silent_sources,
                countIf(kind = 'predictive') AS predicted_breaches
              FROM (
                SELECT kind, series_id, rule, argMax(state, time) AS last_state
                FROM anomalies FINAL
                WHERE ${asOfRangeEnd()}
                GROUP BY kind, series_id, rule
              )
              WHERE last_state = 'open'
            `,
          ),
      )

      // Row 2: what pages.
      .withPanel(
        tablePanel('Firing alerts: details')
          .description('One row per firing alert; the name links to the generator URL the alerter sent to Alertmanager.')
          .height(9)
          .span(24)
          .overrideByName('alertname', [...width(260), ...link('Open the problem', '${__data.fields.generator_url}', true)])
          .overrideByName('service', [...width(160), ...link('Service drill-down', serviceLink('service'))])
          .overrideByName('severity', [...width(100), ...severityCell])
          .overrideByName('kind', width(100))
          .overrideByName('since', [...width(150), ...fromNow])
          .overrideByName('generator_url', hidden)
          .overrideByName('fingerprint', hidden)
          .withTarget(
            sql`
              SELECT
                last.2 AS alertname,
                last.3 AS service,
                last.4 AS severity,
                last.5 AS kind,
                last.6 AS since,
                last.7 AS summary,
                last.8 AS generator_url,
                fingerprint
              FROM (
                SELECT fingerprint,
                  argMax((state, alertname, service, severity, kind, starts_at, annotations['summary'], generator_url), time) AS last
                FROM alerts FINAL
                WHERE ${asOfRangeEnd()}
                GROUP BY fingerprint
              )
              WHERE last.1 = 'firing'
              ORDER BY ${bySeverity('severity')}, since
            `,
          ),
      )

      // Row 3: detectors and ingest.
      .withPanel(
        stackedBarsPanel('Anomalies per service')
          .description('Anomaly events opened per service and interval (kind anomaly).')
          .height(8)
          .span(12)
          .interval('5m')
          .withTarget(
            sql`
              SELECT $__timeGroup(time, $__interval) AS t, ${serviceName('service')} AS service_name, count() AS anomalies
              FROM anomalies FINAL
              WHERE $__timeFilter(time) AND kind = 'anomaly' AND state = 'open'
              GROUP BY t, service_name
              ORDER BY t
            `.timeSeries(),
          )
          // LongToWide names the label after the text column.
          .displayName('${__field.labels.service_name}'),
      )
      .withPanel(
        timeseriesPanel('Ingest rate')
          .description('Samples stored per minute (1-minute rollup; a point replayed after a crash counts twice).')
          .height(8)
          .span(12)
          .interval('1m')
          .unit('short')
          .fillOpacity(20)
          .axisSoftMin(0)
          .withTarget(
            sql`
              SELECT $__timeGroup(minute, $__interval) AS t, sum(count) / greatest($__interval_ms / 60000, 1) AS samples_per_minute
              FROM samples_1m
              WHERE $__timeFilter(minute)
              GROUP BY t
              ORDER BY t
            `.timeSeries(),
          )
          .displayName('samples/min'),
      )

      // Row 4: logs and customers.
      .withPanel(
        timeseriesPanel('Log errors per service')
          .description('Log entries at severity error or worse, per minute.')
          .height(8)
          .span(12)
          .interval('1m')
          .noValue('0') // a service without errors in an interval has no row: draw 0, not a gap
          .unit('short')
          .axisSoftMin(0)
          .withTarget(
            sql`
              SELECT $__timeGroup(time, $__interval) AS t, ${serviceName('service')} AS service_name,
                count() * 60000 / $__interval_ms AS errors_per_minute
              FROM logs
              WHERE $__timeFilter(time) AND ${ERROR_LOGS}
              GROUP BY t, service_name
              ORDER BY t
            `.timeSeries(),
          )
          .displayName('${__field.labels.service_name}'),
      )
      .withPanel(
        timeseriesPanel('Negative support messages')
          .description('Share of support messages classified negative, per service (15-minute buckets at least).')
          .height(8)
          .span(12)
          .interval('15m')
          .unit('percentunit')
          .min(0)
          .max(1)
          .showPoints(common.VisibilityMode.Auto)
          .withTarget(
            sql`
              SELECT $__timeGroup(time, $__interval) AS t, ${serviceName('service')} AS service_name,
                countIf(label = 'negative') / count() AS negative_share
              FROM support_messages FINAL
              WHERE $__timeFilter(time)
              GROUP BY t, service_name
              ORDER BY t
            `.timeSeries(),
          )
          .displayName('${__field.labels.service_name}'),
      )

      // Row 5: silent sources and forecasts.
      .withPanel(
        tablePanel('Silent sources')
          .description('Series that stopped arriving at their learned cadence and have not come back.')
          .height(8)
          .span(12)
          .overrideByName('service', [...width(140), ...link('Service drill-down', serviceLink('service'))])
          .overrideByName('metric', width(200))
          .overrideByName('last_seen', [...width(140), ...fromNow])
          .overrideByName('cadence', [...width(90), { id: 'unit', value: 's' }])
          .withTarget(
            sql`
              SELECT
                last.2 AS service,
                last.3 AS metric,
                ${nullIfEpoch('last.4')} AS last_seen,
                last.5 / 1000 AS cadence,
                ${labelsText('last.6', ['service'])} AS series_labels
              FROM (
                SELECT series_id, argMax((state, service, metric_name, last_seen, cadence_ms, labels), time) AS last
                FROM anomalies FINAL
                WHERE kind = 'silence' AND ${asOfRangeEnd()}
                GROUP BY series_id
              )
              WHERE last.1 = 'open'
              ORDER BY last_seen
            `,
          ),
      )
      .withPanel(
        tablePanel('Predicted breaches')
          .description('Forecasts that cross a rule threshold within the rule horizon, soonest first.')
          .height(8)
          .span(12)
          .overrideByName('service', [...width(140), ...link('Service drill-down', serviceLink('service'))])
          .overrideByName('severity', [...width(90), ...severityCell])
          .overrideByName('breach_at', [...width(160), { id: 'unit', value: 'dateTimeAsIso' }])
          .overrideByName('breach_in', [...width(100), { id: 'unit', value: 's' }])
          .withTarget(
            sql`
              SELECT
                last.2 AS service,
                last.3 AS metric,
                rule,
                last.4 AS severity,
                concat(last.5, ' ', toString(last.6)) AS condition,
                last.7 AS value,
                ${nullIfEpoch('last.8')} AS breach_at,
                dateDiff('second', ${RANGE_END}, last.8) AS breach_in,
                ${labelsText('last.9', ['service'])} AS series_labels
              FROM (
                SELECT series_id, rule,
                  argMax((state, service, metric_name, severity, op, threshold, value, predicted_breach_at, labels), time) AS last
                FROM anomalies FINAL
                WHERE kind = 'predictive' AND ${asOfRangeEnd()}
                GROUP BY series_id, rule
              )
              WHERE last.1 = 'open'
              ORDER BY breach_at
            `,
          ),
      )
  );
}
