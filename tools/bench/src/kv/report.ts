import { formatNumber } from '../runner/report.js';
import type { RoundResult, SuiteReport } from '../runner/report.js';
import { median } from '../runner/stats.js';
import type { MetricSpec } from '../runner/types.js';
import { KV_PEERS } from './contender.js';

/**
 * What the subject must reach on a row: a ratio against the best peer (above 1 is better, as the
 * runner computes it), an absolute floor or ceiling, or at most `factor` times a named peer's
 * value (for lower-is-better quantities such as disk or memory).
 */
export type KvTarget =
  | { readonly kind: 'ratio-vs-best-peer'; readonly value: number }
  | { readonly kind: 'at-least'; readonly value: number }
  | { readonly kind: 'at-most'; readonly value: number }
  | { readonly kind: 'at-most-times-peer'; readonly peer: string; readonly factor: number };

/** One row of the results: one metric of one measurement group. */
export interface KvRowSpec {
  readonly id: string;
  readonly label: string;
  /** Measurement group the values come from. */
  readonly group: string;
  readonly metric: MetricSpec;
  /** Other metrics of the same processes shown beside it. */
  readonly details?: readonly MetricSpec[];
  readonly target?: KvTarget;
  /** The contender the target applies to (default: the suite's subject). */
  readonly targetSubject?: string;
}

/** One contender on one row. */
export interface KvCell {
  readonly contender: string;
  readonly values: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Against the best real peer, oriented so that above 1 is better; null for peers' own row. */
  readonly ratioVsBestPeer: number | null;
  readonly details: Record<string, number>;
}

/** A row with its cells and verdict. */
export interface KvRow {
  readonly id: string;
  readonly label: string;
  readonly metric: MetricSpec;
  readonly details: readonly MetricSpec[];
  readonly bestPeer: string | null;
  readonly cells: readonly KvCell[];
  readonly target: KvTarget | null;
  readonly verdict: {
    readonly actual: number;
    readonly pass: boolean;
    readonly text: string;
  } | null;
}

const m = (key: string, label: string, better: 'higher' | 'lower', digits = 0): MetricSpec => ({
  key,
  label,
  better,
  digits,
});

/** The rows of the results table, with the project's targets. */
export const KV_ROWS: readonly KvRowSpec[] = [
  {
    id: 'W1',
    label: 'W1 fill-seq (batches of 1,000, no fsync)',
    group: 'W1',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [
      m('settleMs', 'then flush+compaction ms', 'lower'),
      m('opsPerSecWithSettle', 'ops/s incl. it', 'higher'),
    ],
    target: { kind: 'ratio-vs-best-peer', value: 1 },
  },
  {
    id: 'W2',
    label: 'W2 fill-random (batches of 1,000, no fsync)',
    group: 'W2',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [
      m('settleMs', 'then flush+compaction ms', 'lower'),
      m('opsPerSecWithSettle', 'ops/s incl. it', 'higher'),
    ],
    target: { kind: 'ratio-vs-best-peer', value: 1 },
  },
  {
    id: 'W2/loop-delay',
    label: 'W2 event-loop delay p99 (fill + flush + compaction)',
    group: 'W2',
    metric: m('loopDelayP99Ms', 'ms', 'lower', 1),
    details: [m('loopDelayMaxMs', 'max ms', 'lower', 1)],
    target: { kind: 'at-most', value: 20 },
  },
  {
    id: 'W2/disk',
    label: 'W2 disk after close',
    group: 'W2',
    metric: m('diskClosedMiB', 'MiB', 'lower', 1),
    details: [
      m('diskOpenMiB', 'open MiB', 'lower', 1),
      m('segmentMiB', 'segments MiB', 'lower', 1),
      m('logMiB', 'log MiB', 'lower', 1),
    ],
    target: { kind: 'at-most-times-peer', peer: 'leveldb', factor: 1 },
  },
  {
    id: 'W2/rss',
    label: 'W2 peak RSS of the process',
    group: 'W2',
    metric: m('peakRssMiB', 'MiB', 'lower'),
    target: { kind: 'at-most-times-peer', peer: 'leveldb', factor: 1.5 },
  },
  {
    id: 'W3',
    label: 'W3 put-single (each awaited, no fsync)',
    group: 'W3',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [m('ops', 'puts done', 'higher')],
    target: { kind: 'ratio-vs-best-peer', value: 3 },
  },
  {
    id: 'W3/close',
    label: 'W3 close right after the puts (nothing flushed by hand)',
    group: 'W3',
    metric: m('closeMs', 'ms', 'lower', 1),
    target: { kind: 'at-most', value: 50 },
  },
  {
    id: 'W4/writers-1',
    label: 'W4 put-sync, 1 writer',
    group: 'W4/writers-1',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [m('p50Us', 'p50 us', 'lower'), m('p99Us', 'p99 us', 'lower')],
  },
  {
    id: 'W4/writers-8',
    label: 'W4 put-sync, 8 writers',
    group: 'W4/writers-8',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [m('p50Us', 'p50 us', 'lower'), m('p99Us', 'p99 us', 'lower')],
    target: { kind: 'ratio-vs-best-peer', value: 2 },
  },
  {
    id: 'W4/writers-64',
    label: 'W4 put-sync, 64 writers',
    group: 'W4/writers-64',
    metric: m('opsPerSec', 'ops/s', 'higher'),
    details: [m('p50Us', 'p50 us', 'lower'), m('p99Us', 'p99 us', 'lower')],
    target: { kind: 'at-least', value: 50_000 },
  },
  {
    id: 'W5/hit',
    label: 'W5 get, existing keys',
    group: 'W5',
    metric: m('getHitOpsPerSec', 'gets/s', 'higher'),
    target: { kind: 'ratio-vs-best-peer', value: 2 },
  },
  {
    id: 'W5/missing',
    label: 'W5 get, missing keys',
    group: 'W5',
    metric: m('getMissOpsPerSec', 'gets/s', 'higher'),
    target: { kind: 'ratio-vs-best-peer', value: 2 },
  },
  {
    id: 'W6/full-scan',
    label: 'W6 full forward scan',
    group: 'W6',
    metric: m('scanItemsPerSec', 'items/s', 'higher'),
    target: { kind: 'ratio-vs-best-peer', value: 1 },
  },
  {
    id: 'W6/range',
    label: 'W6 range scans of 100 keys',
    group: 'W6',
    metric: m('rangeScansPerSec', 'scans/s', 'higher'),
    target: { kind: 'ratio-vs-best-peer', value: 1 },
  },
  {
    id: 'W7/reopen',
    label: 'W7 clean reopen, open + first read',
    group: 'W7',
    metric: m('reopenMs', 'ms', 'lower', 1),
    details: [m('reopenOpenMs', 'open alone ms', 'lower', 1)],
    target: { kind: 'at-most', value: 20 },
  },
  {
    id: 'W7/crash',
    label: 'W7 after SIGKILL with N/10 unflushed writes, open + first read',
    group: 'W7',
    metric: m('recoveryMs', 'ms', 'lower', 1),
    details: [
      m('recoveryOpenMs', 'open alone ms', 'lower', 1),
      m('lastWriteRecovered', 'last write recovered (1 = yes)', 'higher'),
      m('replayedEntries', 'log entries replayed', 'higher'),
      m('lostEntries', 'entries lost', 'lower'),
    ],
  },
  {
    id: 'W7/replay-rate',
    label: 'W7 crash recovery: log entries replayed per second of open',
    group: 'W7',
    metric: m('recoveredEntriesPerSec', 'entries/s', 'higher'),
    target: { kind: 'at-least', value: 1_500_000 },
  },
];

