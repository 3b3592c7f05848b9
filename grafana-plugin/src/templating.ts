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

/**
 * Parses a variable query:
 *   metrics()                       metric names
 *   label_names() / label_names(m)  label names (of metric m)
 *   label_values(l)                 values of label l
 *   label_values(m, l)              values of label l of metric m
 */
export function parseVariableQuery(query: string): ResourceCall {
  const q = query.trim();
  const m = /^(\w+)\s*\(\s*([^,)]*?)\s*(?:,\s*([^)]*?)\s*)?\)$/.exec(q);
  if (!m) {
    throw new Error(
      `cannot read variable query "${q}": use metrics(), label_names(), label_values(label) or label_values(metric, label)`
    );
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
  }
  throw new Error(
    `cannot read variable query "${q}": use metrics(), label_names(), label_values(label) or label_values(metric, label)`
  );
}
