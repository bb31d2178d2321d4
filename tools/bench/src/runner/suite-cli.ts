import path from 'node:path';
import { parseArgs } from 'node:util';

/** What a suite's command line describes about itself, for parsing and for `--help`. */
export interface SuiteCliSpec {
  /** The npm script, e.g. `bench:kv`. */
  readonly command: string;
  /** What `--quick` shrinks, e.g. `N = 100,000 instead of 1,000,000 (a smoke run)`. */
  readonly quickHelp: string;
  /** The group ids `--only` accepts, e.g. `W1 W2 W3`. */
  readonly groupIds: string;
  readonly contenders: readonly string[];
  /** What `--cpu-prof` profiles (default: the workers). */
  readonly cpuProfHelp?: string;
  /** Whether `--write` exists: write results even for a partial run. */
  readonly allowWrite?: boolean;
}

/** The options every suite's command line shares. */
export interface SuiteCliOptions {
  readonly rounds: number;
  readonly quick: boolean;
  readonly only: readonly string[];
  readonly contenders: readonly string[];
  /** Absolute directory for CPU profiles, when asked for. */
  readonly cpuProfileDir: string | undefined;
  /** Quick, filtered or profiled: its figures must not replace the committed results. */
  readonly partial: boolean;
  /** Results are written: a complete run, or `--write`. */
  readonly writeResults: boolean;
}

/**
 * Parses `--rounds --quick --only --contender --cpu-prof [--write] --help` (lists may be repeated
 * or comma-separated); prints the usage and exits on `--help`; throws on a bad value.
 *
 * @example
 * ```ts
 * const cli = parseSuiteCli({ command: 'bench:wal', quickHelp: 'small sizes', groupIds: 'replay', contenders: ['strata-wal'] });
 * ```
 */
export function parseSuiteCli(
  spec: SuiteCliSpec,
  args: readonly string[] = process.argv.slice(2),
): SuiteCliOptions {
  const { values } = parseArgs({
    args: [...args],
    options: {
      rounds: { type: 'string', default: '3' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true, default: [] },
      contender: { type: 'string', multiple: true, default: [] },
      'cpu-prof': { type: 'string' },
      ...(spec.allowWrite ? { write: { type: 'boolean', default: false } as const } : {}),
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage(spec));
    process.exit(0);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error('--rounds must be a positive integer');
  }
  const only = splitList(values.only);
  const contenders = splitList(values.contender);
  for (const name of contenders) {
    if (!spec.contenders.includes(name)) throw new Error(`unknown contender ${name}`);
  }
  const cpuProfileDir =
    values['cpu-prof'] === undefined ? undefined : path.resolve(values['cpu-prof']);
  const partial =
    values.quick || only.length > 0 || contenders.length > 0 || cpuProfileDir !== undefined;
  const write = (values as { write?: boolean }).write === true;
  return {
    rounds,
    quick: values.quick,
    only,
    contenders,
    cpuProfileDir,
    partial,
    writeResults: !partial || write,
  };
}

function splitList(items: readonly string[]): string[] {
  return items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function usage(spec: SuiteCliSpec): string {
  return [
    `usage: npm run ${spec.command} -- [options]`,
    '  --rounds N          rounds per (workload, contender); default 3',
    `  --quick             ${spec.quickHelp}`,
    `  --only A,B          only groups whose id starts with one of these: ${spec.groupIds}`,
    `  --contender A,B     only these contenders: ${spec.contenders.join(', ')}`,
    `  --cpu-prof DIR      ${spec.cpuProfHelp ?? 'run workers with --cpu-prof into DIR and print top self time'}`,
    ...(spec.allowWrite
      ? ['  --write             write the results even for a partial or quick run']
      : []),
    '',
    'Only a complete full-size run (no --quick, --only, --contender, --cpu-prof) replaces the',
    'committed results in tools/bench/results.',
    '',
  ].join('\n');
}
