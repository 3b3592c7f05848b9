// Reading generated dashboards back: every query with where it came from.
// Shared by the tests and the SQL validator.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import type { FirebreakQuery } from './firebreak';

export interface QueryRef {
  /** "Panel title" or "annotation Name". */
  where: string;
  /** The panel's id, or the annotation's name: where refIds must be unique. */
  holder: string;
  /** The panel's minimum interval (panel.interval), if any. */
  minInterval?: string;
  /** Datasource of the panel or annotation holding the query. */
  holderDatasource?: dashboard.DataSourceRef;
  query: FirebreakQuery;
}

/** Panels, including those inside rows. */
export function panelsOf(d: dashboard.Dashboard): dashboard.Panel[] {
  const out: dashboard.Panel[] = [];
  for (const p of d.panels ?? []) {
    if (p.type === 'row') {
      out.push(...(((p as dashboard.RowPanel).panels ?? []) as dashboard.Panel[]));
    } else {
      out.push(p as dashboard.Panel);
    }
  }
  return out;
}

/** Every panel target and every non-built-in annotation target. */
export function queriesOf(d: dashboard.Dashboard): QueryRef[] {
  const out: QueryRef[] = [];
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      out.push({ where: p.title ?? `panel ${p.id}`, holder: `panel ${p.id}`, minInterval: p.interval, holderDatasource: p.datasource, query: t as unknown as FirebreakQuery });
    }
  }
  for (const a of d.annotations.list ?? []) {
    if (a.builtIn) continue;
    out.push({ where: `annotation ${a.name}`, holder: `annotation ${a.name}`, holderDatasource: a.datasource, query: a.target as unknown as FirebreakQuery });
  }
  return out;
}

/** Names of the dashboard's template variables. */
export function variablesOf(d: dashboard.Dashboard): dashboard.VariableModel[] {
  return d.templating.list ?? [];
}
