import React, { ChangeEvent } from 'react';
import { Checkbox, InlineField, Input, RadioButtonGroup, Stack } from '@grafana/ui';
import { SelectableValue } from '@grafana/data';
import {
  FirebreakQuery,
  Format,
  GroupBy,
  INCIDENT_STATES,
  IncidentView,
  LIMITS,
  LOG_LEVELS,
  PatternMode,
  SentimentView,
  SEVERITIES,
  Severity,
} from '../types';

/**
 * Editors of the query types that read Firebreak's incidents, log
 * patterns, logs and support sentiment: only the fields each type takes.
 * The backend validates; these only edit the model.
 */
export interface ReadEditorProps {
  query: FirebreakQuery;
  /** Applies a change; run: also run the query (choices run at once, text on blur). */
  set: (patch: Partial<FirebreakQuery>, run?: boolean) => void;
  onRunQuery: () => void;
}

/** A number from an input, or undefined when it is empty or not a number. */
function numberOrUndefined(text: string): number | undefined {
  const n = parseFloat(text);
  return text.trim() === '' || Number.isNaN(n) ? undefined : n;
}

/** The severity list of an incidents query, from text or a list. */
export function severityList(s: FirebreakQuery['severity']): string[] {
  if (Array.isArray(s)) {
    return s;
  }
  return (s ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** sevs with sev switched on or off, in P1…P4 order; undefined for none (every severity). */
export function toggleSeverity(sevs: string[], sev: Severity, on: boolean): Severity[] | undefined {
  const next = SEVERITIES.filter((s) => (s === sev ? on : sevs.includes(s)));
  return next.length ? next : undefined;
}

function TextField(props: {
  id: string;
  label: string;
  tooltip: string;
  value?: string;
  placeholder: string;
  width?: number;
  onChange: (v: string | undefined) => void;
  onBlur: () => void;
}) {
  return (
    <InlineField label={props.label} labelWidth={14} tooltip={props.tooltip}>
      <Input
        id={props.id}
        value={props.value ?? ''}
        placeholder={props.placeholder}
        width={props.width ?? 24}
        onChange={(e: ChangeEvent<HTMLInputElement>) => props.onChange(e.target.value || undefined)}
        onBlur={props.onBlur}
      />
    </InlineField>
  );
}

function ServiceField({ query, set, onRunQuery }: ReadEditorProps) {
  return (
    <TextField
      id="query-editor-service"
      label="Service"
      tooltip="One service, several separated by commas, or a variable ($service); empty or All for every service"
      value={query.service}
      placeholder="all"
      onChange={(service) => set({ service })}
      onBlur={onRunQuery}
    />
  );
}

function LimitField({ query, set, onRunQuery, def, max }: ReadEditorProps & { def: number; max: number }) {
  return (
    <InlineField label="Limit" labelWidth={10} tooltip={`Most rows shown (default ${def}, at most ${max})`}>
      <Input
        id="query-editor-limit"
        type="number"
        min={1}
        max={max}
        value={query.limit ?? ''}
        placeholder={String(def)}
        width={12}
        onChange={(e: ChangeEvent<HTMLInputElement>) => set({ limit: numberOrUndefined(e.target.value) })}
        onBlur={onRunQuery}
      />
    </InlineField>
  );
}

const tableOrAnnotations: Array<SelectableValue<Format>> = [
  { label: 'Table', value: Format.Table },
  { label: 'Annotations', value: Format.Annotations, description: 'Regions from opening to resolution' },
];

/** incidents: service, state, severities, limit, format. */
export function IncidentsEditor(props: ReadEditorProps) {
  const { query, set } = props;
  const sevs = severityList(query.severity);
  return (
    <>
      <Stack direction="row" gap={1}>
        <ServiceField {...props} />
        <InlineField label="State" labelWidth={10}>
          <RadioButtonGroup
            options={[{ label: 'any', value: '' }, ...INCIDENT_STATES.map((s) => ({ label: s, value: s }))]}
            value={query.state ?? ''}
            onChange={(v) => set({ state: v || undefined }, true)}
          />
        </InlineField>
      </Stack>
      <Stack direction="row" gap={1}>
        <InlineField label="Severity" labelWidth={14} tooltip="Which severities to show; none checked shows every one">
          <Stack direction="row" gap={2} alignItems="center">
            {SEVERITIES.map((s) => (
              <Checkbox
                key={s}
                label={s}
                value={sevs.includes(s)}
                onChange={(e: ChangeEvent<HTMLInputElement>) =>
                  set({ severity: toggleSeverity(sevs, s, e.target.checked) }, true)
                }
              />
            ))}
          </Stack>
        </InlineField>
        <LimitField {...props} def={LIMITS.incidents.def} max={LIMITS.incidents.max} />
        <InlineField label="Format" labelWidth={10}>
          <RadioButtonGroup
            options={tableOrAnnotations}
            value={query.format === Format.Annotations ? Format.Annotations : Format.Table}
            onChange={(v) => set({ format: v }, true)}
          />
        </InlineField>
      </Stack>
    </>
  );
}

const incidentViews: Array<SelectableValue<IncidentView>> = [
  { label: 'Timeline', value: IncidentView.Timeline, description: 'Every event in time order' },
  { label: 'States', value: IncidentView.States, description: 'Each service over time, for a state timeline panel' },
  { label: 'Root causes', value: IncidentView.RootCauses, description: 'Ranked candidates with their onset' },
  { label: 'Series', value: IncidentView.Series, description: 'Key series with their bands, over the incident' },
  { label: 'Summary', value: IncidentView.Summary, description: 'One row with MTTD, MTTA, MTTR and the report' },
];

/** incident: the incident's id and the view. */
export function IncidentEditor(props: ReadEditorProps) {
  const { query, set } = props;
  return (
    <Stack direction="row" gap={1}>
      <TextField
        id="query-editor-incident"
        label="Incident id"
        tooltip="The incident's id (inc-…), usually a variable with the query incidents()"
        value={query.incidentId}
        placeholder="$incident"
        width={36}
        onChange={(incidentId) => set({ incidentId })}
        onBlur={props.onRunQuery}
      />
      <InlineField label="View" labelWidth={10}>
        <RadioButtonGroup
          options={incidentViews}
          value={(query.view as IncidentView) ?? IncidentView.Timeline}
          onChange={(v) => set({ view: v }, true)}
        />
      </InlineField>
    </Stack>
  );
}

const patternModes: Array<SelectableValue<PatternMode>> = [
  { label: 'Top', value: PatternMode.Top, description: 'Templates by lines in the range' },
  { label: 'New', value: PatternMode.New, description: 'Templates first seen in the range' },
  { label: 'Rates', value: PatternMode.Rates, description: 'Lines per step of the top templates' },
];

/** logPatterns: service, mode, limit. */
export function LogPatternsEditor(props: ReadEditorProps) {
  const { query, set } = props;
  const mode = (query.mode as PatternMode) ?? PatternMode.Top;
  const limits = mode === PatternMode.Rates ? LIMITS.patternRates : LIMITS.patterns;
  return (
    <Stack direction="row" gap={1}>
      <ServiceField {...props} />
      <InlineField label="Mode" labelWidth={10}>
        <RadioButtonGroup options={patternModes} value={mode} onChange={(v) => set({ mode: v }, true)} />
      </InlineField>
      <LimitField {...props} def={limits.def} max={limits.max} />
    </Stack>
  );
}

/** logs: service, search, template id, minimum level, limit. */
export function LogsEditor(props: ReadEditorProps) {
  const { query, set, onRunQuery } = props;
  const level = typeof query.severity === 'string' ? query.severity : (query.severity?.[0] ?? '');
  return (
    <>
      <Stack direction="row" gap={1}>
        <ServiceField {...props} />
        <TextField
          id="query-editor-search"
          label="Search"
          tooltip="Lines containing this text, ignoring case"
          value={query.search}
          placeholder="timeout"
          width={32}
          onChange={(search) => set({ search })}
          onBlur={onRunQuery}
        />
      </Stack>
      <Stack direction="row" gap={1}>
        <TextField
          id="query-editor-template"
          label="Template id"
          tooltip="Only lines of this log template (16 hex digits, as the log patterns tables show)"
          value={query.templateId}
          placeholder="any"
          onChange={(templateId) => set({ templateId })}
          onBlur={onRunQuery}
        />
        <InlineField label="Min level" labelWidth={10}>
          <RadioButtonGroup
            options={[{ label: 'any', value: '' }, ...LOG_LEVELS.map((l) => ({ label: l, value: l }))]}
            value={level}
            onChange={(v) => set({ severity: v || undefined }, true)}
          />
        </InlineField>
        <LimitField {...props} def={LIMITS.logs.def} max={LIMITS.logs.max} />
      </Stack>
    </>
  );
}

const sentimentViews: Array<SelectableValue<SentimentView>> = [
  { label: 'Series', value: SentimentView.Series, description: 'Messages and negative share per step' },
  { label: 'Samples', value: SentimentView.Samples, description: 'The most negative messages (redacted)' },
];

const groupBys: Array<SelectableValue<GroupBy>> = [
  { label: 'service', value: GroupBy.Service },
  { label: 'channel', value: GroupBy.Channel },
];

/** sentiment: service, channel, view; group by (series) or limit (samples). */
export function SentimentEditor(props: ReadEditorProps) {
  const { query, set, onRunQuery } = props;
  const view = (query.view as SentimentView) ?? SentimentView.Series;
  return (
    <>
      <Stack direction="row" gap={1}>
        <ServiceField {...props} />
        <TextField
          id="query-editor-channel"
          label="Channel"
          tooltip="chat, email, ticket, phone or social; several separated by commas; empty for all"
          value={query.channel}
          placeholder="all"
          onChange={(channel) => set({ channel })}
          onBlur={onRunQuery}
        />
      </Stack>
      <Stack direction="row" gap={1}>
        <InlineField label="View" labelWidth={14}>
          <RadioButtonGroup options={sentimentViews} value={view} onChange={(v) => set({ view: v }, true)} />
        </InlineField>
        {view === SentimentView.Series ? (
          <InlineField label="Group by" labelWidth={10}>
            <RadioButtonGroup
              options={groupBys}
              value={query.groupBy ?? GroupBy.Service}
              onChange={(v) => set({ groupBy: v }, true)}
            />
          </InlineField>
        ) : (
          <LimitField {...props} def={LIMITS.samples.def} max={LIMITS.samples.max} />
        )}
      </Stack>
    </>
  );
}
