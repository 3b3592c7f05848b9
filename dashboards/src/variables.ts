// Template variables. Query variables use the plugin's variable syntax
// (grafana-plugin/src/templating.ts: metrics(), label_names(),
// label_values(label), label_values(metric, label) on the series table;
// services(); incidents([state])), or SQL (SELECT ...), whose first column
// lists the values.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { DATASOURCE, sqlText } from './firebreak';

/**
 * What a multi-value variable's "All" becomes in SQL: a literal that
 * sql.inVariable recognises, so "All" also matches values the variable's
 * list does not hold (a service seen in logs but not in series labels).
 * Grafana inserts a custom allValue unformatted.
 */
export const ALL = `'__all__'`;

/**
 * Services: the `service` label of the series (OTLP service.name, or the
 * sender's label). The multi-value variant (history) lists them by name;
 * the single-value one (drill-down) is SQL listing the services with the
 * most detector findings in the range first, so the dashboard opens on the
 * service in most trouble.
 */
export function serviceVariable(opts: { multi: boolean }): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder('service').label('Service').datasource(DATASOURCE);
  if (opts.multi) {
    return v
      .query('label_values(service)')
      .refresh(dashboard.VariableRefresh.OnDashboardLoad)
      .sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc)
      .multi(true)
      .includeAll(true)
      .allValue(ALL)
      .current({ text: ['All'], value: ['$__all'], selected: true });
  }
  return v
    .query(
      sqlText`
        SELECT svc FROM (
          SELECT service AS svc, count() AS findings FROM anomalies FINAL WHERE $__timeFilter(time) AND service != '' GROUP BY svc
          UNION ALL
          SELECT DISTINCT labels['service'] AS svc, 0 AS findings FROM series FINAL WHERE svc != ''
        )
        GROUP BY svc
        ORDER BY sum(findings) DESC, svc
      `,
    )
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.Disabled);
}

/**
 * Metrics of $service (its series), the one with the highest anomaly score
 * in the range first, then the others by name.
 */
export function metricVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('metric')
    .label('Metric')
    .datasource(DATASOURCE)
    .query(
      sqlText`
        SELECT m FROM (
          SELECT metric_name AS m, max(score) AS worst FROM anomalies FINAL
          WHERE service = '$service' AND kind = 'anomaly' AND $__timeFilter(time) GROUP BY m
          UNION ALL
          SELECT DISTINCT metric_name AS m, -1 AS worst FROM series FINAL WHERE labels['service'] = '$service'
        )
        GROUP BY m
        ORDER BY max(worst) DESC, m
      `,
    )
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.Disabled);
}

/** One series of the metric by id; empty picks the series with the highest score in the range. */
export function seriesVariable(): dashboard.TextBoxVariableBuilder {
  return new dashboard.TextBoxVariableBuilder('series_id')
    .label('Series id (empty: most anomalous)')
    .description('series_id of one series of the metric; links from the anomalies tables fill it in')
    .defaultValue('');
}

/** Detector finding kinds (records.Kind*). */
export function kindVariable(): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('kind')
    .label('Kind')
    .values('anomaly,silence,predictive')
    .multi(true)
    .includeAll(true)
    .allValue(ALL)
    .current({ text: ['All'], value: ['$__all'], selected: true });
}

/**
 * Incidents: the plugin's incidents() variable query (the backend's
 * incidents resource) lists them as "title (id)" with the id as value, open
 * ones first and newest first within each state, so the default, the first
 * option, is the most recent open incident (else the most recent one).
 */
export function incidentVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('incident')
    .label('Incident')
    .description('Open incidents first, newest first')
    .datasource(DATASOURCE)
    .query('incidents()')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.Disabled);
}

/**
 * The services of $incident, root-cause candidates first (best first), then
 * the others. "All" (the default) is every one of them: Grafana expands it
 * to the list, which reaches the backend as a comma-separated filter.
 */
export function incidentServicesVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('service')
    .label('Service')
    .description("The incident's services, likeliest root cause first")
    .datasource(DATASOURCE)
    .query(
      sqlText`
        SELECT arrayJoin(arrayDistinct(arrayConcat(
          arrayMap(c -> JSONExtractString(c, 'service'), JSONExtractArrayRaw(root_causes)),
          services))) AS service_name
        FROM incidents FINAL
        WHERE id = '$incident'
      `,
    )
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.Disabled)
    .multi(true)
    .includeAll(true)
    .current({ text: ['All'], value: ['$__all'], selected: true });
}

/** Services customers wrote about in the range (support messages). */
export function supportServiceVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('service')
    .label('Service')
    .datasource(DATASOURCE)
    .query("SELECT DISTINCT service FROM support_messages WHERE $__timeFilter(time) AND service != '' ORDER BY service")
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.Disabled)
    .multi(true)
    .includeAll(true)
    .current({ text: ['All'], value: ['$__all'], selected: true });
}

/** Support channels (collectors/support: chat, email, ticket, phone, social). */
export function channelVariable(): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('channel')
    .label('Channel')
    .values('chat,email,ticket,phone,social')
    .multi(true)
    .includeAll(true)
    .current({ text: ['All'], value: ['$__all'], selected: true });
}

/** Firebreak processes that store their own metrics (self-scrape: job="firebreak"). */
export function selfInstanceVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('instance')
    .label('Firebreak instance')
    .datasource(DATASOURCE)
    .query("SELECT DISTINCT labels['instance'] AS inst FROM series FINAL WHERE labels['job'] = 'firebreak' ORDER BY inst")
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.Disabled)
    .multi(true)
    .includeAll(true)
    .allValue(ALL)
    .current({ text: ['All'], value: ['$__all'], selected: true });
}
