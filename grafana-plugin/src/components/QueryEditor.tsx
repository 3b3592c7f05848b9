import React, { ChangeEvent } from 'react';
import { InlineField, Input, RadioButtonGroup, Stack, TextArea } from '@grafana/ui';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { DataSource } from '../datasource';
import { AGGREGATIONS, Aggregation, FirebreakOptions, FirebreakQuery, Format, QueryType } from '../types';

type Props = QueryEditorProps<DataSource, FirebreakQuery, FirebreakOptions>;

const queryTypes = [
  { label: 'Metrics', value: QueryType.Metrics },
  { label: 'SQL', value: QueryType.SQL },
];

const formats: Array<SelectableValue<Format>> = [
  { label: 'Table', value: Format.Table },
  { label: 'Time series', value: Format.TimeSeries },
];

const aggregations: Array<SelectableValue<Aggregation>> = AGGREGATIONS.map((a) => ({ label: a, value: a }));

/** One editor per query type; the backend validates and runs the query. */
export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const queryType = query.queryType ?? QueryType.Metrics;
  const set = (patch: Partial<FirebreakQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineField label="Query type" labelWidth={14}>
        <RadioButtonGroup options={queryTypes} value={queryType} onChange={(v) => set({ queryType: v }, true)} />
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
              options={formats}
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
          </Stack>
        </>
      )}
    </Stack>
  );
}
