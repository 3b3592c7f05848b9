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
  resourceValues,
  selectorFormatter,
  sqlFormatter,
} from './templating';
import { DEFAULT_QUERY, FirebreakOptions, FirebreakQuery, Format, QueryType } from './types';

/** The model's text fields that take dashboard variables as they are (no quoting: the API quotes them). */
const PLAIN_FIELDS = ['incidentId', 'search', 'templateId'] as const;

export class DataSource extends DataSourceWithBackend<FirebreakQuery, FirebreakOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FirebreakOptions>) {
    super(instanceSettings);
    // Annotation queries use the same editor and backend as panel queries,
    // with Grafana's standard field mapping: the incidents, alerts and
    // anomalies query types with the Annotations format return time,
    // timeEnd (incidents and alerts), title, text and tags fields; an SQL
    // query returning a time and a text column works too. A new
    // annotation starts as the incidents in the dashboard's range.
    this.annotations = {
      getDefaultQuery: () => ({ queryType: QueryType.Incidents, format: Format.Annotations }),
    };
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
    if (typeof query.severity === 'string' && query.severity) {
      out.severity = srv.replace(query.severity, scopedVars, csvFormatter);
    } else if (Array.isArray(query.severity)) {
      // Items may be variables too ("$severity" with several values).
      out.severity = query.severity.flatMap((s) => srv.replace(s, scopedVars, csvFormatter).split(','));
    }
    if (query.channel) {
      out.channel = srv.replace(query.channel, scopedVars, csvFormatter);
    }
    for (const f of PLAIN_FIELDS) {
      const v = query[f];
      if (v) {
        out[f] = srv.replace(v, scopedVars);
      }
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
      case QueryType.Incidents:
      case QueryType.LogPatterns:
      case QueryType.Logs:
      case QueryType.Sentiment:
        return true;
      case QueryType.Incident:
        // Without an id the backend answers "choose an incident", which
        // the panel shows: better than an empty panel.
        return true;
    }
    return !!query.selector?.trim();
  }

  /**
   * Template variables: metrics(), label_names(...), label_values(...),
   * services(), incidents([state]) (see parseVariableQuery), or an SQL query whose first column gives the
   * values, e.g. SELECT DISTINCT service FROM anomalies WHERE $__timeFilter(time).
   */
  async metricFindQuery(query: string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    if (isSqlVariableQuery(query)) {
      const response = await this.runVariableSQL(query.trim(), options);
      return firstColumnValues(response.data);
    }
    const call = parseVariableQuery(getTemplateSrv().replace(query, options?.scopedVars));
    const values: Array<string | { text: string; value: string }> = await this.getResource(call.path, call.params);
    return resourceValues(values);
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
