import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Query types the backend answers (pkg/query mirrors these). */
export enum QueryType {
  Metrics = 'metrics',
  SQL = 'sql',
}

/** How an SQL answer is shaped. */
export enum Format {
  Table = 'table',
  TimeSeries = 'time_series',
}

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
