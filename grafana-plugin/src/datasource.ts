import { CoreApp, DataSourceInstanceSettings, MetricFindValue, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { parseVariableQuery, selectorFormatter, sqlFormatter } from './templating';
import { DEFAULT_QUERY, FirebreakOptions, FirebreakQuery, QueryType } from './types';

export class DataSource extends DataSourceWithBackend<FirebreakQuery, FirebreakOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<FirebreakOptions>) {
    super(instanceSettings);
    // Annotation queries use the same editor and backend as panel queries
    // (an SQL query returning time and text columns, for now).
    this.annotations = {};
  }

  getDefaultQuery(_: CoreApp): Partial<FirebreakQuery> {
    return DEFAULT_QUERY;
  }

  /**
   * Replaces dashboard variables before the query reaches the backend. The
   * backend expands the time macros ($__timeFilter, $__interval, ...), so
   * alert rules, which skip this step, get the same SQL.
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
    return out;
  }

  /** Skips hidden queries and those without their main field. */
  filterQuery(query: FirebreakQuery): boolean {
    if (query.hide) {
      return false;
    }
    if (query.queryType === QueryType.SQL) {
      return !!query.rawSql?.trim();
    }
    return !!query.selector?.trim();
  }

  /** Template variables: see parseVariableQuery for the syntax. */
  async metricFindQuery(query: string, options?: { scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const call = parseVariableQuery(getTemplateSrv().replace(query, options?.scopedVars));
    const values: string[] = await this.getResource(call.path, call.params);
    return values.map((text) => ({ text }));
  }
}
