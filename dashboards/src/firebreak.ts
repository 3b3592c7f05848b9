// The Firebreak data source as dashboards see it: its reference and a typed
// builder for its query model (grafana-plugin/src/types.ts and
// grafana-plugin/pkg/query are the source of truth; keep the three in step).
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

/** The provisioned data source (deploy/grafana/provisioning/datasources/firebreak.yaml). */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'firebreak-aiops-datasource', uid: 'firebreak' };

/** Query types the plugin answers (grafana-plugin/pkg/query: Types). */
export const QUERY_TYPES = ['sql', 'metrics', 'anomalies', 'alerts', 'incidents', 'incident', 'logPatterns', 'logs', 'sentiment'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];
export type Format = 'table' | 'time_series' | 'annotations';
export type Aggregation = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'last' | 'first';

/** Detector finding kinds the anomalies and alerts query types filter on. */
export type Kind = 'anomaly' | 'silence' | 'predictive';
export type IncidentState = 'open' | 'mitigated' | 'resolved';
/** What the incident query type answers about one incident. */
export const INCIDENT_VIEWS = ['timeline', 'states', 'root_causes', 'series', 'summary'] as const;
export type IncidentView = (typeof INCIDENT_VIEWS)[number];
export const LOG_PATTERN_MODES = ['top', 'new', 'rates'] as const;
export type LogPatternMode = (typeof LOG_PATTERN_MODES)[number];
export const SENTIMENT_VIEWS = ['series', 'samples'] as const;
export type SentimentView = (typeof SENTIMENT_VIEWS)[number];
export type SentimentGroupBy = 'service' | 'channel';

/**
 * The formats each query type takes, its default first (as pkg/query
 * checks them); an empty list means the type has no format field.
 */
export const FORMATS: Record<QueryType, Format[]> = {
  sql: ['table', 'time_series'],
  metrics: [],
  anomalies: ['table', 'annotations'],
  alerts: ['table', 'annotations'],
  incidents: ['table', 'annotations'],
  incident: [],
  logPatterns: [],
  logs: [],
  sentiment: [],
};

/** The JSON the plugin's query editor saves, as a cog data query. */
export interface FirebreakQuery extends cog.Dataquery {
  refId: string;
  datasource: dashboard.DataSourceRef;
  queryType: QueryType;
  hide?: boolean;
  // sql (format also for anomalies, alerts and incidents)
  rawSql?: string;
  format?: Format;
  // metrics
  selector?: string;
  aggregation?: Aggregation;
  step?: string;
  withBand?: boolean;
  withScore?: boolean;
  // anomalies, alerts, incidents, logPatterns, logs, sentiment: one service
  // or several separated by commas (a multi-value variable arrives so)
  service?: string;
  severity?: string;
  state?: string;
  kinds?: Kind[];
  minScore?: number;
  limit?: number;
  // alerts: current or history
  mode?: string;
  // incident
  incidentId?: string;
  view?: string;
  // logs
  search?: string;
  templateId?: string;
  // sentiment
  channel?: string;
  groupBy?: SentimentGroupBy;
}

/** Filters shared by the detector, incident, log and sentiment query types. */
export interface Filters {
  /** One service, several separated by commas, or a variable ($service). */
  service?: string;
  limit?: number;
}

