// NOC overview: the wall screen, readable across a room (large numbers, few
// panels, 10 s refresh). Open incidents, what pages, the health of every
// service, forecasts about to breach, what customers say against their
// usual level, and whether Firebreak itself still ingests. "Now" panels
// show the state as of the end of the picked range ($__to), so moving the
// time picker back replays the wall.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { FirebreakAnnotationBuilder, query, sql } from './firebreak';
import {
  displayName,
  fromNow,
  healthMappings,
  hidden,
  incidentSeverityCell,
  INCIDENT_SEVERITY_COLORS,
  link,
  severityCell,
  stateTimelinePanel,
  tablePanel,
  thresholdsFrom,
  timeseriesPanel,
  wallStatPanel,
  width, firebreakDashboard } from './panels';
import {
  INCIDENT_SEVERITIES,
  RANGE_END,
  SEVERITIES,
  asOfRangeEnd,
  bySeverity,
  counterIncrease,
  labelsText,
  nullIfEpoch,
  selfMetric,
} from './sql';

export const NOC_UID = 'firebreak-noc';

const serviceLink = (service: string) =>
  `/d/firebreak-service?var-service=\${__data.fields.${service}}&\${__url_time_range}`;

/** Complaint surges (detectors/surge) as annotations: when customers started complaining, and about what. */
export function complaintSurgeAnnotation(): FirebreakAnnotationBuilder {
  return new FirebreakAnnotationBuilder(
    'Complaint surges',
    sql`
      SELECT time, concat('Complaint surge: ', service, ' (', labels['channel'], ')') AS title,
        concat(toString(value), ' negative messages a minute, usually ', toString(round(expected, 1)), '; ', labels['sample_1']) AS text,
        ['complaint_surge', service] AS tags
      FROM anomalies FINAL
      WHERE kind = 'complaint_surge' AND state = 'open' AND $__timeFilter(time)
      ORDER BY time
    `,
    'purple',
  );
}

