// Alerts & anomalies history, for analysts: when each alert fired and for
// how long, and every detector finding, filterable by kind and service.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { sql } from './firebreak';
import {
  fromNow,
  hidden,
  link,
  scoreCell,
  severityCell,
  stackedBarsPanel,
  stateTimelinePanel,
  tablePanel,
  width, firebreakDashboard } from './panels';
import { RANGE_END, RANGE_START, inVariable, labelsText, nullIfEpoch } from './sql';
import { kindVariable, serviceVariable } from './variables';

export const HISTORY_UID = 'firebreak-incidents-alerts';

const ALERT_FILTER = `${inVariable('service', 'service')} AND ${inVariable('kind', 'kind')}`;

/** 0 resolved, 1 info (or an unknown severity), 2 warning, 3 critical. */
function alertLevel(state: string, severity: string): string {
  return `toUInt8(multiIf(${state} != 'firing', 0, ${severity} = 'critical', 3, ${severity} = 'warning', 2, 1))`;
}

function alertRow(alertname: string, service: string): string {
  return `concat(${alertname}, ' · ', ${service}, ' · ', substring(fingerprint, 1, 8))`;
}

const serviceLink = `/d/firebreak-service?var-service=\${__data.fields.service}&var-metric=\${__data.fields.metric}&var-series_id=\${__data.fields.series}&\${__url_time_range}`;

export function historyDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak alerts & anomalies history',
      uid: HISTORY_UID,
      description: 'For analysts: alert timelines and durations, and every detector finding, by kind and service.',
      tags: ['alerts', 'anomalies'],
      from: 'now-24h',
    })
      .withVariable(serviceVariable({ multi: true }))
      .withVariable(kindVariable())
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )

      .withPanel(
        stateTimelinePanel('Alert states')
          .description('One row per alert (name · service · fingerprint): coloured by severity while firing.')
          .height(10)
          .span(24)
          .mappings([
            {
              type: dashboard.MappingType.ValueToText,
              options: {
                '0': { text: 'resolved', color: 'transparent', index: 0 },
                '1': { text: 'info', color: 'blue', index: 1 },
                '2': { text: 'warning', color: 'orange', index: 2 },
                '3': { text: 'critical', color: 'red', index: 3 },
              },
            },
          ])
          // One frame per alert, holding only its own transitions: a state
          // lasts until that alert's next row. (A time_series answer would be
          // one wide frame whose other alerts' rows are nulls, which end states.)
          .withTransformation({ id: 'partitionByValues', options: { fields: ['alert'], keepFields: false, naming: { asLabels: true } } })
          .displayName('${__field.labels.alert}')
          .withTarget(
            sql`
              SELECT t, alert, level
              FROM (
                SELECT ${RANGE_START} AS t, ${alertRow('last.2', 'last.3')} AS alert, ${alertLevel('last.1', 'last.4')} AS level
                FROM (
                  SELECT fingerprint, argMax((state, alertname, service, severity), time) AS last
                  FROM alerts FINAL
                  WHERE time < ${RANGE_START} AND ${ALERT_FILTER}
                  GROUP BY fingerprint
                )
                WHERE last.1 = 'firing'
                UNION ALL
                SELECT time AS t, ${alertRow('alertname', 'service')} AS alert, ${alertLevel('state', 'severity')} AS level
                FROM alerts FINAL
                WHERE $__timeFilter(time) AND ${ALERT_FILTER}
              )
              ORDER BY t
            `,
          ),
      )
      .withPanel(
        tablePanel('Alerts')
          .description('Each firing of an alert that changed state in the range, newest first; the name links to its generator URL.')
          .height(10)
          .span(24)
          .overrideByName('started', width(160))
          .overrideByName('alertname', [...width(220), ...link('Open the problem', '${__data.fields.generator_url}', true)])
          .overrideByName('service', width(140))
          .overrideByName('severity', [...width(90), ...severityCell])
          .overrideByName('kind', width(90))
          .overrideByName('state', width(80))
          .overrideByName('resolved', width(160))
          .overrideByName('duration', [...width(100), { id: 'unit', value: 's' }])
          .overrideByName('generator_url', hidden)
          .overrideByName('fingerprint', hidden)
          .withTarget(
            sql`
              SELECT
                started,
                last.2 AS alertname,
                last.3 AS service,
                last.4 AS severity,
                last.5 AS kind,
                last.1 AS state,
                ${nullIfEpoch('last.6')} AS resolved,
                dateDiff('second', started, if(last.1 = 'firing', ${RANGE_END}, last.6)) AS duration,
                last.7 AS summary,
                last.8 AS generator_url,
                fingerprint
              FROM (
                SELECT fingerprint, starts_at AS started,
                  argMax((state, alertname, service, severity, kind, ends_at, annotations['summary'], generator_url), time) AS last
                FROM alerts FINAL
                WHERE $__timeFilter(time) AND ${ALERT_FILTER}
                GROUP BY fingerprint, started
              )
              ORDER BY started DESC
              LIMIT 1000
            `,
          ),
      )
      .withPanel(
        stackedBarsPanel('Findings opened per kind')
          .description('Detector events that opened a problem, per kind.')
          .height(7)
          .span(24)
          .interval('5m')
          .displayName('${__field.labels.finding}')
          .withTarget(
            sql`
              SELECT $__timeGroup(time, $__interval) AS t, kind AS finding, count() AS opened
              FROM anomalies FINAL
              WHERE $__timeFilter(time) AND state = 'open' AND ${inVariable('kind', 'kind')} AND ${inVariable('service', 'service')}
              GROUP BY t, finding
              ORDER BY t
            `.timeSeries(),
          ),
      )
      .withPanel(
        tablePanel('Findings')
          .description('Every detector event in the range (newest 2000), filterable per column; the metric links to the service drill-down.')
          .height(12)
          .span(24)
          .sortBy([new common.TableSortByFieldStateBuilder().displayName('time').desc(true)])
          .overrideByName('time', width(160))
          .overrideByName('kind', width(90))
          .overrideByName('state', width(80))
          .overrideByName('service', width(120))
          .overrideByName('metric', link('Service drill-down for this series', serviceLink))
          .overrideByName('score', [...width(110), ...scoreCell])
          .overrideByName('severity', severityCell)
          .overrideByName('last_seen_at', fromNow)
          .overrideByName('series', hidden)
          .withTarget(
            sql`
              SELECT
                time, kind, state, service, metric_name AS metric, ${labelsText('labels', ['service'])} AS series_labels,
                value, expected, lower, upper, score, direction, rule, severity,
                if(op = '', '', concat(op, ' ', toString(threshold))) AS condition,
                ${nullIfEpoch('predicted_breach_at')} AS breach_at,
                ${nullIfEpoch('last_seen')} AS last_seen_at,
                toString(series_id) AS series
              FROM anomalies FINAL
              WHERE $__timeFilter(time) AND ${inVariable('kind', 'kind')} AND ${inVariable('service', 'service')}
              ORDER BY time DESC
              LIMIT 2000
            `,
          ),
      )
  );
}
