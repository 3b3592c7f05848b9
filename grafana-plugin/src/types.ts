import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Query types the backend answers (pkg/query mirrors these). */
export enum QueryType {
  Metrics = 'metrics',
  SQL = 'sql',
  Anomalies = 'anomalies',
  Alerts = 'alerts',
}

/** How an answer is shaped: sql takes Table or TimeSeries, anomalies Table or Annotations, alerts Table. */
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
  [QueryType.Alerts]: [Format.Table],
};

/** The query switched to another type, without a format the new type refuses. */
export function withQueryType(query: FirebreakQuery, queryType: QueryType): FirebreakQuery {
  const keep = query.format !== undefined && FORMATS[queryType].includes(query.format);
  return { ...query, queryType, format: keep ? query.format : undefined };
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
  /** Adds each series' band (expected, lower, upper) and anomaly score, aggregated per step like the values. */
  withBand?: boolean;

  // anomalies and alerts
  /** Empty: every kind. */
  kinds?: Kind[];
  /** One service or several separated by commas; empty for all. */
  service?: string;
  /** One severity or several separated by commas; empty for all. */
  severity?: string;
  /** anomalies: open or resolved; alerts: firing or resolved; empty for any. */
  state?: string;
  /** anomalies: the lowest score shown, 0 … 1. */
  minScore?: number;
  /** Most rows returned (default 1000, at most 10000). */
  limit?: number;
  /** alerts: current (default) or history. */
  mode?: AlertMode;
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
}
