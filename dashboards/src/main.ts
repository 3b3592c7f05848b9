// Writes the dashboards' JSON, or checks that the committed JSON is what the
// generator writes now.
//
//   node build/src/main.js generate DIR   write DIR/<folder>/<file>.json, drop stale JSON there
//   node build/src/main.js check DIR      regenerate into a temporary directory; exit 1 with a
//                                         diff when DIR's JSON differs (edit src/, then generate)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DASHBOARDS, render } from './dashboards';

/** Writes every dashboard under root; returns the paths written, relative to root. */
export function generate(root: string): string[] {
  const written: string[] = [];
  for (const folder of folders()) {
    fs.mkdirSync(path.join(root, folder), { recursive: true });
  }
  for (const d of DASHBOARDS) {
    const rel = path.join(d.folder, d.file);
    fs.writeFileSync(path.join(root, rel), render(d.build()));
    written.push(rel);
  }
  // A dashboard removed from the generator must not linger in Grafana.
  for (const rel of jsonFiles(root)) {
    if (!written.includes(rel)) {
      fs.rmSync(path.join(root, rel));
    }
  }
  return written;
}

/** Differences between the JSON under root and a fresh generation, as text ('' when none). */
export function check(root: string): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'firebreak-dashboards-'));
  try {
    generate(tmp);
    const want = jsonFiles(tmp);
    const have = jsonFiles(root);
    const problems: string[] = [];
    for (const rel of want) {
      if (!have.includes(rel)) {
        problems.push(`missing: ${rel}`);
      } else if (fs.readFileSync(path.join(root, rel), 'utf8') !== fs.readFileSync(path.join(tmp, rel), 'utf8')) {
        problems.push(`stale: ${rel}\n${diff(path.join(root, rel), path.join(tmp, rel))}`);
      }
    }
    for (const rel of have) {
      if (!want.includes(rel)) {
        problems.push(`not generated (remove it, or add it to src/dashboards.ts): ${rel}`);
      }
    }
    return problems.join('\n');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function folders(): string[] {
  return [...new Set(DASHBOARDS.map((d) => d.folder))];
}

/** The .json files in the generator's folders under root, relative to root, sorted. */
function jsonFiles(root: string): string[] {
  const out: string[] = [];
  for (const folder of folders()) {
    const dir = path.join(root, folder);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.json')) out.push(path.join(folder, name));
    }
  }
  return out.sort();
}

/** `diff -u` when the machine has it, else the first differing line. */
function diff(committed: string, fresh: string): string {
  const r = spawnSync('diff', ['-u', '--label', `committed/${path.basename(committed)}`, '--label', 'generated', committed, fresh], {
    encoding: 'utf8',
  });
  if (r.status === 1 && r.stdout) {
    const lines = r.stdout.split('\n');
    return lines.length > 200 ? [...lines.slice(0, 200), `... (${lines.length - 200} more lines)`].join('\n') : r.stdout;
  }
  const a = fs.readFileSync(committed, 'utf8').split('\n');
  const b = fs.readFileSync(fresh, 'utf8').split('\n');
  const i = a.findIndex((line, k) => line !== b[k]);
  return `first difference at line ${i + 1}:\n- ${a[i]}\n+ ${b[i]}`;
}

function main(argv: string[]): number {
  const [cmd, dir] = argv;
  if ((cmd !== 'generate' && cmd !== 'check') || !dir) {
    console.error('usage: main.js generate|check DIR');
    return 2;
  }
  const root = path.resolve(dir);
  if (cmd === 'generate') {
    for (const rel of generate(root)) console.log(`wrote ${rel}`);
    return 0;
  }
  const problems = check(root);
  if (problems) {
    console.error(problems);
    console.error('\nThe committed dashboards differ from the generator: run `npm run generate` and commit the JSON.');
    return 1;
  }
  console.log(`dashboards: ${DASHBOARDS.length} JSON files match the generator`);
  return 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
