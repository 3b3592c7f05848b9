import React, { ChangeEvent } from 'react';
import { Checkbox, InlineField, InlineSwitch, Input, RadioButtonGroup, Stack, TextArea } from '@grafana/ui';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { DataSource } from '../datasource';
import { IncidentEditor, IncidentsEditor, LogPatternsEditor, LogsEditor, SentimentEditor } from './ReadEditors';
import {
  AGGREGATIONS,
  Aggregation,
  ALERT_STATES,
  AlertMode,
  ANOMALY_STATES,
  DEFAULT_LIMIT,
  FirebreakOptions,
  FirebreakQuery,
  Format,
  Kind,
  KINDS,
  MAX_LIMIT,
  QueryType,
  withQueryType,
} from '../types';

type Props = QueryEditorProps<DataSource, FirebreakQuery, FirebreakOptions>;

const queryTypes = [
  { label: 'Metrics', value: QueryType.Metrics },
  { label: 'SQL', value: QueryType.SQL },
  { label: 'Anomalies', value: QueryType.Anomalies },
  { label: 'Alerts', value: QueryType.Alerts },
  { label: 'Incidents', value: QueryType.Incidents },
  { label: 'Incident', value: QueryType.Incident },
  { label: 'Log patterns', value: QueryType.LogPatterns },
  { label: 'Logs', value: QueryType.Logs },
  { label: 'Sentiment', value: QueryType.Sentiment },
];

const sqlFormats: Array<SelectableValue<Format>> = [
  { label: 'Table', value: Format.Table },
  { label: 'Time series', value: Format.TimeSeries },
];

const anomalyFormats: Array<SelectableValue<Format>> = [
  { label: 'Table', value: Format.Table },
  { label: 'Annotations', value: Format.Annotations },
];

const alertModes: Array<SelectableValue<AlertMode>> = [
  { label: 'Current', value: AlertMode.Current, description: 'The state of each alert at the end of the range' },
  { label: 'History', value: AlertMode.History, description: 'Every transition within the range' },
];

const aggregations: Array<SelectableValue<Aggregation>> = AGGREGATIONS.map((a) => ({ label: a, value: a }));

/** The state choices: "any" (empty) first. */
function stateOptions(states: readonly string[]): Array<SelectableValue<string>> {
  return [{ label: 'any', value: '' }, ...states.map((s) => ({ label: s, value: s }))];
}

/** kinds with kind switched on or off, in the canonical order; undefined for none (every kind). */
function toggleKind(kinds: Kind[] | undefined, kind: Kind, on: boolean): Kind[] | undefined {
  const next = KINDS.filter((k) => (k === kind ? on : kinds?.includes(k)));
  return next.length ? next : undefined;
}

/** A number from an input, or undefined when it is empty or not a number. */
function numberOrUndefined(text: string): number | undefined {
  const n = parseFloat(text);
  return text.trim() === '' || Number.isNaN(n) ? undefined : n;
}

