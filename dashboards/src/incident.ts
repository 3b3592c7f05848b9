// Incident analyst: one incident at a time ($incident, the newest by
// default). What it is and its report, how it unfolded, which services
// went wrong when, the likeliest root causes, the key series against their
// bands, and what logs and customers said. Incident views come from the
// plugin's incident query type (the correlator's incidents and
// incident_events tables); logs, log patterns and complaints cover the
// incident's services over the picked range.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { FirebreakAnnotationBuilder, query } from './firebreak';
import { incidentSeverityCell, logsPanel, stateTimelinePanel, tablePanel, timeseriesPanel, width, firebreakDashboard } from './panels';
import { incidentServicesVariable, incidentVariable } from './variables';

export const INCIDENT_UID = 'firebreak-incident';

const BAND_COLOR = 'rgba(115, 191, 105, 0.6)';

export function incidentDashboard(): dashboard.DashboardBuilder {
  return (
    firebreakDashboard({
      title: 'Firebreak incident analyst',
      uid: INCIDENT_UID,
      description: 'One incident: summary and report, timeline, service states, root-cause candidates, key series with bands, log patterns, logs and complaints.',
      tags: ['incidents'],
      from: 'now-24h',
      refresh: '1m',
    })
      .withVariable(incidentVariable())
      .withVariable(incidentServicesVariable())
      .annotation(new FirebreakAnnotationBuilder('Incidents', query().incidents().annotations(), 'red'))
      .link(
        new dashboard.DashboardLinkBuilder('Firebreak')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['firebreak'])
          .asDropdown(true)
          .keepTime(true)
          .includeVars(false),
      )

      // Row 1: what the incident is.
      .withPanel(
        tablePanel('Summary')
          .description('The incident as it stands: state, severity, services, signals, MTTA and MTTR, and the link to its report (HTML, self-contained).')
          .height(5)
          .span(24)
          .filterable(false)
          .overrideByName('severity', [...width(80), ...incidentSeverityCell])
          .withTarget(query().incident('$incident', 'summary')),
      )

      // Row 2: how it unfolded.
      .withPanel(
        stateTimelinePanel('Service states')
          .description("Each of the incident's services over the incident: ok, or the kind of trouble it showed.")
          .height(8)
          .span(24)
          .showValue(common.VisibilityMode.Auto)
          .withTarget(query().incident('$incident', 'states')),
      )
      .withPanel(
        tablePanel('Timeline')
          .description('Every signal, change, alert and action of the incident, in order.')
          .height(10)
          .span(14)
          .overrideByName('time', width(170))
          .overrideByName('kind', width(110))
          .overrideByName('service', width(120))
          .withTarget(query().incident('$incident', 'timeline')),
      )
      .withPanel(
        tablePanel('Root-cause candidates')
          .description('Every service of the incident ranked: onset (earlier is better), upstream position, strength, and changes before its onset.')
          .height(10)
          .span(10)
          .overrideByName('rank', width(60))
          .overrideByName('service', width(120))
          .overrideByName('score', [...width(80), { id: 'decimals', value: 2 }])
          .withTarget(query().incident('$incident', 'root_causes')),
      )

      // Row 3: the evidence.
      .withPanel(
        timeseriesPanel('Key series with their bands')
          .description('The series behind the incident: value, the expected value (dashed) and the edges of the band the baseline learned (dotted).')
          .height(10)
          .span(24)
          // The band's edges as thin lines: a fill between them (fillBelowTo)
          // needs the exact display name of each series' lower edge, which
          // differs per series.
          .overrideByRegexp('/(^| )(upper|lower)$/', [
            { id: 'custom.lineWidth', value: 1 },
            { id: 'custom.fillOpacity', value: 0 },
            { id: 'custom.lineStyle', value: { fill: 'dot', dash: [2, 4] } },
            { id: 'color', value: { mode: 'fixed', fixedColor: BAND_COLOR } },
          ])
          .overrideByRegexp('/ expected$|^expected$/', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }])
          // The anomaly score (0 … 1) would flatten the values' axis: tooltip only.
          .overrideByRegexp('/ score$|^score$/', [{ id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: true } }])
          .withTarget(query().incident('$incident', 'series')),
      )
      .withPanel(
        tablePanel('New log patterns')
          .description("Log templates first seen in the range in the incident's services.")
          .height(9)
          .span(12)
          .withTarget(query().logPatterns('new', { service: '$service', limit: 50 })),
      )
      .withPanel(
        tablePanel('Top log patterns')
          .description("The incident's services' most frequent log templates in the range.")
          .height(9)
          .span(12)
          .withTarget(query().logPatterns('top', { service: '$service', limit: 50 })),
      )
      .withPanel(
        logsPanel('Logs')
          .description("The latest log lines of the incident's services in the range.")
          .height(10)
          .span(14)
          .withTarget(query().logs({ service: '$service', limit: 500 })),
      )
      .withPanel(
        tablePanel('Sample complaints')
          .description("Customer messages about the incident's services, most negative first (personal data redacted at the edge).")
          .height(10)
          .span(10)
          .withTarget(query().sentiment('samples', { service: '$service', limit: 50 })),
      )
  );
}
