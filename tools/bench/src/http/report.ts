// The HTTP suite's additions to the runner's report: load averages, validity of each cell and a
// compact strata-vs-ceiling table.
import { formatNumber } from '../runner/report.js';
import type { GroupSummary, SuiteReport } from '../runner/report.js';

/** What the HTTP run adds to the runner's report in `results/http.json`. */
export interface HttpRunInfo {
  /** `os.loadavg()` (1, 5, 15 minutes) when the run started and when it ended. */
  readonly loadAvgStart: readonly number[];
  readonly loadAvgEnd: readonly number[];
  readonly durationMinutes: number;
  /** Cells where some round had a failed request (error, timeout or non-2xx): not valid. */
  readonly invalidCells: readonly string[];
}

/** `group id / contender` of every cell where any round had a failed request. */
export function invalidCells(report: SuiteReport): string[] {
  const cells: string[] = [];
  for (const group of report.groups) {
    for (const summary of group.contenders) {
      const failed = summary.rounds.reduce((sum, round) => sum + (round.metrics.failed ?? 0), 0);
      if (failed > 0) cells.push(`${group.id} / ${summary.contender} (${failed} failed)`);
    }
  }
  return cells;
}

const loads = (values: readonly number[]): string => values.map((v) => v.toFixed(2)).join(' / ');

/** The markdown sections placed after the runner's page. */
export function renderHttpNotes(report: SuiteReport, info: HttpRunInfo): string {
  const lines: string[] = [];
  lines.push('## Strata next to the in-memory ceiling', '');
  lines.push(
    '| workload | conn | strata req/s | p50 ms | p99 ms | ceiling req/s | p50 ms | p99 ms | strata / ceiling |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const group of report.groups) {
    const strata = cell(group, 'strata');
    const ceiling = cell(group, 'fastify-constant');
    const ratio =
      strata && ceiling
        ? (strata.medians.reqPerSec ?? NaN) / (ceiling.medians.reqPerSec ?? NaN)
        : NaN;
    lines.push(
      `| ${group.workload.toUpperCase()} | ${Number(group.params.connections)} | ` +
        `${formatNumber(strata?.medians.reqPerSec)} | ${formatNumber(strata?.medians.p50Ms, 2)} | ` +
        `${formatNumber(strata?.medians.p99Ms, 2)} | ${formatNumber(ceiling?.medians.reqPerSec)} | ` +
        `${formatNumber(ceiling?.medians.p50Ms, 2)} | ${formatNumber(ceiling?.medians.p99Ms, 2)} | ` +
        `${Number.isFinite(ratio) ? `${(100 * ratio).toFixed(0)}%` : '–'} |`,
    );
  }
  const preloadKeys = Number(report.groups.find((g) => g.workload === 'get')?.params.preloadKeys);
  lines.push('', '## Conditions', '');
  lines.push(
    `- Client and server share this ${report.machine.cores}-core machine: autocannon (one ` +
      'process, one thread) and the server each need about one core, so every figure here is ' +
      'bounded by the client as much as by the server. "server CPU %" and "client CPU %" are the ' +
      'CPU time each process used over the measured window (100% = one core).',
    `- Other processes may have been running: the machine is shared. Load average (1 / 5 / 15 min) ` +
      `was ${loads(info.loadAvgStart)} at the start and ${loads(info.loadAvgEnd)} at the end. ` +
      `The run took ${info.durationMinutes.toFixed(1)} minutes.`,
    '- Strata runs from its esbuild bundle with plain node; the ceiling runs under ' +
      '`node --import tsx` (its TypeScript is compiled once at start-up).',
    `- The ${formatNumber(preloadKeys)} preloaded keys (about ` +
      `${formatNumber((preloadKeys * 116) / 1e6, 1)} MB of keys and values) fit in the 64 MiB ` +
      'memtable, so the GETs are served from the memtable, not from segments: this measures the ' +
      'HTTP path more than the read path of the engine.',
    '- Each cell gets a fresh server process and data directory; the PUT cells start empty.',
    "- Latency percentiles come from every 2xx response's own time (autocannon's histogram keeps " +
      'whole milliseconds only).',
  );
  lines.push('', '## Validity', '');
  lines.push(
    info.invalidCells.length === 0
      ? 'Every round of every cell completed with 0 socket errors, 0 timeouts and 0 non-2xx answers.'
      : `Cells with failed requests (not valid): ${info.invalidCells.join('; ')}.`,
  );
  return `${lines.join('\n')}\n`;
}

function cell(group: GroupSummary, contender: string) {
  return group.contenders.find((summary) => summary.contender === contender);
}