/** One editor per query type; the backend validates and runs the query. */
export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const queryType = query.queryType ?? QueryType.Metrics;
  const set = (patch: Partial<FirebreakQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  // What the anomalies and alerts editors share: kinds, service, state, limit.
  const filters = (states: readonly string[]) => (
    <>
      <InlineField label="Kinds" labelWidth={14} tooltip="Which findings to show; none checked shows every kind">
        <Stack direction="row" gap={2} alignItems="center">
          {KINDS.map((k) => (
            <Checkbox
              key={k}
              label={k}
              value={query.kinds?.includes(k) ?? false}
              onChange={(e: ChangeEvent<HTMLInputElement>) =>
                set({ kinds: toggleKind(query.kinds, k, e.target.checked) }, true)
              }
            />
          ))}
        </Stack>
      </InlineField>
      <Stack direction="row" gap={1}>
        <InlineField
          label="Service"
          labelWidth={14}
          tooltip="One service, several separated by commas, or a variable; empty for all"
        >
          <Input
            id="query-editor-service"
            value={query.service ?? ''}
            placeholder="all"
            width={24}
            onChange={(e: ChangeEvent<HTMLInputElement>) => set({ service: e.target.value })}
            onBlur={() => onRunQuery()}
          />
        </InlineField>
        <InlineField label="State" labelWidth={10}>
          <RadioButtonGroup
            options={stateOptions(states)}
            value={query.state ?? ''}
            onChange={(v) => set({ state: v || undefined }, true)}
          />
        </InlineField>
        <InlineField label="Limit" labelWidth={10} tooltip={`Most rows shown, newest first (at most ${MAX_LIMIT})`}>
          <Input
            id="query-editor-limit"
            type="number"
            min={1}
            max={MAX_LIMIT}
            value={query.limit ?? ''}
            placeholder={String(DEFAULT_LIMIT)}
            width={12}
            onChange={(e: ChangeEvent<HTMLInputElement>) => set({ limit: numberOrUndefined(e.target.value) })}
            onBlur={() => onRunQuery()}
          />
        </InlineField>
      </Stack>
    </>
  );

  return (
    <Stack direction="column" gap={1}>
      <InlineField label="Query type" labelWidth={14}>
        <RadioButtonGroup
          options={queryTypes}
          value={queryType}
          onChange={(v) => {
            onChange(withQueryType(query, v));
            onRunQuery();
          }}
        />
      </InlineField>

      {queryType === QueryType.SQL && (
        <>
          <InlineField
            label="SQL"
            labelWidth={14}
            grow
            tooltip="Read-only ClickHouse SQL. Macros: $__timeFilter(col), $__timeGroup(col, $__interval), $__interval, $__interval_ms, $__from, $__to"
          >
            <TextArea
              id="query-editor-sql"
              rows={6}
              value={query.rawSql ?? ''}
              placeholder="SELECT $__timeGroup(time, $__interval) AS t, avg(value) AS v FROM samples WHERE $__timeFilter(time) GROUP BY t ORDER BY t"
              onChange={(e: ChangeEvent<HTMLTextAreaElement>) => set({ rawSql: e.target.value })}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
          <InlineField label="Format" labelWidth={14}>
            <RadioButtonGroup
              options={sqlFormats}
              value={query.format ?? Format.Table}
              onChange={(v) => set({ format: v }, true)}
            />
          </InlineField>
        </>
      )}

      {queryType === QueryType.Metrics && (
        <>
          <InlineField
            label="Selector"
            labelWidth={14}
            grow
            tooltip='Label matchers, e.g. {__name__="http_requests_total", service=~"checkout|cart"}'
          >
            <Input
              id="query-editor-selector"
              value={query.selector ?? ''}
              placeholder='{__name__="http_requests_total", service="checkout"}'
              onChange={(e: ChangeEvent<HTMLInputElement>) => set({ selector: e.target.value })}
              onBlur={() => onRunQuery()}
            />
          </InlineField>
          <Stack direction="row" gap={1}>
            <InlineField label="Aggregation" labelWidth={14} tooltip="How the points within one step combine">
              <RadioButtonGroup
                options={aggregations}
                value={query.aggregation ?? 'avg'}
                onChange={(v) => set({ aggregation: v }, true)}
              />
            </InlineField>
            <InlineField label="Step" labelWidth={10} tooltip="30s, 5m, 1h; empty for the panel interval">
              <Input
                id="query-editor-step"
                value={query.step ?? ''}
                placeholder="auto"
                width={12}
                onChange={(e: ChangeEvent<HTMLInputElement>) => set({ step: e.target.value })}
                onBlur={() => onRunQuery()}
              />
            </InlineField>
            <InlineField
              label="Band"
              labelWidth={10}
              disabled={query.aggregation === 'count'}
              tooltip='Adds the detector&apos;s expected value and band per series, as fields "<series> expected", "<series> lower" and "<series> upper" (not with count)'
            >
              <InlineSwitch
                id="query-editor-band"
                value={query.withBand ?? false}
                onChange={(e: React.FormEvent<HTMLInputElement>) =>
                  set({ withBand: e.currentTarget.checked || undefined }, true)
                }
              />
            </InlineField>
            <InlineField
              label="Score"
              labelWidth={10}
              tooltip='Adds the detector&apos;s anomaly score per series (0 … 1, the step&apos;s highest, on its own axis), as a field "<series> score"'
            >
              <InlineSwitch
                id="query-editor-score"
                value={query.withScore ?? false}
                onChange={(e: React.FormEvent<HTMLInputElement>) =>
                  set({ withScore: e.currentTarget.checked || undefined }, true)
                }
              />
            </InlineField>
          </Stack>
        </>
      )}

      {queryType === QueryType.Anomalies && (
        <>
          {filters(ANOMALY_STATES)}
          <Stack direction="row" gap={1}>
            <InlineField label="Min score" labelWidth={14} tooltip="Only findings scored at least this, 0 … 1">
              <Input
                id="query-editor-min-score"
                type="number"
                min={0}
                max={1}
                step={0.05}
                value={query.minScore ?? ''}
                placeholder="0"
                width={12}
                onChange={(e: ChangeEvent<HTMLInputElement>) => set({ minScore: numberOrUndefined(e.target.value) })}
                onBlur={() => onRunQuery()}
              />
            </InlineField>
            <InlineField
              label="Format"
              labelWidth={10}
              tooltip="Annotations: time, title, text and tags fields, for annotation queries and time series panels"
            >
              <RadioButtonGroup
                options={anomalyFormats}
                value={query.format === Format.Annotations ? Format.Annotations : Format.Table}
                onChange={(v) => set({ format: v }, true)}
              />
            </InlineField>
          </Stack>
        </>
      )}

      {queryType === QueryType.Alerts && (
        <>
          <Stack direction="row" gap={1}>
            <InlineField label="Mode" labelWidth={14}>
              <RadioButtonGroup
                options={alertModes}
                value={query.mode ?? AlertMode.Current}
                onChange={(v) => set({ mode: v }, true)}
              />
            </InlineField>
            <InlineField
              label="Severity"
              labelWidth={10}
              tooltip="One severity, several separated by commas, or a variable; empty for all"
            >
              <Input
                id="query-editor-severity"
                value={Array.isArray(query.severity) ? query.severity.join(',') : (query.severity ?? '')}
                placeholder="all"
                width={20}
                onChange={(e: ChangeEvent<HTMLInputElement>) => set({ severity: e.target.value })}
                onBlur={() => onRunQuery()}
              />
            </InlineField>
          </Stack>
          {filters(ALERT_STATES)}
          <InlineField
            label="Format"
            labelWidth={14}
            tooltip="Annotations: each alert from firing to resolved (current mode), tagged with severity, service and kind"
          >
            <RadioButtonGroup
              options={anomalyFormats}
              value={query.format === Format.Annotations ? Format.Annotations : Format.Table}
              onChange={(v) => set({ format: v, mode: v === Format.Annotations ? AlertMode.Current : query.mode }, true)}
            />
          </InlineField>
        </>
      )}

      {queryType === QueryType.Incidents && <IncidentsEditor query={query} set={set} onRunQuery={onRunQuery} />}
      {queryType === QueryType.Incident && <IncidentEditor query={query} set={set} onRunQuery={onRunQuery} />}
      {queryType === QueryType.LogPatterns && <LogPatternsEditor query={query} set={set} onRunQuery={onRunQuery} />}
      {queryType === QueryType.Logs && <LogsEditor query={query} set={set} onRunQuery={onRunQuery} />}
      {queryType === QueryType.Sentiment && <SentimentEditor query={query} set={set} onRunQuery={onRunQuery} />}
    </Stack>
  );
}
