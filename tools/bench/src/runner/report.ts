import { median, range } from './stats.js';
import type { MachineInfo } from './machine.js';
import type { BenchGroup, BenchTarget, MetricSpec, WorkloadParams } from './types.js';

/** The metrics one worker process reported. */
export interface RoundResult {
  readonly round: number;
  readonly metrics: Record<string, number>;
}

/** One contender of one group over all rounds. */
export interface ContenderSummary {
  readonly contender: string;
  readonly rounds: readonly RoundResult[];
  /** Median over the rounds, per metric. */
  readonly medians: Record<string, number>;
  /** Smallest and largest primary value over the rounds. */
  readonly primaryMin: number;
  readonly primaryMax: number;
  /**
   * How many times better than the best peer on the primary median (above 1 is better, whichever
   * direction the metric goes); null when the group has no peer.
   */
  readonly ratioVsBestPeer: number | null;
}

/** Whether the subject reached the group's target. */
export interface TargetVerdict {
  readonly target: BenchTarget;
  /** The ratio or the primary median, depending on the target's kind. */
  readonly actual: number;
  readonly pass: boolean;
}

/** One group over all rounds. */
export interface GroupSummary {
  readonly id: string;
  readonly label: string;
  readonly workload: string;
  readonly params: WorkloadParams;
  readonly metrics: readonly MetricSpec[];
  readonly bestPeer: string | null;
  readonly contenders: readonly ContenderSummary[];
  readonly verdict: TargetVerdict | null;
}

/** Everything a run produced: the content of `results/<name>.json`. */
export interface SuiteReport {
  readonly suite: string;
  readonly title: string;
  readonly description: string;
  readonly subject: string;
  readonly rounds: number;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly groups: readonly GroupSummary[];
}

/** Medians, ratios and verdicts of one group from its raw rounds (keyed by contender). */
export function summarizeGroup(
  group: BenchGroup,
  subject: string,
  results: ReadonlyMap<string, readonly RoundResult[]>,
): GroupSummary {
  const primary = primaryMetric(group);
  const medians = new Map<string, Record<string, number>>();
  for (const contender of group.contenders) {
    const rounds = results.get(contender) ?? [];
    const values: Record<string, number> = {};
    const keys = new Set(rounds.flatMap((round) => Object.keys(round.metrics)));
    for (const key of keys) {
      values[key] = median(rounds.map((round) => round.metrics[key]).filter(isNumber));
    }
    medians.set(contender, values);
  }
  const orient = (value: number): number => (primary.better === 'higher' ? value : 1 / value);
  let bestPeer: string | null = null;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const contender of group.contenders) {
    if (contender === subject) continue;
    const value = medians.get(contender)?.[primary.key];
    if (value !== undefined && Number.isFinite(value) && orient(value) > bestValue) {
      bestValue = orient(value);
      bestPeer = contender;
    }
  }
  const contenders = group.contenders.map((contender): ContenderSummary => {
    const rounds = results.get(contender) ?? [];
    const own = medians.get(contender) ?? {};
    const value = own[primary.key];
    const spread = range(rounds.map((round) => round.metrics[primary.key]).filter(isNumber));
    return {
      contender,
      rounds,
      medians: own,
      primaryMin: spread.min,
      primaryMax: spread.max,
      ratioVsBestPeer: bestPeer !== null && value !== undefined ? orient(value) / bestValue : null,
    };
  });
  const subjectSummary = contenders.find((summary) => summary.contender === subject);
  let verdict: TargetVerdict | null = null;
  if (group.target && subjectSummary) {
    const actual =
      group.target.kind === 'at-least'
        ? (subjectSummary.medians[primary.key] ?? Number.NaN)
        : (subjectSummary.ratioVsBestPeer ?? Number.NaN);
    verdict = { target: group.target, actual, pass: actual >= group.target.value };
  }
  return {
    id: group.id,
    label: group.label,
    workload: group.workload,
    params: group.params,
    metrics: group.metrics,
    bestPeer,
    contenders,
    verdict,
  };
}

/** The markdown page of a report: machine, versions, the results table and the targets. */
export function renderMarkdown(report: SuiteReport): string {
  const { machine } = report;
  const lines: string[] = [];
  lines.push(`# ${report.title}`, '', report.description, '');
  lines.push(
    `Measured ${machine.date.slice(0, 10)} on ${machine.cpuModel}, ${machine.cores} cores, ` +
      `${machine.memoryGiB} GiB, ${machine.os}; Node.js ${machine.node} (V8 ${machine.v8}); ` +
      `files under ${machine.tmpdir}.`,
    '',
    `Versions: ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    `Each cell is the median of ${report.rounds} rounds${report.quick ? ' (quick run: small sizes)' : ''}; ` +
      'every round starts each contender in its own process, contenders interleaved. ' +
      '"vs best peer" divides by the best peer\'s median (above 1 is better).',
    '',
  );
  lines.push('| workload | contender | median | min–max | vs best peer | details |');
  lines.push('|---|---|--:|--:|--:|---|');
  for (const group of report.groups) {
    const primary = group.metrics[0] as MetricSpec;
    for (const summary of group.contenders) {
      const value = summary.medians[primary.key];
      const details = group.metrics
        .slice(1)
        .map(
          (metric) => `${metric.label} ${formatNumber(summary.medians[metric.key], metric.digits)}`,
        )
        .join(', ');
      const contender =
        summary.contender === report.subject ? `**${summary.contender}**` : summary.contender;
      lines.push(
        `| ${group.label} | ${contender} | ${formatNumber(value, primary.digits)} ${primary.label} | ` +
          `${formatNumber(summary.primaryMin, primary.digits)}–${formatNumber(summary.primaryMax, primary.digits)} | ` +
          `${summary.ratioVsBestPeer === null ? '–' : `${summary.ratioVsBestPeer.toFixed(2)}x`} | ${details} |`,
      );
    }
  }
  const verdicts = report.groups.filter((group) => group.verdict !== null);
  if (verdicts.length > 0) {
    lines.push('', '## Targets', '', '| workload | target | measured | met |', '|---|---|--:|:-:|');
    for (const group of verdicts) {
      const verdict = group.verdict as TargetVerdict;
      const primary = group.metrics[0] as MetricSpec;
      const [target, actual] =
        verdict.target.kind === 'at-least'
          ? [
              `at least ${formatNumber(verdict.target.value)} ${primary.label}`,
              `${formatNumber(verdict.actual)} ${primary.label}`,
            ]
          : [
              `at least ${verdict.target.value}x the best peer`,
              `${verdict.actual.toFixed(2)}x (vs ${group.bestPeer ?? '–'})`,
            ];
      lines.push(`| ${group.label} | ${target} | ${actual} | ${verdict.pass ? 'yes' : '**no**'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Formats with thousands separators and `digits` decimals; `–` for a missing value. */
export function formatNumber(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The primary metric of a group (its first). */
export function primaryMetric(group: BenchGroup): MetricSpec {
  const primary = group.metrics[0];
  if (!primary) throw new Error(`group ${group.id} has no metrics`);
  return primary;
}

function isNumber(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
