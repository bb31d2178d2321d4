// Entry point of the HTTP benchmark: `npm run bench:http -- [--rounds N] [--quick] [--only id]
// [--contender name] [--cpu-prof dir]`. See tools/bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSelfTime, readCpuProfile, topSelfTime } from '../runner/profile-summary.js';
import { renderMarkdown } from '../runner/report.js';
import type { SuiteReport } from '../runner/report.js';
import { runSuite } from '../runner/run-suite.js';
import { parseSuiteCli } from '../runner/suite-cli.js';
import { invalidCells, renderHttpNotes } from './report.js';
import type { HttpRunInfo } from './report.js';
import {
  HTTP_CONTENDERS,
  REPO_DIR,
  SERVER_CPU_PROF_ENV,
  serverProfileDir,
} from './server-process.js';
import { FULL_SIZES, QUICK_SIZES, httpSuite } from './suite.js';

const benchDir = fileURLToPath(new URL('../..', import.meta.url));

const cli = parseSuiteCli({
  command: 'bench:http',
  quickHelp: '1 s cells, 10,000 preloaded keys, a smoke run',
  groupIds: 'put/c1|c16|c64 get/c1|c16|c64',
  contenders: HTTP_CONTENDERS,
  cpuProfHelp: 'profile the servers into DIR and print their top self time (measured window)',
});
const profileDir = cli.cpuProfileDir;

// The node is measured as users run it: the bundle, built from the current sources.
const build = spawnSync(process.execPath, [path.join(REPO_DIR, 'apps/node/scripts/build.mjs')], {
  cwd: REPO_DIR,
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (build.status !== 0) throw new Error(`building the strata bundle failed (${build.status})`);

if (profileDir !== undefined) {
  mkdirSync(profileDir, { recursive: true });
  // The workers pass it on to the server processes (the runner's own --cpu-prof would profile
  // the load generator).
  process.env[SERVER_CPU_PROF_ENV] = profileDir;
}

const startedAt = Date.now();
const loadAvgStart = os.loadavg();
const report = await runSuite(httpSuite(cli.quick ? QUICK_SIZES : FULL_SIZES), {
  rounds: cli.rounds,
  quick: cli.quick,
  only: cli.only,
  contenders: cli.contenders,
  cwd: benchDir,
});
const info: HttpRunInfo = {
  loadAvgStart,
  loadAvgEnd: os.loadavg(),
  durationMinutes: (Date.now() - startedAt) / 60_000,
  invalidCells: invalidCells(report),
};
const markdown = `${renderMarkdown(report)}\n${renderHttpNotes(report, info)}`;

if (profileDir !== undefined) printProfiles(report, profileDir);

if (cli.writeResults) {
  const resultsDir = path.join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'http.json'),
    `${JSON.stringify({ ...report, run: info }, null, 2)}\n`,
  );
  writeFileSync(path.join(resultsDir, 'http.md'), markdown);
}
process.stdout.write(`\n${markdown}`);

/** The top self time of each server profile over its cell's measured window. */
function printProfiles(suiteReport: SuiteReport, directory: string): void {
  for (const group of suiteReport.groups) {
    for (const summary of group.contenders) {
      for (const round of summary.rounds) {
        const cellDir = path.join(
          directory,
          serverProfileDir(
            group.workload,
            Number(group.params.connections),
            summary.contender,
            round.round,
          ),
        );
        if (!existsSync(cellDir)) continue;
        const files = readdirSync(cellDir).filter((name) => name.endsWith('.cpuprofile'));
        // The main thread's profile (thread id 0); job worker threads have their own files.
        const main = files.find((name) => name.split('.')[4] === '0');
        if (main === undefined) continue;
        const file = path.join(cellDir, main);
        const { measureStartUs, measureEndUs } = round.metrics;
        const window =
          measureStartUs !== undefined && measureEndUs !== undefined
            ? { startUs: measureStartUs, endUs: measureEndUs }
            : undefined;
        process.stderr.write(
          `\nServer top self time, ${group.id} on ${summary.contender}, round ${round.round}, ` +
            `measured window (${file}; ${files.length - 1} worker-thread profiles beside it):\n${formatSelfTime(topSelfTime(readCpuProfile(file), window, 25))}\n`,
        );
      }
    }
  }
}
