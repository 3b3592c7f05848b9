// Runs every SQL query of the generated dashboards against a live Firebreak
// (`firebreak run`'s read-only POST /api/v1/sql), as Grafana would send it:
// variables replaced, macros expanded, the dashboard's default time range.
// Time series answers are also checked for the shape the plugin needs
// (grafana-plugin/pkg/converters: a time column, a number column, and rows
// in time order when text columns make it "long").
//
//   node build/src/validate-sql.js [URL] [--token T] [--var name=value]... [--var name=a,b]
//
// URL defaults to $FIREBREAK_URL or http://127.0.0.1:8480; the token to
// $FIREBREAK_API_TOKEN. Query variables not given with --var take the first
// value the catalog would list (or '' when there is none). Needs the store's
// schema to include the detector tables (bands, anomalies, alerts).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

import { DASHBOARDS } from './dashboards';
import { ExpandContext, VariableValue, expand } from './expand';
import { queriesOf, variablesOf } from './inspect';

interface Answer {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

interface Options {
  url: string;
  token: string;
  vars: Record<string, VariableValue>;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    url: process.env.FIREBREAK_URL ?? 'http://127.0.0.1:8480',
    token: process.env.FIREBREAK_API_TOKEN ?? '',
    vars: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--token') {
      o.token = argv[++i] ?? '';
    } else if (a === '--var') {
      const [name, value = ''] = (argv[++i] ?? '').split(/=(.*)/s);
      o.vars[name] = value.includes(',') ? value.split(',') : value;
    } else if (/^https?:\/\//.test(a)) {
      o.url = a.replace(/\/$/, '');
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

async function runSQL(o: Options, sql: string): Promise<Answer> {
  const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  const res = await fetch(`${o.url}/api/v1/sql`, { method: 'POST', headers, body: sql });
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: keep the text
    }
    throw new Error(`HTTP ${res.status}: ${msg.trim()}`);
  }
  return JSON.parse(text) as Answer;
}

/** The catalog's SQL for the plugin's variable queries (grafana-plugin/pkg/firebreak/catalog.go). */
function catalogSQL(query: string): string | undefined {
  if (/^metrics\(\s*\)$/.test(query)) return 'SELECT DISTINCT metric_name AS v FROM series FINAL ORDER BY v LIMIT 1';
  const m = /^label_values\(\s*(\w+)\s*\)$/.exec(query);
  if (m) return `SELECT DISTINCT labels['${m[1]}'] AS v FROM series FINAL WHERE mapContains(labels, '${m[1]}') ORDER BY v LIMIT 1`;
  return undefined;
}

async function variableValues(o: Options, d: dashboard.Dashboard): Promise<Record<string, VariableValue>> {
  const out: Record<string, VariableValue> = {};
  for (const v of variablesOf(d)) {
    if (v.name in o.vars) {
      out[v.name] = o.vars[v.name];
    } else if (v.includeAll && v.allValue) {
      out[v.name] = { all: v.allValue };
    } else if (v.type === dashboard.VariableType.Query && typeof v.query === 'string') {
      // SQL variable queries run as Grafana sends them: earlier variables
      // replaced, macros expanded over the dashboard's range.
      const toMs = Date.now();
      const c: ExpandContext = { fromMs: toMs - rangeMs(d.time?.from ?? 'now-6h'), toMs, intervalMs: 60_000, variables: out };
      const sql = /^\s*\(?\s*(select|with)\b/i.test(v.query) ? expand(v.query, c) : catalogSQL(v.query);
      const rows = sql ? (await runSQL(o, sql)).rows : [];
      out[v.name] = rows.length ? String(rows[0][0]) : '';
    } else {
      out[v.name] = typeof v.query === 'string' ? v.query : '';
    }
  }
  return out;
}

/** now-6h style range starts, in milliseconds before now. */
function rangeMs(from: string): number {
  const m = /^now-(\d+)([smhdw])$/.exec(from);
  if (!m) throw new Error(`cannot read the range start ${from}`);
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as 's']!;
}

const TIME = /^(Nullable\()?(Date|Date32|DateTime|DateTime64)\b/;
const NUMBER = /^(Nullable\()?(U?Int(8|16|32|64)|Float(32|64)|Decimal|BFloat16)/;
const TEXT = /^(Nullable\()?(LowCardinality\()?(String|FixedString|Enum)/;

/** '' when the answer suits the time series format, else why not. */
export function timeSeriesProblem(a: Answer): string {
  const timeIdx = a.columns.findIndex((c) => TIME.test(c.type));
  if (timeIdx < 0) return 'no time column';
  if (!a.columns.some((c) => NUMBER.test(c.type))) return 'no numeric column';
  if (a.columns.some((c) => TEXT.test(c.type))) {
    for (let i = 1; i < a.rows.length; i++) {
      if (String(a.rows[i][timeIdx]) < String(a.rows[i - 1][timeIdx])) return 'long answer not in time order';
    }
  }
  return '';
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  let passed = 0;
  let failed = 0;
  for (const file of DASHBOARDS) {
    const d = file.build();
    const vars = await variableValues(o, d);
    const toMs = Date.now();
    const fromMs = toMs - rangeMs(d.time?.from ?? 'now-6h');
    console.log(`${file.folder}/${file.file}  (${Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')})`);
    for (const q of queriesOf(d)) {
      if (q.query.queryType !== 'sql' || !q.query.rawSql) continue;
      const auto = Math.max(1000, Math.ceil((toMs - fromMs) / 1000 / 1000) * 1000);
      const min = q.minInterval ? parseMin(q.minInterval) : 0;
      const c: ExpandContext = { fromMs, toMs, intervalMs: Math.max(auto, min), variables: vars };
      const label = `${q.where} [${q.query.refId}]`;
      try {
        const sql = expand(q.query.rawSql, c);
        const a = await runSQL(o, sql);
        const problem = q.query.format === 'time_series' ? timeSeriesProblem(a) : '';
        if (problem && a.rows.length) throw new Error(`time_series format: ${problem} (columns ${a.columns.map((x) => `${x.name} ${x.type}`).join(', ')})`);
        console.log(`  ok    ${label}: ${a.rows.length} rows`);
        passed++;
      } catch (e) {
        console.log(`  FAIL  ${label}: ${(e as Error).message.split('\n')[0]}`);
        failed++;
      }
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

function parseMin(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s);
  return m ? Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 's']! : 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      console.error(e.message);
      process.exitCode = 2;
    },
  );
}