/** Builds the rows from the runner's report (whose groups carry every round's raw metrics). */
export function buildRows(report: SuiteReport, specs: readonly KvRowSpec[] = KV_ROWS): KvRow[] {
  const rows: KvRow[] = [];
  for (const spec of specs) {
    const group = report.groups.find((candidate) => candidate.id === spec.group);
    if (!group) continue;
    const details = spec.details ?? [];
    const raw = group.contenders
      .map((summary) => ({
        contender: summary.contender,
        rounds: summary.rounds,
        values: valuesOf(summary.rounds, spec.metric.key),
      }))
      .filter((entry) => entry.values.length > 0);
    if (raw.length === 0) continue;
    const orient = (value: number): number => (spec.metric.better === 'higher' ? value : 1 / value);
    let bestPeer: string | null = null;
    let best = Number.NEGATIVE_INFINITY;
    for (const entry of raw) {
      if (!(KV_PEERS as readonly string[]).includes(entry.contender)) continue;
      const value = orient(median(entry.values));
      if (Number.isFinite(value) && value > best) {
        best = value;
        bestPeer = entry.contender;
      }
    }
    const cells = raw.map((entry): KvCell => {
      const value = median(entry.values);
      const detailMedians: Record<string, number> = {};
      for (const detail of details) {
        const values = valuesOf(entry.rounds, detail.key);
        if (values.length > 0) detailMedians[detail.key] = median(values);
      }
      return {
        contender: entry.contender,
        values: entry.values,
        median: value,
        min: Math.min(...entry.values),
        max: Math.max(...entry.values),
        ratioVsBestPeer: bestPeer === null ? null : orient(value) / best,
        details: detailMedians,
      };
    });
    const subject = spec.targetSubject ?? report.subject;
    rows.push({
      id: spec.id,
      label: spec.label,
      metric: spec.metric,
      details,
      bestPeer,
      cells,
      target: spec.target ?? null,
      verdict: spec.target ? verdictOf(spec.target, spec.metric, subject, cells, bestPeer) : null,
    });
  }
  return rows;
}

function valuesOf(rounds: readonly RoundResult[], key: string): number[] {
  return rounds
    .map((round) => round.metrics[key])
    .filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
}

