// Entry point of the key-value benchmark: `npm run bench:kv -- [--rounds N] [--quick]
// [--only W1,W5] [--contender a,b] [--cpu-prof dir] [--write]`. See tools/bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSuite } from '../runner/run-suite.js';
import { KV_CONTENDERS } from './contender.js';
import { buildRows, renderKvMarkdown } from './report.js';
import type { KvProvenance } from './report.js';
import { FULL_SIZES, QUICK_SIZES, kvSuite } from './suite.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));
const repoDir = path.resolve(benchDir, '../..');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true, default: [] },
    contender: { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    write: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench:kv -- [options]',
      '  --rounds N          rounds per (workload, contender); default 3',
      '  --quick             N = 100,000 instead of 1,000,000 (a smoke run)',
      '  --only W1,W5        only these groups (id prefixes: W1 W2 W3 W4 W4/writers-8 W5 W6 W7)',
      `  --contender a,b     only these contenders: ${KV_CONTENDERS.join(', ')}`,
      '  --cpu-prof DIR      run workers with --cpu-prof into DIR and print top self time',
      '  --write             write results/kv.json and kv.md even for a partial or quick run',
      '',
      'A complete full-size run (no --quick, --only, --contender, --cpu-prof) writes',
      'results/kv.json and results/kv.md.',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const list = (items: readonly string[]): string[] =>
  items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');

const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
const only = list(values.only);
const contenders = list(values.contender);
for (const name of contenders) {
  if (!(KV_CONTENDERS as readonly string[]).includes(name))
    throw new Error(`unknown contender ${name}`);
}
const partial =
  values.quick || only.length > 0 || contenders.length > 0 || values['cpu-prof'] !== undefined;

function git(...args: string[]): string {
  try {
    return execFileSync('git', ['-C', repoDir, ...args], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
const changedFiles = (folder: string): number =>
  git('status', '--short', folder)
    .split('\n')
    .filter((line) => line.trim() !== '').length;

const sizes = values.quick ? QUICK_SIZES : FULL_SIZES;
const startedAt = Date.now();
const gitCommit = git('rev-parse', 'HEAD');
const engineChangedFilesAtStart = changedFiles('libs/engine');
const storeChangedFilesAtStart = changedFiles('libs/store');

const report = await runSuite(kvSuite(sizes), {
  rounds,
  quick: values.quick,
  only,
  contenders,
  cwd: benchDir,
  timeoutMs: 900_000,
  ...(values['cpu-prof'] !== undefined ? { cpuProfileDir: path.resolve(values['cpu-prof']) } : {}),
});

const provenance: KvProvenance = {
  gitCommit,
  engineChangedFilesAtStart,
  engineChangedFilesAtEnd: changedFiles('libs/engine'),
  storeChangedFilesAtStart,
  sizes: { ...sizes },
  durationMinutes: (Date.now() - startedAt) / 60_000,
};
const rows = buildRows(report);
const markdown = renderKvMarkdown(report, rows, provenance);
if (!partial || values.write) {
  const resultsDir = path.join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'kv.json'),
    `${JSON.stringify({ ...report, provenance, rows }, null, 2)}\n`,
  );
  writeFileSync(path.join(resultsDir, 'kv.md'), markdown);
}
process.stdout.write(`\n${markdown}`);
