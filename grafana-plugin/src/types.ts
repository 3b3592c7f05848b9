import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Query types the backend answers (pkg/query mirrors these). */
export enum QueryType {
  Metrics = 'metrics',
  SQL = 'sql',
  Anomalies = 'anomalies',
  Alerts = 'alerts',
  Incidents = 'incidents',
  Incident = 'incident',
  LogPatterns = 'logPatterns',
  Logs = 'logs',
  Sentiment = 'sentiment',
}

/** How an answer is shaped: sql takes Table or TimeSeries; anomalies, alerts and incidents Table or Annotations. */
export enum Format {
  Table = 'table',
  TimeSeries = 'time_series',
  Annotations = 'annotations',
}

/** The formats each query type takes, its default first (pkg/query checks the same). */
export const FORMATS: Record<QueryType, Format[]> = {
  [QueryType.Metrics]: [],
  [QueryType.SQL]: [Format.Table, Format.TimeSeries],
  [QueryType.Anomalies]: [Format.Table, Format.Annotations],
  [QueryType.Alerts]: [Format.Table, Format.Annotations],
  [QueryType.Incidents]: [Format.Table, Format.Annotations],
  [QueryType.Incident]: [],
  [QueryType.LogPatterns]: [],
  [QueryType.Logs]: [],
  [QueryType.Sentiment]: [],
};

/** The modes and views each query type takes (pkg/query checks the same). */
const MODES: Partial<Record<QueryType, string[]>> = {
  [QueryType.Alerts]: ['current', 'history'],
  [QueryType.LogPatterns]: ['top', 'new', 'rates'],
};
const VIEWS: Partial<Record<QueryType, string[]>> = {
  [QueryType.Incident]: ['timeline', 'states', 'root_causes', 'series', 'summary'],
  [QueryType.Sentiment]: ['series', 'samples'],
};

/**
 * The query switched to another type, without a format, mode or view the
 * new type refuses (alerts and logPatterns share mode, incident and
 * sentiment share view, with different values).
 */
export function withQueryType(query: FirebreakQuery, queryType: QueryType): FirebreakQuery {
  const keep = query.format !== undefined && FORMATS[queryType].includes(query.format);
  const out: FirebreakQuery = { ...query, queryType, format: keep ? query.format : undefined };
  if (query.mode !== undefined && !MODES[queryType]?.includes(query.mode)) {
    delete out.mode;
  }
  if (query.view !== undefined && !VIEWS[queryType]?.includes(query.view)) {
    delete out.view;
  }
  return out;
}

/** Kinds of detector findings (the kind column of the anomalies and alerts tables). */
export const KINDS = ['anomaly', 'silence', 'predictive'] as const;
export type Kind = (typeof KINDS)[number];

/** States the anomalies query filters on (empty: any). */
export const ANOMALY_STATES = ['open', 'resolved'] as const;
/** States the alerts query filters on (empty: any). */
export const ALERT_STATES = ['firing', 'resolved'] as const;

/** Alerts: the state of each alert at the end of the range, or every transition within it. */
export enum AlertMode {
  Current = 'current',
  History = 'history',
}

/** Row limit of the anomalies and alerts query types (pkg/query: DefaultLimit, MaxLimit). */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10000;

/** Incidents: states and severities the filters take (pkg/query: IncidentStates, Severities). */
export const INCIDENT_STATES = ['open', 'mitigated', 'resolved'] as const;
export const SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Views of one incident (pkg/query: IncidentViews), the default first. */
export enum IncidentView {
  Timeline = 'timeline',
  States = 'states',
  RootCauses = 'root_causes',
  Series = 'series',
  Summary = 'summary',
}

/** Modes of the logPatterns query type (pkg/query: PatternModes), the default first. */
export enum PatternMode {
  Top = 'top',
  New = 'new',
  Rates = 'rates',
}

/** Views of the sentiment query type (pkg/query: SentimentViews), the default first. */
export enum SentimentView {
  Series = 'series',
  Samples = 'samples',
}