export function nocDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak NOC overview',
      uid: NOC_UID,
      description: 'Wall screen: open incidents, firing alerts, service health, predicted breaches, customer sentiment and ingest.',
      tags: ['noc'],
      from: 'now-6h',
      refresh: '10s',
    })
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
      .annotation(new FirebreakAnnotationBuilder('Incidents', query().incidents().annotations(), 'red'))
      .annotation(complaintSurgeAnnotation())

      // Row 1: big numbers.
      .withPanel(
        wallStatPanel('Open incidents')
          .description('Incidents open at the end of the range, by severity (P1: users affected broadly or complaining).')
          .height(6)
          .span(10)
          .thresholds(thresholdsFrom(1, 'red'))
          .overrides(
            INCIDENT_SEVERITIES.map((sev) => ({
              matcher: { id: 'byName', options: sev },
              properties: [{ id: 'thresholds', value: thresholdsFrom(1, INCIDENT_SEVERITY_COLORS[sev]).build() }],
            })),
          )
          .withTarget(
            sql`
              SELECT severity, sum(n) AS open_incidents
              FROM (
                SELECT arrayJoin([${INCIDENT_SEVERITIES.map((s) => `'${s}'`).join(', ')}]) AS severity, toUInt64(0) AS n
                UNION ALL
                SELECT severity, count() AS n
                FROM incidents FINAL
                WHERE state = 'open' AND ${asOfRangeEnd()}
                GROUP BY severity
              )
              GROUP BY severity
              ORDER BY severity
            `,
          ),
      )
      .withPanel(
        wallStatPanel('Firing alerts')
          .description('Alerts firing at the end of the range, by severity (latest transition per fingerprint).')
          .height(6)
          .span(7)
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
        wallStatPanel('Ingest')
          .description(
            "Firebreak's own metrics (self-scrape every 15 s): items accepted per second and requests refused per second over the last 5 minutes of the range, the writer's Kafka lag, and records dead-lettered in the range.",
          )
          .height(6)
          .span(7)
          .thresholds(thresholdsFrom(1, 'orange'))
          .overrideByName('accepted_per_s', [...displayName('accepted/s'), { id: 'thresholds', value: thresholdsFrom(0, 'green').build() }, { id: 'decimals', value: 0 }])
          .overrideByName('refused_per_s', [...displayName('refused/s'), { id: 'decimals', value: 1 }])
          .overrideByName('kafka_lag', [...displayName('Kafka lag'), { id: 'thresholds', value: thresholdsFrom(10000, 'orange').build() }])
          .overrideByName('dead_letters', [...displayName('dead letters'), { id: 'thresholds', value: thresholdsFrom(1, 'red').build() }])
          .withTarget(
            sql`
              SELECT
                sumIf(increase, metric = 'firebreak_collector_accepted_total' AND t >= recent) / 300 AS accepted_per_s,
                sumIf(increase, metric = 'firebreak_collector_rejected_total' AND t >= recent) / 300 AS refused_per_s,
                (
                  SELECT argMax(value, time)
                  FROM samples
                  WHERE ${selfMetric(['firebreak_writer_kafka_lag_messages'])} AND $__timeFilter(time)
                ) AS kafka_lag,
                sumIf(increase, metric = 'firebreak_writer_dead_letters_total') AS dead_letters
              FROM (
                ${counterIncrease(['firebreak_collector_accepted_total', 'firebreak_collector_rejected_total', 'firebreak_writer_dead_letters_total'], "labels['source']")}
              ) AS increases
              CROSS JOIN (SELECT fromUnixTimestamp64Milli($__to) - INTERVAL 5 MINUTE AS recent) AS range_end
            `,
          ),
      )

      // Row 2: incidents and service health.
      .withPanel(
        tablePanel('Incidents now')
          .description('Open incidents, newest first: severity, services, the likeliest root cause and a link to the report.')
          .height(9)
          .span(12)
          .overrideByName('severity', [...width(80), ...incidentSeverityCell])
          .overrideByName('id', hidden)
          .withTarget(query().incidents({ state: 'open', limit: 20 })),
      )
      .withPanel(
        stateTimelinePanel('Service health')
          .description(
            'One row per service: ok, anomalous (an open finding: an anomaly scoring 0.9 or more, a log pattern, a forecast or a complaint surge) or silent (a series stopped arriving and has not come back).',
          )
          .height(9)
          .span(12)
          .interval('1m')
          .mappings(healthMappings())
          .withTransformation({ id: 'partitionByValues', options: { fields: ['service_name'], keepFields: false, naming: { asLabels: true } } })
          .displayName('${__field.labels.service_name}')
          .withTarget(
            sql`
              SELECT t, service_name, max(level) AS health
              FROM (
                -- every service starts ok in every interval
                SELECT $__timeGroup(fromUnixTimestamp64Milli(toInt64($__from + i * $__interval_ms)), $__interval) AS t, svc AS service_name, toUInt8(0) AS level
                FROM (SELECT arrayJoin(range(toUInt64(intDiv($__to - $__from, $__interval_ms) + 1))) AS i) AS intervals
                CROSS JOIN (SELECT DISTINCT labels['service'] AS svc FROM series FINAL WHERE svc != '') AS services
                UNION ALL
                -- anomalous where a strong finding opened
                SELECT $__timeGroup(time, $__interval) AS t, service AS service_name, toUInt8(1) AS level
                FROM anomalies FINAL
                WHERE $__timeFilter(time) AND state = 'open' AND service != '' AND kind != 'silence' AND (kind != 'anomaly' OR score >= 0.9)
                UNION ALL
                -- silent from a silence's opening until it resolves (or the range ends)
                SELECT $__timeGroup(fromUnixTimestamp64Milli(toInt64(toUnixTimestamp64Milli(opened) + k * $__interval_ms)), $__interval) AS t, svc AS service_name, toUInt8(2) AS level
                FROM (
                  SELECT service AS svc, time AS opened, state AS st,
                    leadInFrame(time, 1, ${RANGE_END}) OVER (PARTITION BY series_id ORDER BY time ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS closed
                  FROM anomalies FINAL
                  WHERE kind = 'silence' AND service != '' AND ${asOfRangeEnd()}
                )
                ARRAY JOIN range(toUInt64(greatest(intDiv(toUnixTimestamp64Milli(closed) - toUnixTimestamp64Milli(opened), $__interval_ms), 0) + 1)) AS k
                WHERE st = 'open' AND closed >= fromUnixTimestamp64Milli($__from)
              )
              WHERE t >= $__timeGroup(fromUnixTimestamp64Milli($__from), $__interval) AND t <= fromUnixTimestamp64Milli($__to)
              GROUP BY t, service_name
              ORDER BY t, service_name
            `,
          ),
      )

      // Row 3: what is coming and what customers say.
      .withPanel(
        tablePanel('Predicted breaches')
          .description('Forecasts that cross a rule threshold within the rule horizon, soonest first: time to breach from the range end.')
          .height(9)
          .span(12)
          .overrideByName('service', [...width(130), ...link('Service drill-down', serviceLink('service'))])
          .overrideByName('severity', [...width(90), ...severityCell])
          .overrideByName('breach_in', [
            ...width(120),
            ...displayName('time to breach'),
            { id: 'unit', value: 's' },
            { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } },
            {
              id: 'thresholds',
              value: new dashboard.ThresholdsConfigBuilder()
                .mode(dashboard.ThresholdsMode.Absolute)
                .steps([
                  { value: null, color: 'red' },
                  { value: 1800, color: 'orange' },
                  { value: 7200, color: 'text' },
                ])
                .build(),
            },
          ])
          .overrideByName('breach_at', [...width(160), ...fromNow])
          .withTarget(
            sql`
              SELECT
                last.2 AS service,
                last.3 AS metric,
                rule,
                last.4 AS severity,
                dateDiff('second', ${RANGE_END}, last.8) AS breach_in,
                ${nullIfEpoch('last.8')} AS breach_at,
                concat(last.5, ' ', toString(last.6)) AS condition,
                round(last.7, 3) AS value,
                ${labelsText('last.9', ['service'])} AS series_labels
              FROM (
                SELECT series_id, rule,
                  argMax((state, service, metric_name, severity, op, threshold, value, predicted_breach_at, labels), time) AS last
                FROM anomalies FINAL
                WHERE kind = 'predictive' AND ${asOfRangeEnd()}
                GROUP BY series_id, rule
              )
              WHERE last.1 = 'open'
              ORDER BY breach_in
            `,
          ),
      )
      .withPanel(
        timeseriesPanel('Complaints against their baseline')
          .description(
            'Negative support messages per 5 minutes (all services) against their baseline, the mean of the hour before; complaint surges are marked.',
          )
          .height(9)
          .span(12)
          .interval('5m')
          .unit('short')
          .axisSoftMin(0)
          .lineWidth(2)
          .overrideByName('baseline', [
            { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
            { id: 'custom.fillOpacity', value: 0 },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'green' } },
          ])
          .overrideByName('negatives', [...displayName('negative messages'), { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
          .withTarget(
            sql`
              SELECT t, negatives, avg(negatives) OVER (ORDER BY t ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING) AS baseline
              FROM (
                SELECT $__timeGroup(time, $__interval) AS t, countIf(label = 'negative') AS negatives
                FROM support_messages FINAL
                WHERE $__timeFilter(time)
                GROUP BY t
              )
              ORDER BY t
            `.timeSeries(),
          ),
      )
  );
}
