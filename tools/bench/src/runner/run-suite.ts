import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runWorkerProcess } from './child-process.js';
import { machineInfo } from './machine.js';
import { formatSelfTime, readCpuProfile, topSelfTime } from './profile-summary.js';
import { renderMarkdown, summarizeGroup } from './report.js';
import type { RoundResult, SuiteReport } from './report.js';
import type { BenchGroup, BenchSuite, WorkerOutput } from './types.js';

/** How to run a suite. */
export interface RunSuiteOptions {
  readonly rounds: number;
  /** Recorded in the report; the suite's sizes are the caller's choice. */
  readonly quick: boolean;
  /** Run only the groups whose id starts with one of these (all when empty). */
  readonly only?: readonly string[];
  /** Run only these contenders (all when empty). */
  readonly contenders?: readonly string[];
  /**
   * When set, each worker runs with `--cpu-prof` into this directory, and the top self-time
   * functions of each profile (over each phase the worker reported) are logged.
   */
  readonly cpuProfileDir?: string;
  /** Where `<suite>.json` and `<suite>.md` go; nothing is written when undefined. */
  readonly resultsDir?: string;
  /** Working directory of the workers (where `tsx` resolves). */
  readonly cwd: string;
  /** Kill a worker after this long. Default 120 s. */
  readonly timeoutMs?: number;
  /** Progress lines. Default: stderr. */
  readonly log?: (line: string) => void;
}

/**
 * Runs every (group, contender) once per round, each in a fresh process, rounds interleaved
 * across contenders (round 1: A B C, round 2: A B C, ...), then summarizes medians and ratios
 * and, with `resultsDir`, writes the JSON and markdown results.
 */
export async function runSuite(suite: BenchSuite, options: RunSuiteOptions): Promise<SuiteReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const groups = suite.groups
    .filter(
      (group) =>
        !options.only?.length || options.only.some((prefix) => group.id.startsWith(prefix)),
    )
    .map((group) => ({
      ...group,
      contenders: group.contenders.filter(
        (contender) => !options.contenders?.length || options.contenders.includes(contender),
      ),
    }))
    .filter((group) => group.contenders.length > 0);
  if (groups.length === 0) throw new Error('no benchmark group matches the filters');
  const results = new Map<BenchGroup, Map<string, RoundResult[]>>();
  for (const group of groups)
    results.set(group, new Map(group.contenders.map((name) => [name, []])));
  for (let round = 1; round <= options.rounds; round++) {
    for (const group of groups) {
      for (const contender of group.contenders) {
        const output = await runOne(suite, group, contender, round, options);
        const primary = group.metrics[0];
        const shown = primary
          ? `${Math.round(output.metrics[primary.key] ?? Number.NaN)} ${primary.label}`
          : '';
        log(
          `round ${round}/${options.rounds}  ${group.id.padEnd(28)} ${contender.padEnd(12)} ${shown}`,
        );
        results.get(group)?.get(contender)?.push({ round, metrics: output.metrics });
      }
    }
  }
  const report: SuiteReport = {
    suite: suite.name,
    title: suite.title,
    description: suite.description,
    subject: suite.subject,
    rounds: options.rounds,
    quick: options.quick,
    machine: machineInfo(suite.packages, options.cwd),
    groups: groups.map((group) =>
      summarizeGroup(group, suite.subject, results.get(group) ?? new Map()),
    ),
  };
  if (options.resultsDir !== undefined) {
    mkdirSync(options.resultsDir, { recursive: true });
    writeFileSync(
      path.join(options.resultsDir, `${suite.name}.json`),
      `${JSON.stringify(report, null, 2)}\n`,
    );
    writeFileSync(path.join(options.resultsDir, `${suite.name}.md`), renderMarkdown(report));
  }
  return report;
}

async function runOne(
  suite: BenchSuite,
  group: BenchGroup,
  contender: string,
  round: number,
  options: RunSuiteOptions,
): Promise<WorkerOutput> {
  const nodeFlags: string[] = [];
  const profileName = `${suite.name}-${group.id.replaceAll('/', '-')}-${contender}-r${round}.cpuprofile`;
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    nodeFlags.push(
      '--cpu-prof',
      `--cpu-prof-dir=${options.cpuProfileDir}`,
      `--cpu-prof-name=${profileName}`,
    );
  }
  const output = await runWorkerProcess({
    workerPath: suite.workerPath,
    request: { contender, workload: group.workload, params: group.params, round },
    cwd: options.cwd,
    nodeFlags,
    timeoutMs: options.timeoutMs ?? 120_000,
  });
  if (
    options.cpuProfileDir !== undefined &&
    readdirSync(options.cpuProfileDir).includes(profileName)
  ) {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const profile = readCpuProfile(path.join(options.cpuProfileDir, profileName));
    const phases = Object.entries(output.phases ?? {});
    for (const [phase, span] of phases.length > 0
      ? phases
      : [['whole process', undefined] as const]) {
      log(`\nTop self time, ${group.id} on ${contender}, phase ${phase} (${profileName}):`);
      log(formatSelfTime(topSelfTime(profile, span)));
    }
  }
  return output;
}
