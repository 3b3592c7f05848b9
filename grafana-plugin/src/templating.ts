import { DataFrame, MetricFindValue } from '@grafana/data';

import { Resource } from './types';

/**
 * Template variable formatting and variable queries: plain functions, so the
 * data source stays thin and the rules are tested on their own.
 */

type VariableValue = string | number | boolean | Array<string | number | boolean> | undefined | null;

/** Escapes text for a ClickHouse string literal ('...'). */
export function escapeSqlString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/**
 * Formats a variable inside SQL. A single value is escaped so that it stays
 * inside the quotes the author wrote ('$service'); several values become a
 * quoted list for IN ('a', 'b').
 */
export function sqlFormatter(value: VariableValue): string {
  if (Array.isArray(value)) {
    return value.map((v) => `'${escapeSqlString(String(v))}'`).join(', ');
  }
  return escapeSqlString(String(value ?? ''));
}

/**
 * Formats a variable inside a service or severity filter: several values
 * become the comma-separated list the backend splits (and quotes).
 */
export function csvFormatter(value: VariableValue): string {
  if (Array.isArray(value)) {
    return value.map(String).join(',');
  }
  return String(value ?? '');
}

/** Escapes text for a double-quoted label matcher value. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** Escapes RE2 metacharacters. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/**
 * Formats a variable inside a label selector. A single value is escaped for
 * the quotes it sits in; several values become a regex alternation for =~,
 * as Grafana's Prometheus data source does.
 */
export function selectorFormatter(value: VariableValue): string {
  if (Array.isArray(value)) {
    if (value.length === 1) {
      return escapeLabelValue(escapeRegex(String(value[0])));
    }
    return '(' + value.map((v) => escapeLabelValue(escapeRegex(String(v)))).join('|') + ')';
  }
  return escapeLabelValue(String(value ?? ''));
}

/** A variable query resolved to a backend resource call. */
export interface ResourceCall {
  path: Resource;
  params: Record<string, string>;
}

const SYNTAX =
  'use metrics(), label_names(), label_values(label), label_values(metric, label), services(), incidents(), incidents(state) or an SQL query (SELECT ...)';

/**
 * Whether a variable query is SQL (SELECT ... or WITH ...): it runs as an
 * sql query through the backend, and its first column gives the values.
 */
export function isSqlVariableQuery(query: string): boolean {
  return /^\s*\(?\s*(select|with)\b/i.test(query);
}

/**
 * The values of a variable from an SQL answer: the first column of the
 * first frame as text, without nulls or repeats, in the answer's order.
 */
export function firstColumnValues(frames: DataFrame[]): MetricFindValue[] {
  const field = frames[0]?.fields[0];
  if (!field) {
    return [];
  }
  const seen = new Set<string>();
  const out: MetricFindValue[] = [];
  for (const v of field.values) {
    if (v === null || v === undefined) {
      continue;
    }
    const text = String(v);
    if (!seen.has(text)) {
      seen.add(text);
      out.push({ text });
    }
  }
  return out;
}

/**
 * Parses a variable query that is not SQL:
 *   metrics()                       metric names
 *   label_names() / label_names(m)  label names (of metric m)
 *   label_values(l)                 values of label l
 *   label_values(m, l)              values of label l of metric m
 *   services()                      every service Firebreak knows
 *   incidents() / incidents(s)      incidents (of state s, e.g. open): text "title (id)", value the id,
 *                                   open first, newest first
 */
export function parseVariableQuery(query: string): ResourceCall {
  const q = query.trim();
  const m = /^(\w+)\s*\(\s*([^,)]*?)\s*(?:,\s*([^)]*?)\s*)?\)$/.exec(q);
  if (!m) {
    throw new Error(`cannot read variable query "${q}": ${SYNTAX}`);
  }
  const [, fn, a, b] = m;
  switch (fn) {
    case 'metrics':
      if (a || b) {
        break;
      }
      return { path: Resource.Metrics, params: {} };
    case 'label_names':
      if (b) {
        break;
      }
      return { path: Resource.Labels, params: a ? { metric: a } : {} };
    case 'label_values':
      if (!a) {
        break;
      }
      return b
        ? { path: Resource.LabelValues, params: { metric: a, label: b } }
        : { path: Resource.LabelValues, params: { label: a } };
    case 'services':
      if (a || b) {
        break;
      }
      return { path: Resource.Services, params: {} };
    case 'incidents':
      if (b) {
        break;
      }
      return { path: Resource.Incidents, params: a ? { state: a } : {} };
  }
  throw new Error(`cannot read variable query "${q}": ${SYNTAX}`);
}

/**
 * Variable options from a resource answer: strings are their own text and
 * value; incidents come as {text, value} pairs.
 */
export function resourceValues(values: Array<string | { text: string; value: string }>): MetricFindValue[] {
  return values.map((v) => (typeof v === 'string' ? { text: v } : { text: v.text, value: v.value }));
}
