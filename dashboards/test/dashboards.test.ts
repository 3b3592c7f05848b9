// What every generated dashboard must satisfy before Grafana loads it.
// `npm run check` separately proves the committed JSON is what src/ generates.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { DASHBOARDS, render } from '../src/dashboards';
import { DATASOURCE, FORMATS, QUERY_TYPES, queryProblem } from '../src/firebreak';
import { panelsOf, queriesOf, variablesOf } from '../src/inspect';

/** dashboards/, from build/test/ (compiled) or test/ (sources). */
const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}build${path.sep}`) ? '../..' : '..');

const built = DASHBOARDS.map((f) => ({ file: f, d: f.build() }));

/** Tables with a time column the time picker must bound. */
const TIME_TABLES = ['alerts', 'anomalies', 'bands', 'logs', 'support_messages', 'samples', 'samples_data', 'samples_1m', 'incidents', 'incident_events', 'patterns', 'log_templates'];
const READS_TIME_TABLE = new RegExp(`\\b(?:FROM|JOIN)\\s+(?:${TIME_TABLES.join('|')})\\b`, 'g');
/** $__timeFilter(col), or "as of" the range end / before its start for latest-state queries. */
const TIME_BOUND = /\$__timeFilter\(|\btime\s*<=?\s*(?:toDateTime64\()?fromUnixTimestamp64Milli\(\$__(?:from|to)\)/g;

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

describe('dashboards', () => {
  it('have unique uids and file names, a title and a schemaVersion', () => {
    const uids = new Set<string>();
    const files = new Set<string>();
    for (const { file, d } of built) {
      assert.ok(d.uid && /^[A-Za-z0-9_-]{1,40}$/.test(d.uid), `${file.file}: uid ${d.uid}`);
      assert.ok(!uids.has(d.uid), `duplicate uid ${d.uid}`);
      uids.add(d.uid);
      const rel = path.join(file.folder, file.file);
      assert.ok(!files.has(rel), `duplicate file ${rel}`);
      files.add(rel);
      assert.ok(d.title, `${file.file}: no title`);
      assert.equal(typeof d.schemaVersion, 'number');
      assert.ok(d.schemaVersion >= 39, `${file.file}: schemaVersion ${d.schemaVersion}`);
    }
  });

  it('render to JSON that parses back to the same dashboard', () => {
    for (const { d } of built) {
      assert.deepEqual(JSON.parse(render(d)), JSON.parse(JSON.stringify(d)));
    }
  });

  it('are committed as JSON that parses, with schemaVersion and the generated uid', () => {
    for (const { file, d } of built) {
      const p = path.join(ROOT, file.folder, file.file);
      assert.ok(fs.existsSync(p), `${p} missing: run npm run generate`);
      const committed = JSON.parse(fs.readFileSync(p, 'utf8')) as { uid?: string; schemaVersion?: unknown; panels?: unknown[] };
      assert.equal(typeof committed.schemaVersion, 'number', `${p}: schemaVersion`);
      assert.equal(committed.uid, d.uid, `${p}: uid`);
      assert.ok(Array.isArray(committed.panels) && committed.panels.length > 0, `${p}: panels`);
    }
  });

  it('number panels uniquely and keep them inside the 24-column grid', () => {
    for (const { file, d } of built) {
      const ids = panelsOf(d).map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file.file}: panel ids ${ids}`);
      for (const p of panelsOf(d)) {
        const g = p.gridPos!;
        assert.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${file.file}/${p.title}: gridPos ${JSON.stringify(g)}`);
      }
    }
  });

  it('read only the Firebreak data source', () => {
    for (const { file, d } of built) {
      for (const p of panelsOf(d)) {
        assert.deepEqual(p.datasource, DATASOURCE, `${file.file}/${p.title}: panel datasource`);
        assert.ok((p.targets ?? []).length > 0, `${file.file}/${p.title}: no query`);
      }
      for (const q of queriesOf(d)) {
        assert.deepEqual(q.holderDatasource, DATASOURCE, `${file.file}/${q.where}: datasource`);
        assert.deepEqual(q.query.datasource, DATASOURCE, `${file.file}/${q.where}: target datasource`);
      }
      for (const v of variablesOf(d)) {
        if (v.type === 'query') assert.deepEqual(v.datasource, DATASOURCE, `${file.file}: variable ${v.name}`);
      }
    }
  });

  it('send queries the plugin accepts (grafana-plugin/pkg/query)', () => {
    for (const { file, d } of built) {
      const refIds = new Map<string, Set<string>>();
      for (const q of queriesOf(d)) {
        const where = `${file.file}/${q.where}`;
        const seen = refIds.get(q.holder) ?? new Set();
        assert.ok(!seen.has(q.query.refId), `${where}: duplicate refId ${q.query.refId}`);
        seen.add(q.query.refId);
        refIds.set(q.holder, seen);
        assert.equal(queryProblem(q.query), '', `${where}: ${JSON.stringify(q.query)}`);
      }
    }
  });

  it('give every panel the data source and queries of a known type with the fields it requires', () => {
    // Written out per type rather than through queryProblem, so a slip in
    // the shared contract table cannot hide here too.
    const required: Record<string, (q: Record<string, unknown>) => string[]> = {
      sql: (q) => (typeof q.rawSql === 'string' && q.rawSql.trim() && ['table', 'time_series'].includes(q.format as string) ? [] : ['rawSql', 'format']),
      metrics: (q) => (typeof q.selector === 'string' && /__name__|^\w+/.test(q.selector) ? [] : ['selector']),
      anomalies: (q) => (q.format === undefined || ['table', 'annotations'].includes(q.format as string) ? [] : ['format']),
      alerts: (q) => (q.format === undefined || ['table', 'annotations'].includes(q.format as string) ? [] : ['format']),
      incidents: (q) => (['table', 'annotations'].includes(q.format as string) ? [] : ['format']),
      incident: (q) => [
        ...(typeof q.incidentId === 'string' && q.incidentId ? [] : ['incidentId']),
        ...(['timeline', 'states', 'root_causes', 'series', 'summary'].includes(q.view as string) ? [] : ['view']),
      ],
      logPatterns: (q) => (['top', 'new', 'rates'].includes(q.mode as string) ? [] : ['mode']),
      logs: () => [],
      sentiment: (q) => (['series', 'samples'].includes(q.view as string) ? [] : ['view']),
    };
    assert.deepEqual(Object.keys(required).sort(), [...QUERY_TYPES].sort(), 'every query type of the contract is checked here');
    for (const { file, d } of built) {
      for (const p of panelsOf(d)) {
        const where = `${file.file}/${p.title}`;
        assert.deepEqual(p.datasource, DATASOURCE, `${where}: panel datasource`);
        assert.ok((p.targets ?? []).length > 0, `${where}: no query`);
        for (const t of (p.targets ?? []) as unknown as Record<string, unknown>[]) {
          assert.deepEqual(t.datasource, DATASOURCE, `${where} [${t.refId}]: target datasource`);
          const check = required[t.queryType as string];
          assert.ok(check, `${where} [${t.refId}]: unknown queryType ${t.queryType}`);
          assert.deepEqual(check(t), [], `${where} [${t.refId}]: ${t.queryType} query lacks fields`);
          if (FORMATS[t.queryType as keyof typeof FORMATS].length === 0) {
            assert.equal(t.format, undefined, `${where} [${t.refId}]: ${t.queryType} takes no format`);
          }
        }
      }
    }
  });

  it('bound every read of a time-bearing table by the picked range', () => {
    for (const { file, d } of built) {
      for (const q of queriesOf(d)) {
        const sql = q.query.rawSql ?? '';
        const reads = count(sql, READS_TIME_TABLE);
        const bounds = count(sql, TIME_BOUND);
        assert.ok(
          bounds >= reads,
          `${file.file}/${q.where}: reads ${reads} time-bearing table(s) but has ${bounds} time bound(s) ($__timeFilter(col), or time <= $__to for a latest state)\n${sql}`,
        );
      }
    }
  });

  it('order time series answers by time (the plugin rejects unsorted long answers)', () => {
    for (const { file, d } of built) {
      for (const q of queriesOf(d)) {
        if (q.query.format !== 'time_series') continue;
        const sql = q.query.rawSql!;
        const first = /^SELECT\s+(?:\$__timeGroup\([^)]*\)\s+AS\s+(\w+)|(\w+))/i.exec(sql);
        assert.ok(first, `${file.file}/${q.where}: cannot find the first column`);
        const timeCol = first[1] ?? first[2];
        assert.match(sql, new RegExp(`ORDER BY ${timeCol}\\s*$`), `${file.file}/${q.where}: must end with ORDER BY ${timeCol}`);
      }
    }
  });

  it('use only variables the dashboard defines', () => {
    const builtIn = new Set(['__interval', '__interval_ms', '__from', '__to', '__timeFilter', '__timeGroup']);
    for (const { file, d } of built) {
      const names = new Set(variablesOf(d).map((v) => v.name));
      for (const q of queriesOf(d)) {
        for (const m of (q.query.rawSql ?? '').matchAll(/\$\{?(\w+)/g)) {
          assert.ok(builtIn.has(m[1]) || names.has(m[1]), `${file.file}/${q.where}: unknown variable $${m[1]}`);
        }
      }
    }
  });

  it('never alias an aggregate or function with the name of a column it reads', () => {
    // ClickHouse's older analyzer resolves such aliases everywhere in the
    // query (avg(value) AS value breaks a later max(value)).
    const call = /(\w+)\(([^()]*)\)\s+AS\s+(\w+)/g;
    for (const { file, d } of built) {
      for (const q of queriesOf(d)) {
        for (const m of (q.query.rawSql ?? '').matchAll(call)) {
          assert.ok(!new RegExp(`\\b${m[3]}\\b`).test(m[2]), `${file.file}/${q.where}: ${m[0]}`);
        }
      }
    }
  });

  it('fill bands only towards series the panel names', () => {
    for (const { file, d } of built) {
      for (const p of panelsOf(d)) {
        const overrides = p.fieldConfig?.overrides ?? [];
        const names = overrides.flatMap((o) => o.properties.filter((x) => x.id === 'displayName').map((x) => x.value as string));
        for (const o of overrides) {
          for (const prop of o.properties.filter((x) => x.id === 'custom.fillBelowTo')) {
            assert.ok(names.includes(prop.value as string), `${file.file}/${p.title}: fillBelowTo ${prop.value} names no series`);
          }
        }
      }
    }
  });
});

describe('NOC overview', () => {
  const noc = built.find((b) => b.d.uid === 'firebreak-noc')!.d;
  it('is a wall screen: 10 s refresh, last 6 hours, few panels with large stat text', () => {
    assert.equal(noc.refresh, '10s');
    assert.deepEqual(noc.time, { from: 'now-6h', to: 'now' });
    assert.ok(panelsOf(noc).length <= 8, `${panelsOf(noc).length} panels: a wall shows few`);
    for (const p of panelsOf(noc).filter((x) => x.type === 'stat')) {
      const text = (p.options as { text?: { valueSize?: number } }).text;
      assert.ok((text?.valueSize ?? 0) >= 48, `${p.title}: stat value size ${text?.valueSize}`);
    }
  });
  it('every NOC dashboard (tag noc) refreshes every 10 s', () => {
    const nocs = built.filter((b) => b.d.tags?.includes('noc'));
    assert.ok(nocs.length > 0);
    for (const { file, d } of nocs) assert.equal(d.refresh, '10s', file.file);
  });
  it('shows open incidents by severity, service health, predicted breaches, complaints and ingest', () => {
    const titles = panelsOf(noc).map((p) => p.title);
    for (const t of ['Open incidents', 'Service health', 'Predicted breaches', 'Complaints against their baseline', 'Ingest']) {
      assert.ok(titles.includes(t), `missing panel ${t}: ${titles}`);
    }
    const health = panelsOf(noc).find((p) => p.title === 'Service health')!;
    assert.equal(health.type, 'state-timeline');
  });
  it('turns firing alerts red from 1', () => {
    const stat = panelsOf(noc).find((p) => p.type === 'stat' && p.title === 'Firing alerts')!;
    assert.deepEqual(stat.fieldConfig?.defaults.thresholds?.steps.at(-1), { value: 1, color: 'red' });
  });
});

describe('incident analyst', () => {
  const inc = built.find((b) => b.d.uid === 'firebreak-incident')!.d;
  it('picks the newest (open) incident by default, then its services', () => {
    const [incident, service] = variablesOf(inc);
    assert.equal(incident.name, 'incident');
    assert.equal(incident.query, 'incidents()', "the plugin's incidents variable query: open first, newest first");
    assert.equal(incident.sort, 0, 'no re-sorting: the first value is the newest');
    assert.equal(service.name, 'service');
    assert.match(String(service.query), /\$incident/);
  });
  it('shows every incident view for $incident', () => {
    const views = queriesOf(inc)
      .filter((q) => q.query.queryType === 'incident')
      .map((q) => (assert.equal(q.query.incidentId, '$incident'), q.query.view));
    assert.deepEqual([...views].sort(), ['root_causes', 'series', 'states', 'summary', 'timeline']);
    const types = new Set(queriesOf(inc).map((q) => q.query.queryType));
    for (const t of ['logPatterns', 'logs', 'sentiment']) assert.ok(types.has(t as never), `no ${t} query`);
  });
});

describe('service drill-down', () => {
  const svc = built.find((b) => b.d.uid === 'firebreak-service')!.d;
  it('has service and metric variables', () => {
    assert.deepEqual(
      variablesOf(svc).map((v) => v.name),
      ['service', 'metric', 'series_id'],
    );
  });
  it('draws the band between lower and upper', () => {
    const band = panelsOf(svc).find((p) => p.title?.includes('band'))!;
    const upper = band.fieldConfig!.overrides.find((o) => o.matcher.options === 'band_upper')!;
    assert.ok(upper.properties.some((x) => x.id === 'custom.fillBelowTo' && x.value === 'lower'));
  });
});
