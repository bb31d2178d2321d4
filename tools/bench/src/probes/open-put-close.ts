// Probe: open + put + close of a new store, each step timed, in one process (no peer: the
// Level adapter's bench compares with classic-level). Prints the median of each step.
//
//   npx tsx tools/bench/src/probes/open-put-close.ts [runs, default 300]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from '@strata/store';
import { median } from '../runner/stats.js';

const runs = Number(process.argv[2] ?? 300);
const root = await mkdtemp(join(tmpdir(), 'strata-open-put-close-'));
const steps = {
  open: [] as number[],
  put: [] as number[],
  close: [] as number[],
  total: [] as number[],
};
try {
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const store = await Store.open(join(root, String(run)));
    const opened = performance.now();
    await store.put(Buffer.from('key'), Buffer.from('value'));
    const put = performance.now();
    await store.close();
    const closed = performance.now();
    steps.open.push(opened - started);
    steps.put.push(put - opened);
    steps.close.push(closed - put);
    steps.total.push(closed - started);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
console.log(
  `${runs} runs, median ms: ` +
    Object.entries(steps)
      .map(([step, samples]) => `${step} ${median(samples).toFixed(3)}`)
      .join(', '),
);