/**
 * Builds one Firebreak query. SQL queries read ClickHouse through the
 * backend, which expands $__timeFilter(col), $__timeGroup(col, $__interval),
 * $__interval, $__interval_ms, $__from and $__to (grafana-plugin/pkg/macros).
 * format('time_series') wants a time column first and numbers after it; text
 * columns turn a long answer into one series per distinct text value
 * (grafana-plugin/pkg/converters), and rows must be ordered by time.
 * The other query types build their SQL in the backend from a few fields.
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

  /** As Grafana annotations (time, timeEnd, title, text, tags) where the type has that format. */
  annotations(): this {
    return this.format('annotations');
  }

  /**
   * A metrics query: the series of a Prometheus selector, aggregated per
   * step; withBand adds each series' expected value, lower and upper band
   * from the detector's bands, withScore its anomaly score.
   */
  metrics(selector: string, aggregation: Aggregation = 'avg', step = '', withBand = false, withScore = false): this {
    this.internal.queryType = 'metrics';
    this.internal.selector = selector;
    this.internal.aggregation = aggregation;
    if (step) {
      this.internal.step = step;
    }
    if (withBand) {
      this.internal.withBand = true;
    }
    if (withScore) {
      this.internal.withScore = true;
    }
    return this;
  }

  /** Detector findings in the range (format table or annotations). */
  anomalies(f: Filters & { kinds?: Kind[]; state?: 'open' | 'resolved'; minScore?: number } = {}): this {
    return this.typed('anomalies', f, 'table');
  }

  /** Alerts: the state of each at the range end (current) or every transition (history). */
  alerts(f: Filters & { state?: 'firing' | 'resolved'; mode?: 'current' | 'history'; severity?: string } = {}): this {
    return this.typed('alerts', f, 'table');
  }

  /**
   * Incidents in the range, newest first: id, title, state, severity,
   * services, root cause, opened/updated, resolved, MTTA/MTTR and a data
   * link to the HTML report (format table), or as annotations.
   */
  incidents(f: Filters & { state?: IncidentState; severity?: string } = {}): this {
    return this.typed('incidents', f, 'table');
  }

  /** One incident (id, usually $incident) seen one way (INCIDENT_VIEWS). */
  incident(incidentId: string, view: IncidentView): this {
    return this.typed('incident', { incidentId, view });
  }

  /** Log templates of a service: top by count, new in the range (tables), or rates per template (time series). */
  logPatterns(mode: LogPatternMode, f: Filters = {}): this {
    return this.typed('logPatterns', { ...f, mode });
  }

  /** Log lines as a logs frame, newest first. */
  logs(f: Filters & { search?: string; templateId?: string; severity?: string } = {}): this {
    return this.typed('logs', f);
  }

  /**
   * Support sentiment: messages per step and negative share per group
   * (view series), or redacted sample messages, most negative first (samples).
   */
  sentiment(view: SentimentView, f: Filters & { channel?: string; groupBy?: SentimentGroupBy } = {}): this {
    return this.typed('sentiment', { ...f, view });
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  /** Switches to a backend-built query type with the given fields (undefined ones left out). */
  private typed(queryType: QueryType, fields: Partial<FirebreakQuery>, format?: Format): this {
    const q = this.internal as unknown as Record<string, unknown>;
    for (const k of Object.keys(q)) {
      if (!['refId', 'datasource', 'hide'].includes(k)) delete q[k];
    }
    this.internal.queryType = queryType;
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined && v !== '') q[k] = v;
    }
    if (format && !this.internal.format) this.internal.format = format;
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

/** A query of a backend-built type: query().incidents({...}), query('B').logs({...}). */
export function query(refId = 'A'): FirebreakQueryBuilder {
  return new FirebreakQueryBuilder(refId);
}

/**
 * Why the plugin would refuse the query, by the contract of
 * grafana-plugin/pkg/query ('' when it is fine): the fields each type
 * requires and the values it allows.
 */
export function queryProblem(q: FirebreakQuery): string {
  if (!(QUERY_TYPES as readonly string[]).includes(q.queryType)) return `unknown queryType ${q.queryType}`;
  const formats = FORMATS[q.queryType];
  if (formats.length === 0 && q.format !== undefined) return `${q.queryType} takes no format`;
  if (formats.length > 0 && q.format !== undefined && !formats.includes(q.format)) return `format ${q.format} is not one of ${formats.join(', ')}`;
  const oneOf = (field: keyof FirebreakQuery, allowed: readonly string[], required = true): string => {
    const v = q[field];
    if (v === undefined || v === '') return required ? `${q.queryType} needs ${String(field)}` : '';
    return allowed.includes(String(v)) ? '' : `${String(field)} ${String(v)} is not one of ${allowed.join(', ')}`;
  };
  switch (q.queryType) {
    case 'sql':
      if (!q.rawSql?.trim()) return 'empty SQL';
      if (/;\s*$/.test(q.rawSql)) return 'one statement, no trailing semicolon';
      return q.format === undefined ? 'sql needs a format' : '';
    case 'metrics':
      if (!q.selector?.trim()) return 'metrics query without selector';
      return oneOf('aggregation', ['avg', 'min', 'max', 'sum', 'count', 'last', 'first'], false) || (q.withBand && q.aggregation === 'count' ? 'a band has no count' : '');
    case 'anomalies':
      return oneOf('state', ['open', 'resolved'], false);
    case 'alerts':
      return (
        oneOf('state', ['firing', 'resolved'], false) ||
        oneOf('mode', ['current', 'history'], false) ||
        (q.format === 'annotations' && (q.mode ?? 'current') !== 'current' ? 'alert annotations need mode current' : '')
      );
    case 'incidents':
      return oneOf('state', ['open', 'mitigated', 'resolved'], false);
    case 'incident':
      if (!q.incidentId?.trim()) return 'incident needs incidentId (e.g. $incident)';
      return oneOf('view', INCIDENT_VIEWS);
    case 'logPatterns':
      return oneOf('mode', LOG_PATTERN_MODES);
    case 'logs':
      return '';
    case 'sentiment':
      return oneOf('view', SENTIMENT_VIEWS) || oneOf('groupBy', ['service', 'channel'], false);
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
