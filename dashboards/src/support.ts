// Support sentiment: what customers say, per service and per channel. The
// plugin's sentiment query type gives messages per step and the negative
// share per group (series) and redacted samples, most negative first;
// complaint surges are the surge detector's findings (anomalies of kind
// complaint_surge: negative messages a minute against their learned mean).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { query, sql } from './firebreak';
import { complaintSurgeAnnotation } from './noc';
import { displayName, statPanel, tablePanel, thresholdsFrom, timeseriesPanel, width, firebreakDashboard } from './panels';
import { channelVariable, supportServiceVariable } from './variables';

export const SUPPORT_UID = 'firebreak-support';

/** Both picked variables, as the sentiment query type's comma-separated filters. */
const FILTERS = { service: '$service', channel: '$channel' };
const SQL_FILTER = "service IN (${service:sqlstring}) AND channel IN (${channel:sqlstring})";

/**
 * Messages per step on the left axis, the negative share (0 … 1) on the
 * right: the sentiment series view names the share's fields with "negative".
 */
function sentimentPanel(title: string, groupBy: 'service' | 'channel'): ReturnType<typeof timeseriesPanel> {
  return timeseriesPanel(title)
    .description(`Support messages per interval and the share of them classified negative (right axis), per ${groupBy}.`)
    .height(9)
    .span(12)
    .interval('5m')
    .unit('short')
    .axisSoftMin(0)
    .overrideByRegexp('/negative/i', [
      { id: 'unit', value: 'percentunit' },
      { id: 'min', value: 0 },
      { id: 'max', value: 1 },
      { id: 'custom.axisPlacement', value: 'right' },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    ])
    .withTarget(query().sentiment('series', { ...FILTERS, groupBy }));
}

export function supportDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak support sentiment',
      uid: SUPPORT_UID,
      description: 'Customer messages per service and channel: volume, negative share, complaint surges and sample messages.',
      tags: ['support'],
      from: 'now-24h',
      refresh: '1m',
    })
      .withVariable(supportServiceVariable())
      .withVariable(channelVariable())
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )
      .annotation(complaintSurgeAnnotation())

      .withPanel(
        statPanel('Customer messages')
          .description('Messages in the range, the share classified negative, and complaint surges opened.')
          .height(4)
          .span(24)
          .thresholds(thresholdsFrom(0, 'blue'))
          .overrideByName('messages', displayName('Messages'))
          .overrideByName('negative_share', [
            ...displayName('Negative'),
            { id: 'unit', value: 'percentunit' },
            { id: 'decimals', value: 0 },
            { id: 'thresholds', value: thresholdsFrom(0.3, 'orange').build() },
          ])
          .overrideByName('surges', [...displayName('Complaint surges'), { id: 'thresholds', value: thresholdsFrom(1, 'red').build() }])
          .withTarget(
            sql`
              SELECT
                count() AS messages,
                if(count() = 0, 0, countIf(label = 'negative') / count()) AS negative_share,
                (
                  SELECT count()
                  FROM anomalies FINAL
                  WHERE kind = 'complaint_surge' AND state = 'open' AND $__timeFilter(time) AND service IN (\${service:sqlstring})
                ) AS surges
              FROM support_messages FINAL
              WHERE $__timeFilter(time) AND ${SQL_FILTER}
            `,
          ),
      )
      .withPanel(sentimentPanel('Per service', 'service'))
      .withPanel(sentimentPanel('Per channel', 'channel'))
      .withPanel(
        tablePanel('Complaint surges')
          .description('Surges the detector opened: negative messages a minute against their learned mean and the threshold, with what customers wrote.')
          .height(8)
          .span(24)
          .overrideByName('time', width(160))
          .overrideByName('service', width(110))
          .overrideByName('channel', width(80))
          .overrideByName('negative_per_min', [...width(120), ...displayName('negative/min')])
          .overrideByName('usual', [...width(80), { id: 'decimals', value: 1 }])
          .overrideByName('threshold', [...width(90), { id: 'decimals', value: 1 }])
          .withTarget(
            sql`
              SELECT time, service, labels['channel'] AS channel, value AS negative_per_min, expected AS usual, upper AS threshold,
                labels['negative_share'] AS negative_share, labels['messages'] AS messages_in_minute,
                arrayStringConcat(arrayFilter(x -> x != '', [labels['sample_1'], labels['sample_2'], labels['sample_3']]), ' | ') AS samples
              FROM anomalies FINAL
              WHERE kind = 'complaint_surge' AND state = 'open' AND $__timeFilter(time) AND service IN (\${service:sqlstring})
              ORDER BY time DESC
              LIMIT 200
            `,
          ),
      )
      .withPanel(
        tablePanel('Sample messages')
          .description('Redacted messages from the picked services and channels, most negative first.')
          .height(10)
          .span(24)
          .withTarget(query().sentiment('samples', { ...FILTERS, limit: 100 })),
      )
  );
}
