// What a Firebreak SQL query becomes before ClickHouse sees it: first
// Grafana replaces dashboard variables (the plugin's applyTemplateVariables
// with its sqlFormatter, grafana-plugin/src/templating.ts), then the backend
// expands the $__ macros (grafana-plugin/pkg/macros). This is a port of both
// for checking generated SQL against a real engine; the plugin stays the
// reference (its tests pin the same cases as test/expand.test.ts).

/** A variable's value: one value, several, or "All" with the variable's allValue. */
export type VariableValue = string | string[] | { all: string };

export interface ExpandContext {
  fromMs: number;
  toMs: number;
  intervalMs: number;
  variables: Record<string, VariableValue>;
}

// Grafana's variable syntax: $name, ${name}, ${name:format}, [[name]].
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

function escapeSqlString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/** Grafana's replace with the plugin's sqlFormatter; unknown names stay as they are. */
export function interpolate(sql: string, c: ExpandContext): string {
  const builtIn: Record<string, string> = {
    __interval: formatInterval(c.intervalMs),
    __interval_ms: String(c.intervalMs),
    __from: String(c.fromMs),
    __to: String(c.toMs),
  };
  return sql.replace(VARIABLE, (match, a?: string, b?: string, f1?: string, d?: string, _path?: string, f2?: string) => {
    const name = a ?? b ?? d ?? '';
    const format = f1 ?? f2;
    if (name in builtIn) return builtIn[name];
    if (!(name in c.variables)) return match;
    const v = c.variables[name];
    if (typeof v === 'object' && !Array.isArray(v)) return v.all; // a custom allValue is inserted as is
    if (format === 'sqlstring') {
      return (Array.isArray(v) ? v : [v]).map((x) => `'${x.replace(/'/g, "''")}'`).join(',');
    }
    if (format) throw new Error(`variable format ${format} is not supported here`);
    if (Array.isArray(v)) return v.map((x) => `'${escapeSqlString(x)}'`).join(', ');
    return escapeSqlString(v);
  });
}

/** The backend's macro expansion (pkg/macros.Expand). */
export function expandMacros(sql: string, c: ExpandContext): string {
  let out = '';
  for (let i = 0; i < sql.length; ) {
    const j = sql.indexOf('$__', i);
    if (j < 0) {
      out += sql.slice(i);
      break;
    }
    out += sql.slice(i, j);
    let nameEnd = j + 3;
    while (nameEnd < sql.length && /[A-Za-z0-9_]/.test(sql[nameEnd])) nameEnd++;
    const name = sql.slice(j + 3, nameEnd);
    const m = MACROS[name];
    if (!m) throw new Error(`unknown macro $__${name}`);
    let next = nameEnd;
    let args: string[] = [];
    if (m.args >= 0) {
      [args, next] = parseArgs(sql, nameEnd);
      if (args.length !== m.args) throw new Error(`$__${name} takes ${m.args} argument(s), got ${args.length}`);
      args = args.map((a, k) => {
        const e = expandMacros(a, c);
        if (!e) throw new Error(`$__${name}: argument ${k + 1} is empty`);
        return e;
      });
    }
    out += m.fn(c, args);
    i = next;
  }
  return out;
}

/** Grafana, then the backend: the SQL ClickHouse runs. */
export function expand(sql: string, c: ExpandContext): string {
  return expandMacros(interpolate(sql, c), c);
}

const MACROS: Record<string, { args: number; fn: (c: ExpandContext, args: string[]) => string }> = {
  timeFilter: {
    args: 1,
    fn: (c, [col]) => `(${col} >= fromUnixTimestamp64Milli(${c.fromMs}) AND ${col} <= fromUnixTimestamp64Milli(${c.toMs}))`,
  },
  timeGroup: {
    args: 2,
    fn: (_c, [col, step]) => {
      const ms = parseInterval(step);
      return ms % 1000 === 0
        ? `toStartOfInterval(${col}, INTERVAL ${ms / 1000} SECOND)`
        : `toStartOfInterval(${col}, INTERVAL ${ms} MILLISECOND)`;
    },
  },
  interval: { args: -1, fn: (c) => formatInterval(c.intervalMs) },
  interval_ms: { args: -1, fn: (c) => String(c.intervalMs) },
  from: { args: -1, fn: (c) => String(c.fromMs) },
  to: { args: -1, fn: (c) => String(c.toMs) },
};

function parseArgs(sql: string, pos: number): [string[], number] {
  if (sql[pos] !== '(') throw new Error('expected ( after the macro name');
  const args: string[] = [];
  let depth = 0;
  let start = pos + 1;
  for (let i = pos + 1; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = closingQuote(sql, i);
      if (end < 0) throw new Error(`unterminated ${ch} in the arguments`);
      i = end;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      if (depth > 0) {
        depth--;
        continue;
      }
      args.push(sql.slice(start, i).trim());
      return [args, i + 1];
    } else if (ch === ',' && depth === 0) {
      args.push(sql.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new Error('missing ) after the arguments');
}

function closingQuote(s: string, open: number): number {
  const q = s[open];
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
    } else if (s[i] === q) {
      if (s[i + 1] === q) {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration (250ms, 30s, 5m, 1h, 1d, 1w) or seconds, in milliseconds. */
export function parseInterval(s: string): number {
  const t = s.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    ms = Number(t) * 1000;
  } else {
    const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(t);
    if (!m) throw new Error(`"${t}" is not an interval such as 30s, 5m, 1h or 1d`);
    ms = Number(m[1]) * UNITS[m[2]];
  }
  if (ms < 1) throw new Error(`interval "${t}" is below 1ms`);
  return Math.floor(ms);
}

/** As Grafana writes $__interval: the largest whole unit, else milliseconds. */
export function formatInterval(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