/** Grouping of the sentiment series (pkg/query: GroupBys), the default first. */
export enum GroupBy {
  Service = 'service',
  Channel = 'channel',
}

/** Minimum levels of the logs query type (pkg/query: LogLevels); a number 1–24 works too. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Default and most rows of the new query types (pkg/query). */
export const LIMITS: Record<
  'incidents' | 'patterns' | 'patternRates' | 'logs' | 'samples',
  { def: number; max: number }
> = {
  incidents: { def: 100, max: 10000 },
  patterns: { def: 100, max: 1000 },
  patternRates: { def: 10, max: 1000 },
  logs: { def: 500, max: 5000 },
  samples: { def: 20, max: 1000 },
};

/** Aggregations of the metrics query type, as firebreak's query_range names them. */
export const AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'count', 'last', 'first'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface FirebreakQuery extends DataQuery {
  queryType?: QueryType;

  // sql
  rawSql?: string;
  format?: Format;

  // metrics
  selector?: string;
  aggregation?: Aggregation;
  /** A duration (30s, 5m, 1h) or empty for the panel interval. */
  step?: string;
  /** Adds each series' band (expected, lower, upper), aggregated per step like the values. */
  withBand?: boolean;
  /** Adds each series' anomaly score per step (the step's highest). */
  withScore?: boolean;

  // anomalies, alerts and the query types below
  /** Empty: every kind. */
  kinds?: Kind[];
  /**
   * One service or several separated by commas; empty for all. The
   * incidents, incident, logPatterns, logs and sentiment types also read
   * "All" and "$__all" as all.
   */
  service?: string;
  /**
   * alerts: one severity or several separated by commas, empty for all;
   * incidents: a list of P1…P4 (text separated by commas works too);
   * logs: one minimum level (LOG_LEVELS) or a number 1–24.
   */
  severity?: string | string[];
  /** anomalies: open or resolved; alerts: firing or resolved; incidents: open, mitigated or resolved; empty for any. */
  state?: string;
  /** anomalies: the lowest score shown, 0 … 1. */
  minScore?: number;
  /** Most rows returned (anomalies and alerts: default 1000, at most 10000; others: LIMITS). */
  limit?: number;
  /** alerts: current (default) or history; logPatterns: top (default), new or rates. */
  mode?: AlertMode | PatternMode;

  // incident
  /** The incident's id, e.g. $incident (a variable of the incidents() query). */
  incidentId?: string;
  /** incident: IncidentView (default timeline); sentiment: SentimentView (default series). */
  view?: IncidentView | SentimentView;

  // logs
  /** A case-insensitive substring of the line. */
  search?: string;
  /** A template id as the logPatterns tables show it (16 hex digits). */
  templateId?: string;

  // sentiment
  /** One channel or several separated by commas (chat, email, ticket, phone, social); empty for all. */
  channel?: string;
  /** series: one group per service (default) or per channel. */
  groupBy?: GroupBy;
}

export const DEFAULT_QUERY: Partial<FirebreakQuery> = {
  queryType: QueryType.Metrics,
  aggregation: 'avg',
  format: Format.Table,
};

/** jsonData of a Firebreak data source (pkg/settings reads it). */
export interface FirebreakOptions extends DataSourceJsonData {
  /** Address of `firebreak run`'s HTTP API, e.g. http://127.0.0.1:8480. */
  url?: string;
  /** Limit of each call to the API, in seconds (default 30). */
  timeoutSeconds?: number;
  /** How long metrics steps already read are reused, in seconds (default 300, 0 = off). */
  stepCacheSeconds?: number;
}

/** secureJsonData: only ever sent to the backend. */
export interface FirebreakSecureJsonData {
  apiToken?: string;
}

/** Resource paths the backend serves (pkg/plugin/resources.go). */
export enum Resource {
  Metrics = 'metrics',
  Labels = 'labels',
  LabelValues = 'label-values',
  Services = 'services',
  Incidents = 'incidents',
}
