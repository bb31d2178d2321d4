// Quick check of the store's write path, in one process: single awaited puts with sync `none`
// (W3-like) and durable puts from 8 and 64 concurrent writers (W4-like); 3 rounds, medians.
// For before/after comparisons of a change in the same minutes:
//   npx tsx tools/bench/src/store-write-path/run.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '@strata/store';

const value = Buffer.alloc(100, 'v');
const keyOf = (index: number): Buffer => Buffer.from(index.toString(16).padStart(16, '0'));

async function withStore(
  sync: 'none' | 'always',
  body: (store: Store) => Promise<void>,
): Promise<number> {
  const directory = await mkdtemp(join(tmpdir(), 'strata-write-path-'));
  const store = await Store.open(directory, { sync });
  try {
    const started = performance.now();
    await body(store);
    return performance.now() - started;
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

async function singlePuts(count: number): Promise<number> {
  const elapsedMs = await withStore('none', async (store) => {
    for (let index = 0; index < count; index++) await store.put(keyOf(index), value);
  });
  return Math.round(count / (elapsedMs / 1000));
}

async function durablePuts(writers: number, count: number): Promise<number> {
  let next = 0;
  const elapsedMs = await withStore('always', async (store) => {
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < count) await store.put(keyOf(next++), value);
      }),
    );
  });
  return Math.round(count / (elapsedMs / 1000));
}

const rounds = { singlePuts: [] as number[], durable8: [] as number[], durable64: [] as number[] };
for (let round = 0; round < 3; round++) {
  rounds.singlePuts.push(await singlePuts(30_000));
  rounds.durable8.push(await durablePuts(8, 8_000));
  rounds.durable64.push(await durablePuts(64, 20_000));
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[1] ?? 0;
console.log(
  `single puts, sync none:   ${median(rounds.singlePuts)} ops/s  (rounds ${rounds.singlePuts.join(', ')})`,
);
console.log(
  `durable puts, 8 writers:  ${median(rounds.durable8)} ops/s  (rounds ${rounds.durable8.join(', ')})`,
);
console.log(
  `durable puts, 64 writers: ${median(rounds.durable64)} ops/s  (rounds ${rounds.durable64.join(', ')})`,
);
