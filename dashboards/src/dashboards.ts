// The dashboards this folder provisions: one entry per JSON file, in the
// Grafana folder named by its directory (the provider in
// deploy/grafana/provisioning/dashboards/firebreak.yaml sets
// foldersFromFilesStructure).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { historyDashboard } from './history';
import { incidentDashboard } from './incident';
import { nocDashboard } from './noc';
import { selfDashboard } from './self';
import { serviceDashboard } from './service';
import { supportDashboard } from './support';

export interface DashboardFile {
  /** Grafana folder, and the directory under dashboards/. */
  folder: string;
  file: string;
  build: () => dashboard.Dashboard;
}

export const FOLDER = 'Firebreak';

export const DASHBOARDS: DashboardFile[] = [
  { folder: FOLDER, file: 'noc-overview.json', build: () => finish(nocDashboard()) },
  { folder: FOLDER, file: 'service-drilldown.json', build: () => finish(serviceDashboard()) },
  { folder: FOLDER, file: 'alerts-anomalies-history.json', build: () => finish(historyDashboard()) },
  { folder: FOLDER, file: 'incident-analyst.json', build: () => finish(incidentDashboard()) },
  { folder: FOLDER, file: 'support-sentiment.json', build: () => finish(supportDashboard()) },
  { folder: FOLDER, file: 'firebreak-self-health.json', build: () => finish(selfDashboard()) },
];

/**
 * Adds Grafana's own annotations (alert and user annotations) as Grafana
 * saves them, makes the annotation and variable lists explicit, and numbers
 * panels in order (stable ids keep viewPanel links working).
 */
function finish(builder: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = builder.build();
  const builtIn = new dashboard.AnnotationQueryBuilder()
    .name('Annotations & Alerts')
    .datasource({ type: 'grafana', uid: '-- Grafana --' })
    .builtIn(1)
    .enable(true)
    .hide(true)
    .iconColor('rgba(0, 211, 255, 1)')
    .type('dashboard')
    .build();
  d.annotations = { list: [builtIn, ...(d.annotations.list ?? [])] };
  d.templating = { list: d.templating.list ?? [] };
  let id = 0;
  for (const p of d.panels ?? []) {
    p.id = ++id;
    for (const inner of 'panels' in p && Array.isArray(p.panels) ? p.panels : []) {
      inner.id = ++id;
    }
  }
  return d;
}

/** The file's text: stable key order (the builders'), two-space indent, final newline. */
export function render(d: dashboard.Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n';
}
