// Template variables. Query variables use the plugin's variable syntax
// (grafana-plugin/src/templating.ts: metrics(), label_names(),
// label_values(label), label_values(metric, label)), which reads the series
// table; the plugin has no SQL variable queries yet.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { DATASOURCE } from './firebreak';

/**
 * What a multi-value variable's "All" becomes in SQL: a literal that
 * sql.inVariable recognises, so "All" also matches values the variable's
 * list does not hold (a service seen in logs but not in series labels).
 * Grafana inserts a custom allValue unformatted.
 */
export const ALL = `'__all__'`;

/** Services: the `service` label of the series (OTLP service.name, or the sender's label). */
export function serviceVariable(opts: { multi: boolean }): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder('service')
    .label('Service')
    .datasource(DATASOURCE)
    .query('label_values(service)')
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc);
  if (opts.multi) {
    v.multi(true).includeAll(true).allValue(ALL).current({ text: ['All'], value: ['$__all'], selected: true });
  }
  return v;
}

/** Metric names seen (all services: the plugin cannot list one service's metrics yet). */
export function metricVariable(): dashboard.QueryVariableBuilder {
  return new dashboard.QueryVariableBuilder('metric')
    .label('Metric')
    .datasource(DATASOURCE)
    .query('metrics()')
    .refresh(dashboard.VariableRefresh.OnDashboardLoad)
    .sort(dashboard.VariableSort.AlphabeticalCaseInsensitiveAsc);
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