function verdictOf(
  target: KvTarget,
  metric: MetricSpec,
  subject: string,
  cells: readonly KvCell[],
  bestPeer: string | null,
): KvRow['verdict'] {
  const own = cells.find((cell) => cell.contender === subject);
  if (!own) return null;
  const shown = (value: number): string => `${formatNumber(value, metric.digits)} ${metric.label}`;
  switch (target.kind) {
    case 'ratio-vs-best-peer': {
      const actual = own.ratioVsBestPeer ?? Number.NaN;
      return {
        actual,
        pass: actual >= target.value,
        text: `${actual.toFixed(2)}x (vs ${bestPeer ?? '–'})`,
      };
    }
    case 'at-least':
      return { actual: own.median, pass: own.median >= target.value, text: shown(own.median) };
    case 'at-most':
      return { actual: own.median, pass: own.median <= target.value, text: shown(own.median) };
    case 'at-most-times-peer': {
      const peer = cells.find((cell) => cell.contender === target.peer);
      const ratio = peer ? own.median / peer.median : Number.NaN;
      return {
        actual: ratio,
        pass: ratio <= target.factor,
        text: `${shown(own.median)} = ${ratio.toFixed(2)}x ${target.peer} (${peer ? shown(peer.median) : '–'})`,
      };
    }
  }
}

function targetText(target: KvTarget, metric: MetricSpec): string {
  switch (target.kind) {
    case 'ratio-vs-best-peer':
      return `at least ${target.value}x the best peer`;
    case 'at-least':
      return `at least ${formatNumber(target.value)} ${metric.label}`;
    case 'at-most':
      return `at most ${formatNumber(target.value)} ${metric.label}`;
    case 'at-most-times-peer':
      return target.factor === 1
        ? `at most ${target.peer}'s`
        : `at most ${target.factor}x ${target.peer}'s`;
  }
}

/** Provenance recorded with the results. */
export interface KvProvenance {
  readonly gitCommit: string;
  /** `git status --short libs/engine | wc -l` when the run started and when it ended. */
  readonly engineChangedFilesAtStart: number;
  readonly engineChangedFilesAtEnd: number;
  readonly storeChangedFilesAtStart: number;
  readonly sizes: Record<string, number>;
  readonly durationMinutes: number;
}

/** The markdown page: machine, versions, provenance, the table and the targets. */
export function renderKvMarkdown(
  report: SuiteReport,
  rows: readonly KvRow[],
  provenance: KvProvenance,
): string {
  const { machine } = report;
  const lines: string[] = [`# ${report.title}`, ''];
  lines.push(
    `Measured ${machine.date.slice(0, 10)} on ${machine.cpuModel}, ${machine.cores} cores, ` +
      `${machine.memoryGiB} GiB, ${machine.os}; Node.js ${machine.node} (V8 ${machine.v8}); ` +
      `files under ${machine.tmpdir}. The run took ${provenance.durationMinutes.toFixed(1)} minutes.`,
    '',
    `Versions: ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}.`,
    '',
    `Strata at commit ${provenance.gitCommit.slice(0, 12)}, with ${provenance.engineChangedFilesAtStart} ` +
      `uncommitted changed files in libs/engine at the start of the run ` +
      `(${provenance.engineChangedFilesAtEnd} at the end) and ${provenance.storeChangedFilesAtStart} in libs/store.`,
    '',
    `Sizes: ${Object.entries(provenance.sizes)
      .map(([name, value]) => `${name} = ${formatNumber(value)}`)
      .join(', ')}. ` +
      `Each cell is the median of ${report.rounds} round${report.rounds === 1 ? '' : 's'}${report.quick ? ' (quick run: small sizes)' : ''}; ` +
      'every round runs each (workload, contender) in its own process, contenders interleaved. ' +
      '"vs best peer" divides by the median of the best of LevelDB, RocksDB, LMDB and SQLite ' +
      '(oriented so that above 1 is better; `strata-engine` is not a peer). ' +
      report.description,
    '',
    '| workload | contender | median | min–max | vs best peer | details |',
    '|---|---|--:|--:|--:|---|',
  );
  for (const row of rows) {
    for (const cell of row.cells) {
      const digits = row.metric.digits;
      const details = row.details
        .filter((detail) => cell.details[detail.key] !== undefined)
        .map((detail) => `${detail.label} ${formatNumber(cell.details[detail.key], detail.digits)}`)
        .join(', ');
      const name = cell.contender === report.subject ? `**${cell.contender}**` : cell.contender;
      lines.push(
        `| ${row.label} | ${name} | ${formatNumber(cell.median, digits)} ${row.metric.label} | ` +
          `${formatNumber(cell.min, digits)}–${formatNumber(cell.max, digits)} | ` +
          `${cell.ratioVsBestPeer === null ? '–' : `${cell.ratioVsBestPeer.toFixed(2)}x`} | ${details} |`,
      );
    }
  }
  const judged = rows.filter((row) => row.verdict !== null && row.target !== null);
  if (judged.length > 0) {
    lines.push(
      '',
      `## Targets (${report.subject})`,
      '',
      '| workload | target | measured | met |',
      '|---|---|--:|:-:|',
    );
    for (const row of judged) {
      const verdict = row.verdict as NonNullable<KvRow['verdict']>;
      lines.push(
        `| ${row.label} | ${targetText(row.target as KvTarget, row.metric)} | ${verdict.text} | ${verdict.pass ? 'yes' : '**no**'} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
