import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  getDefaultTimeRange,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import {
  csvFormatter,
  firstColumnValues,
  isSqlVariableQuery,
  parseVariableQuery,
  selectorFormatter,
  sqlFormatter,
} from './templating';
import { DEFAULT_QUERY, FirebreakOptions, FirebreakQuery, Format, QueryType } from './types';

export class DataSource extends DataSourceWithBackend<FirebreakQuery, FirebreakOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FirebreakOptions>) {
    super(instanceSettings);
    // Annotation queries use the same editor and backend as panel queries,
    // with Grafana's standard field mapping: the anomalies query type with
    // the Annotations format returns time, title, text and tags fields; an
    // SQL query returning a time and a text column works too.
    this.annotations = {};
  }

  getDefaultQuery(_: CoreApp): Partial<FirebreakQuery> {
    return DEFAULT_QUERY;
  }

  /**
   * Replaces dashboard variables before the query reaches the backend. The
   * backend expands the time macros ($__timeFilter, $__interval, ...), so
   * alert rules, which skip this step, get the same SQL. Service and
   * severity filters take multi-value variables as comma-separated lists.
   */
  applyTemplateVariables(query: FirebreakQuery, scopedVars: ScopedVars): FirebreakQuery {
    const srv = getTemplateSrv();
    const out = { ...query };
    if (query.rawSql) {
      out.rawSql = srv.replace(query.rawSql, scopedVars, sqlFormatter);
    }
    if (query.selector) {
      out.selector = srv.replace(query.selector, scopedVars, selectorFormatter);
    }
    if (query.step) {
      out.step = srv.replace(query.step, scopedVars);
    }
    if (query.service) {
      out.service = srv.replace(query.service, scopedVars, csvFormatter);
    }
    if (query.severity) {
      out.severity = srv.replace(query.severity, scopedVars, csvFormatter);
    }
    return out;
  }

  /** Skips hidden queries and those without their main field. */
  filterQuery(query: FirebreakQuery): boolean {
    if (query.hide) {
      return false;
    }
    switch (query.queryType) {
      case QueryType.SQL:
        return !!query.rawSql?.trim();
      case QueryType.Anomalies:
      case QueryType.Alerts:
        return true;
    }
    return !!query.selector?.trim();
  }

  /**
   * Template variables: metrics(), label_names(...), label_values(...)
   * (see parseVariableQuery), or an SQL query whose first column gives the
   * values, e.g. SELECT DISTINCT service FROM anomalies WHERE $__timeFilter(time).
   */
  async metricFindQuery(query: string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    if (isSqlVariableQuery(query)) {
      const response = await this.runVariableSQL(query.trim(), options);
      return firstColumnValues(response.data);
    }
    const call = parseVariableQuery(getTemplateSrv().replace(query, options?.scopedVars));
    const values: string[] = await this.getResource(call.path, call.params);
    return values.map((text) => ({ text }));
  }

  /** Runs a variable's SQL as an sql query (applyTemplateVariables quotes its variables). */
  private runVariableSQL(rawSql: string, options?: LegacyMetricFindQueryOptions): Promise<DataQueryResponse> {
    const range = options?.range ?? getDefaultTimeRange();
    const request: DataQueryRequest<FirebreakQuery> = {
      requestId: `firebreak-variable-${options?.variable?.name ?? 'query'}`,
      app: CoreApp.Dashboard,
      range,
      interval: '1m',
      intervalMs: 60_000,
      scopedVars: options?.scopedVars ?? {},
      targets: [{ refId: 'variable', queryType: QueryType.SQL, rawSql, format: Format.Table }],
      timezone: 'utc',
      startTime: Date.now(),
    };
    return new Promise((resolve, reject) => {
      let last: DataQueryResponse = { data: [] };
      this.query(request).subscribe({
        next: (r) => {
          last = r;
        },
        error: reject,
        complete: () => (last.errors?.length ? reject(new Error(last.errors[0].message)) : resolve(last)),
      });
    });
  }
}
