// Panel defaults shared by the dashboards: every panel reads the Firebreak
// data source, tables and charts look alike, and the few colour rules live
// here once.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

import { DATASOURCE } from './firebreak';
import { SEVERITIES } from './sql';

type Props = dashboard.DynamicConfigValue[];

/** Green below `at`, `color` from it on. */
export function thresholdsFrom(at: number, color = 'red'): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    { value: at, color },
  ]);
}

/** Colours of incident severities, P1 worst. */
export const INCIDENT_SEVERITY_COLORS: Record<string, string> = { P1: 'dark-red', P2: 'red', P3: 'orange', P4: 'yellow' };

export function incidentSeverityMappings(): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  Object.entries(INCIDENT_SEVERITY_COLORS).forEach(([s, color], index) => (options[s] = { color, index }));
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

/** Service health levels of the NOC grid (0 ok, 1 anomalous, 2 silent). */
export function healthMappings(): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: {
        '0': { text: 'ok', color: 'green', index: 0 },
        '1': { text: 'anomalous', color: 'orange', index: 1 },
        '2': { text: 'silent', color: 'red', index: 2 },
      },
    },
  ];
}

/** Colours of alert severities (firing alerts table, history). */
export const SEVERITY_COLORS: Record<(typeof SEVERITIES)[number], string> = {
  critical: 'red',
  warning: 'orange',
  info: 'blue',
};

export function severityMappings(): dashboard.ValueMapping[] {
  const options: Record<string, dashboard.ValueMappingResult> = {};
  SEVERITIES.forEach((s, index) => (options[s] = { color: SEVERITY_COLORS[s], index }));
  return [{ type: dashboard.MappingType.ValueToText, options }];
}

/** Big numbers for the wall: the background turns to the threshold colour. */
export function statPanel(title: string): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.ValueAndName)
    .justifyMode(common.BigValueJustifyMode.Center)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(true).fields(''))
    .noValue('0');
}

/** A stat readable across a room: large value and title text (NOC wall). */
export function wallStatPanel(title: string): stat.PanelBuilder {
  return statPanel(title).text(new common.VizTextDisplayOptionsBuilder().titleSize(22).valueSize(64));
}

export function tablePanel(title: string): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .cellHeight(common.TableCellHeight.Sm)
    .filterable(true)
    .showHeader(true);
}

export function timeseriesPanel(title: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

/** Stacked bars, one colour per series. */
export function stackedBarsPanel(title: string): timeseries.PanelBuilder {
  return timeseriesPanel(title)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .lineWidth(1)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('A'))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.PaletteClassic));
}

export function stateTimelinePanel(title: string): statetimeline.PanelBuilder {
  return new statetimeline.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .rowHeight(0.8)
    .fillOpacity(80)
    .lineWidth(0)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom));
}

/**
 * Log lines: the answer's first time column is the line's time, its first
 * text column the body, and a column named `level` colours the line.
 */
export function logsPanel(title: string): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .dedupStrategy(common.LogsDedupStrategy.None);
}

// Field override properties.

export const hidden: Props = [{ id: 'custom.hidden', value: true }];

export function displayName(name: string): Props {
  return [{ id: 'displayName', value: name }];
}

/** A time shown as "3 minutes ago" / "in 2 hours". */
export const fromNow: Props = [{ id: 'unit', value: 'dateTimeFromNow' }];

export function width(px: number): Props {
  return [{ id: 'custom.width', value: px }];
}

/** A text column coloured by severity. */
export const severityCell: Props = [
  { id: 'mappings', value: severityMappings() },
  { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorText } },
];

/** A cell linking to `url` (data link syntax: ${__data.fields.x}, ${__url_time_range}, ...). */
export function link(title: string, url: string, targetBlank = false): Props {
  return [{ id: 'links', value: [{ title, url, targetBlank }] }];
}

/** An incident severity (P1 … P4) coloured cell. */
export const incidentSeverityCell: Props = [
  { id: 'mappings', value: incidentSeverityMappings() },
  { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
];

/** A [0, 1] score as a coloured gauge cell. */
export const scoreCell: Props = [
  { id: 'min', value: 0 },
  { id: 'max', value: 1 },
  { id: 'decimals', value: 2 },
  {
    id: 'thresholds',
    value: {
      mode: dashboard.ThresholdsMode.Absolute,
      steps: [
        { value: null, color: 'green' },
        { value: 0.5, color: 'orange' },
        { value: 0.9, color: 'red' },
      ],
    },
  },
  { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.Gauge, mode: common.BarGaugeDisplayMode.Basic } },
];

/** What every Firebreak dashboard shares: read-only, browser time, shared crosshair. */
export interface DashboardBase {
  title: string;
  uid: string;
  description: string;
  tags: string[];
  from: string;
  /** Auto-refresh; none for analysts' history. */
  refresh?: string;
}

/** A dashboard with the settings every Firebreak dashboard shares. */
export function firebreakDashboard(b: DashboardBase): dashboard.DashboardBuilder {
  const d = new dashboard.DashboardBuilder(b.title)
    .uid(b.uid)
    .description(b.description)
    .tags(['firebreak', ...b.tags])
    .readonly()
    .time({ from: b.from, to: 'now' });
  if (b.refresh) {
    d.refresh(b.refresh);
  }
  return d.timezone('browser').tooltip(dashboard.DashboardCursorSync.Crosshair);
}
