// The Firebreak data source as dashboards see it: its reference and a typed
// builder for its query model (grafana-plugin/src/types.ts and
// grafana-plugin/pkg/query are the source of truth; keep the three in step).
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/** The provisioned data source (deploy/grafana/provisioning/datasources/firebreak.yaml). */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'firebreak-aiops-datasource', uid: 'firebreak' };

export type QueryType = 'sql' | 'metrics';
export type Format = 'table' | 'time_series';
export type Aggregation = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last' | 'first';

/** The JSON the plugin's query editor saves, as a cog data query. */
export interface FirebreakQuery extends cog.Dataquery {
  refId: string;
  datasource: dashboard.DataSourceRef;
  queryType: QueryType;
  hide?: boolean;
  // sql
  rawSql?: string;
  format?: Format;
  // metrics
  selector?: string;
  aggregation?: Aggregation;
  step?: string;
}

/**
 * Builds one Firebreak query. SQL queries read ClickHouse through the
 * backend, which expands $__timeFilter(col), $__timeGroup(col, $__interval),
 * $__interval, $__interval_ms, $__from and $__to (grafana-plugin/pkg/macros).
 * format('time_series') wants a time column first and numbers after it; text
 * columns turn a long answer into one series per distinct text value
 * (grafana-plugin/pkg/converters), and rows must be ordered by time.
 */
export class FirebreakQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: FirebreakQuery;

  constructor(refId = 'A') {
    this.internal = { refId, datasource: { ...DATASOURCE }, queryType: 'sql' } as FirebreakQuery;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  /** An SQL query (format table unless timeSeries() is called). */
  sql(rawSql: string): this {
    this.internal.queryType = 'sql';
    this.internal.rawSql = dedent(rawSql);
    this.internal.format ??= 'table';
    return this;
  }

  format(format: Format): this {
    this.internal.format = format;
    return this;
  }

  timeSeries(): this {
    return this.format('time_series');
  }

  table(): this {
    return this.format('table');
  }

  /** A metrics query: one series by Prometheus selector, aggregated per step. */
  metrics(selector: string, aggregation: Aggregation = 'avg', step = ''): this {
    this.internal.queryType = 'metrics';
    this.internal.selector = selector;
    this.internal.aggregation = aggregation;
    if (step) {
      this.internal.step = step;
    }
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  build(): FirebreakQuery {
    const q: FirebreakQuery = { ...this.internal, datasource: { ...this.internal.datasource } };
    // cog's marker method must not end up in the JSON (stringify would skip
    // it anyway) nor in deep comparisons.
    Object.defineProperty(q, '_implementsDataqueryVariant', { value: () => {}, enumerable: false });
    return q;
  }
}

/**
 * An SQL query (refId A; chain .refId('B') for more), written as a tagged
 * template: sql`SELECT ...`. See sqlText for the layout.
 */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): FirebreakQueryBuilder {
  return new FirebreakQueryBuilder().sql(sqlText(strings, ...values));
}

/**
 * Firebreak SQL as an annotation query. The plugin answers annotations with
 * its panel backend (src/datasource.ts: `this.annotations = {}`): Grafana
 * keeps the query in `target` and reads the answer's columns time, timeEnd,
 * title, text and tags. The SDK types `target` for Grafana's built-in
 * annotations only, hence the cast.
 */
export class FirebreakAnnotationBuilder implements cog.Builder<dashboard.AnnotationQuery> {
  private readonly internal: dashboard.AnnotationQuery;

  constructor(name: string, query: FirebreakQueryBuilder, iconColor: string) {
    const target = query.refId('Anno').build();
    this.internal = {
      name,
      datasource: { ...DATASOURCE },
      enable: true,
      iconColor,
      target: target as unknown as dashboard.AnnotationTarget,
    };
  }

  build(): dashboard.AnnotationQuery {
    return this.internal;
  }
}

/**
 * SQL text from a template literal: the literal's common indentation and
 * blank first and last lines go, and a multi-line value keeps the
 * indentation of the line it is placed on, so fragments nest readably in
 * the generated JSON.
 */
export function sqlText(strings: TemplateStringsArray, ...values: unknown[]): string {
  const mark = (i: number) => `\u0000${i}\u0000`;
  const text = dedent(strings.reduce((acc, s, i) => acc + mark(i - 1) + s));
  return text
    .split('\n')
    .map((line) => {
      const indent = line.slice(0, line.length - line.trimStart().length);
      return line.replace(/\u0000(\d+)\u0000/g, (_, i: string) => String(values[Number(i)]).split('\n').join('\n' + indent));
    })
    .join('\n');
}

/** Strips the common indentation of a text, and its blank first and last lines. */
export function dedent(text: string): string {
  const lines = text.replace(/\t/g, '  ').split('\n');
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent).trimEnd()).join('\n');
}
