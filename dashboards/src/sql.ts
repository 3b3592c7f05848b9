// SQL fragments the dashboards share. Every query runs on ClickHouse (24.x
// server or the embedded 26.x engine) through the plugin, which expands the
// $__ macros first. Two habits keep the SQL portable across both analyzers:
// an alias never repeats the name of a column it is computed from, and
// "latest state per problem" is one argMax over a tuple.
import { sqlText } from './firebreak';

/** Severities the alerter and forecast rules use, worst first. */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;

const severityList = `[${SEVERITIES.map((s) => `'${s}'`).join(', ')}]`;

/** ORDER BY terms: critical, warning, info, then any other severity by name. */
export function bySeverity(col: string): string {
  return `indexOf(${severityList}, ${col}) = 0, indexOf(${severityList}, ${col}), ${col}`;
}

/** Rows up to the end of the picked range: "state as of $__to". */
export function asOfRangeEnd(col = 'time'): string {
  return `${col} <= fromUnixTimestamp64Milli($__to)`;
}

/**
 * The picked range's ends as DateTime64(3, 'UTC'), the type of the tables'
 * time columns (fromUnixTimestamp64Milli alone carries the session's time
 * zone, which UNION ALL and if() would have to reconcile).
 */
export const RANGE_START = "toDateTime64(fromUnixTimestamp64Milli($__from), 3, 'UTC')";
export const RANGE_END = "toDateTime64(fromUnixTimestamp64Milli($__to), 3, 'UTC')";

/** v3 tables write the epoch where a time does not apply (ends_at, last_seen, predicted_breach_at). */
export function nullIfEpoch(col: string): string {
  return `nullIf(${col}, toDateTime64(0, 3, 'UTC'))`;
}

/** A labels Map as "k=v, k=v", leaving out the keys in `without`. */
export function labelsText(col: string, without: string[] = []): string {
  const m = without.length ? `mapFilter((k, v) -> k NOT IN (${without.map((k) => `'${k}'`).join(', ')}), ${col})` : col;
  return `arrayStringConcat(arrayMap((k, v) -> concat(k, '=', v), mapKeys(${m}), mapValues(${m})), ', ')`;
}

/**
 * Log entries at error or worse: OpenTelemetry severity 17 (ERROR) to 24
 * (FATAL4), or, for senders that gave only text, a severity word.
 */
export const ERROR_LOGS = `(severity_number >= 17 OR (severity_number = 0 AND lower(severity) IN ('error', 'err', 'fatal', 'critical', 'crit', 'alert', 'emerg', 'emergency', 'panic')))`;

/** A service name for display: services without a name show as "(none)". */
export function serviceName(col: string): string {
  return `if(${col} = '', '(none)', ${col})`;
}

/**
 * A filter on a multi-value variable whose "All" is the literal '__all__'
 * (see ALL in variables.ts): all values, or the picked ones. Grafana's
 * sqlstring format quotes one value or several alike (a multi-value
 * variable set from a URL can hold a single string, which the plugin's own
 * formatter would leave unquoted) and leaves a custom allValue as it is.
 */
export function inVariable(col: string, variable: string): string {
  return `('__all__' IN (\${${variable}:sqlstring}) OR ${col} IN (\${${variable}:sqlstring}))`;
}

/** Incident severities, worst first (detectors/incidents). */
export const INCIDENT_SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;

/**
 * Firebreak's own series: the self-scrape stores every firebreak_* metric
 * in samples with job="firebreak" and instance=<host:port>. `instances` is
 * an extra condition on the instance label (e.g. a variable filter).
 */
export function selfMetric(metrics: string[], instances = ''): string {
  const names = metrics.length === 1 ? `metric_name = '${metrics[0]}'` : `metric_name IN (${metrics.map((m) => `'${m}'`).join(', ')})`;
  return `${names} AND labels['job'] = 'firebreak'${instances ? ` AND ${instances}` : ''}`;
}

/**
 * Increase of raw (cumulative) counters per interval: rows (t, metric,
 * grp, increase), one per series and interval. A counter's highest value in
 * an interval is its last (it only grows), the increase is the difference
 * to the series' previous interval, and a drop means the process restarted
 * and counted from zero, so the new value is all increase. The first
 * interval of each series has no previous one and counts 0. `group` is an
 * expression on the series' labels (e.g. labels['source']).
 */
export function counterIncrease(metrics: string[], group: string, instances = ''): string {
  return sqlText`
    SELECT t, metric, grp, if(v < prev, v, v - prev) AS increase
    FROM (
      SELECT t, metric, grp, v, lagInFrame(v, 1, v) OVER (PARTITION BY series_id ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev
      FROM (
        SELECT series_id, $__timeGroup(time, $__interval) AS t, any(metric_name) AS metric, any(${group}) AS grp, max(value) AS v
        FROM samples
        WHERE ${selfMetric(metrics, instances)} AND $__timeFilter(time)
        GROUP BY series_id, t
      )
    )
  `;
}
