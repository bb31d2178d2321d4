/**
 * `npm run bench:charts`: renders SVG charts from the committed benchmark results
 * (tools/bench/results/*.json) into tools/bench/results/charts/, for the README:
 *
 * - `kv-vs-peers.svg`: per key-value workload, Strata's ratio against each peer (its median over
 *   the peer's, inverted where lower is better, so right of 1 means Strata is ahead), log scale.
 * - `replication-lag.svg`: follower lag p50 and p99 at 1k, 10k writes/s and the top rate, with an
 *   R1 and an R3 stream side by side.
 *
 * Vega-Lite describes the charts and Vega renders them to SVG in Node (no browser, no canvas).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'results');
const SUBJECT = 'strata-store';

/** One row of a suite's results: a workload, its headline metric and a cell per contender. */
interface ResultRow {
  readonly id: string;
  readonly label: string;
  readonly metric: { readonly key: string; readonly label: string; readonly better: string };
  readonly cells: readonly { readonly contender: string; readonly median: number }[];
}

/** Renders a Vega-Lite spec to an SVG document. */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Strata's ratio against each peer per workload: above 1, Strata is ahead. */
export function peerRatios(
  rows: readonly ResultRow[],
): { workload: string; peer: string; ratio: number }[] {
  const out: { workload: string; peer: string; ratio: number }[] = [];
  for (const row of rows) {
    const subject = row.cells.find((cell) => cell.contender === SUBJECT)?.median;
    if (subject === undefined || !(subject > 0)) continue;
    for (const cell of row.cells) {
      if (cell.contender === SUBJECT || cell.contender.startsWith('strata') || !(cell.median > 0))
        continue;
      const ratio = row.metric.better === 'lower' ? cell.median / subject : subject / cell.median;
      out.push({ workload: `${row.label} (${row.metric.label})`, peer: cell.contender, ratio });
    }
  }
  return out;
}

async function kvChart(): Promise<string> {
  const results = JSON.parse(await readFile(join(RESULTS, 'kv.json'), 'utf8')) as {
    rows: ResultRow[];
    machine: { date: string; cores: number };
  };
  const values = peerRatios(results.rows);
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Strata (store, library API) vs each peer: ratio of medians',
      subtitle: `right of 1: Strata ahead; results of ${results.machine.date.slice(0, 10)}, ${results.machine.cores} cores`,
    },
    data: { values },
    width: 480,
    height: { step: 9 },
    layer: [
      {
        // Bars start at 1 (a tie): right when Strata is ahead, left when behind.
        mark: { type: 'bar' },
        encoding: {
          y: {
            field: 'workload',
            type: 'nominal',
            sort: null,
            title: null,
            axis: { labelLimit: 360 },
          },
          yOffset: { field: 'peer' },
          x: {
            field: 'ratio',
            type: 'quantitative',
            scale: { type: 'log', domain: [0.05, 20], clamp: true },
            title: "Strata's ratio (log scale)",
          },
          x2: { datum: 1 },
          color: { field: 'peer', type: 'nominal', title: 'peer' },
          tooltip: [{ field: 'workload' }, { field: 'peer' }, { field: 'ratio', format: '.2f' }],
        },
      },
      {
        mark: { type: 'rule', color: 'black', strokeDash: [4, 3] },
        encoding: { x: { datum: 1 } },
      },
    ],
  });
}

async function replicationChart(): Promise<string> {
  const results = JSON.parse(await readFile(join(RESULTS, 'replication.json'), 'utf8')) as {
    machine: { date: string };
    setups: {
      replicas: number;
      lag: Record<
        string,
        { offeredPerSec: number | null; leaderWritesPerSec: number } & Record<string, number>
      >;
    }[];
  };
  const values: { stream: string; rate: string; percentile: string; lagMs: number }[] = [];
  for (const setup of results.setups) {
    for (const [phase, lag] of Object.entries(setup.lag)) {
      const rate =
        phase === 'top' ? 'top rate' : `${Math.round((lag.offeredPerSec ?? 0) / 1000)}k/s`;
      for (const percentile of ['P50', 'P99'] as const) {
        values.push({
          stream: `R${setup.replicas}`,
          rate,
          percentile: percentile.toLowerCase(),
          lagMs: lag[`lag${percentile}Ms`] ?? 0,
        });
      }
    }
  }
  return renderSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Follower lag (leader append to follower applied), R1 vs R3 stream',
      subtitle: `results of ${results.machine.date.slice(0, 10)}`,
    },
    data: { values },
    mark: 'bar',
    width: 180,
    encoding: {
      column: {
        field: 'rate',
        type: 'nominal',
        sort: ['1k/s', '10k/s', 'top rate'],
        title: 'offered write rate (top rate: as fast as the leader writes)',
      },
      x: { field: 'stream', type: 'nominal', title: null },
      xOffset: { field: 'percentile' },
      y: { field: 'lagMs', type: 'quantitative', title: 'lag ms' },
      color: { field: 'percentile', type: 'nominal' },
      tooltip: [
        { field: 'stream' },
        { field: 'rate' },
        { field: 'percentile' },
        { field: 'lagMs', format: '.1f' },
      ],
    },
  });
}

const charts = join(RESULTS, 'charts');
await mkdir(charts, { recursive: true });
for (const [name, render] of [
  ['kv-vs-peers.svg', kvChart],
  ['replication-lag.svg', replicationChart],
] as const) {
  const svg = await render();
  await writeFile(join(charts, name), svg);
  console.log(
    `bench:charts: wrote ${join('tools/bench/results/charts', name)} (${svg.length} bytes)`,
  );
}
