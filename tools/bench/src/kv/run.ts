// Entry point of the key-value benchmark: `npm run bench:kv -- [--rounds N] [--quick]
// [--only W1,W5] [--contender a,b] [--cpu-prof dir] [--write]`. See tools/bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSuite } from '../runner/run-suite.js';
import { parseSuiteCli } from '../runner/suite-cli.js';
import { KV_CONTENDERS } from './contender.js';
import { buildRows, renderKvMarkdown } from './report.js';
import type { KvProvenance } from './report.js';
import { FULL_SIZES, QUICK_SIZES, kvSuite } from './suite.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));
const repoDir = path.resolve(benchDir, '../..');

const cli = parseSuiteCli({
  command: 'bench:kv',
  quickHelp: 'N = 100,000 instead of 1,000,000 (a smoke run)',
  groupIds: 'W1 W2 W3 W4 W4/writers-8 W5 W6 W7',
  contenders: KV_CONTENDERS,
  allowWrite: true,
});

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

const sizes = cli.quick ? QUICK_SIZES : FULL_SIZES;
const startedAt = Date.now();
const gitCommit = git('rev-parse', 'HEAD');
const engineChangedFilesAtStart = changedFiles('libs/engine');
const storeChangedFilesAtStart = changedFiles('libs/store');

const report = await runSuite(kvSuite(sizes), {
  rounds: cli.rounds,
  quick: cli.quick,
  only: cli.only,
  contenders: cli.contenders,
  cwd: benchDir,
  timeoutMs: 900_000,
  ...(cli.cpuProfileDir !== undefined ? { cpuProfileDir: cli.cpuProfileDir } : {}),
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
if (cli.writeResults) {
  const resultsDir = path.join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'kv.json'),
    `${JSON.stringify({ ...report, provenance, rows }, null, 2)}\n`,
  );
  writeFileSync(path.join(resultsDir, 'kv.md'), markdown);
}
process.stdout.write(`\n${markdown}`);
