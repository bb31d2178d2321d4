// Range deletes through the store, as a client sees them: load N keys under one prefix, then one
// durable Store.deleteRange over the prefix (one log record, fsynced under sync 'always'), timed
// against a durable single-key put on the same store, and gets of covered keys after it.
//   npx tsx tools/bench/src/range-delete/store-run.ts [--keys N] [--write]
// --write saves the report to tools/bench/src/range-delete/store-results.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Store } from '@strata/store';
import { machineInfo, measuredOnSentence } from '../runner/machine.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    write: { type: 'boolean', default: false },
  },
});
const keyCount = Number(args.keys);
const BATCH = 10_000;
const SAMPLES = 21;
const GET_SAMPLES = 20_000;
const keyOf = (index: number): string => `user/${index.toString(16).padStart(8, '0')}`;
const value = Buffer.alloc(100, 7);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const loadAtStart = loadavg()[0] as number;
const directory = await mkdtemp(join(tmpdir(), 'strata-range-delete-store-'));
const rows: [string, string][] = [];
try {
  const store = await Store.open(directory, { sync: 'always' });
  const loadStarted = performance.now();
  for (let start = 0; start < keyCount; start += BATCH) {
    const operations = [];
    for (let index = start; index < Math.min(keyCount, start + BATCH); index++) {
      operations.push({ type: 'put' as const, key: keyOf(index), value });
    }
    await store.batch(operations);
  }
  rows.push([
    'load (batches of 10,000, durable)',
    `${((performance.now() - loadStarted) / 1000).toFixed(1)} s`,
  ]);

  // The same durable path for one key, for scale: a range delete is one such write.
  const putMs: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample++) {
    const started = performance.now();
    await store.put(`other/${sample}`, value);
    putMs.push(performance.now() - started);
  }
  rows.push([`durable put of one key (median of ${SAMPLES})`, `${median(putMs).toFixed(2)} ms`]);

  const before = store.lastSeqno;
  const started = performance.now();
  const { seqno } = await store.deleteRange({ prefix: 'user/' });
  const deleteMs = performance.now() - started;
  if (seqno !== before + 1) throw new Error(`the range delete took seqnos ${before + 1}..${seqno}`);
  rows.push([
    `Store.deleteRange over ${keyCount.toLocaleString('en-US')} keys (one durable write, one seqno)`,
    `${deleteMs.toFixed(2)} ms`,
  ]);

  const getStarted = performance.now();
  for (let sample = 0; sample < GET_SAMPLES; sample++) {
    if ((await store.get(keyOf((sample * 7919) % keyCount))) !== undefined) {
      throw new Error('a covered key is still visible');
    }
  }
  rows.push([
    'get of a covered key, right after',
    `${(((performance.now() - getStarted) * 1000) / GET_SAMPLES).toFixed(2)} µs`,
  ]);
  const older = await store.get(keyOf(1), { at: before });
  if (older === undefined) throw new Error('a read before the range delete lost the key');
  rows.push(['read at the seqno before it', 'still sees the keys']);
  await store.close();
} finally {
  await rm(directory, { recursive: true, force: true });
}

const machine = machineInfo(['@strata/store', 'tsx'], fileURLToPath(new URL('.', import.meta.url)));
const report = [
  '# Range delete benchmark (store)',
  '',
  measuredOnSentence(machine, loadAtStart),
  '',
  `${keyCount.toLocaleString('en-US')} keys \`user/<8 hex digits>\` with 100-byte values in a store with the defaults (\`sync: 'always'\`), then one \`Store.deleteRange({ prefix: 'user/' })\`: one log record, acknowledged after its fdatasync, like any write. Command: \`npx tsx tools/bench/src/range-delete/store-run.ts --write\`. Compaction and disk figures are in results.md (the engine benchmark).`,
  '',
  '| step | measured |',
  '|---|--:|',
  ...rows.map(([step, measured]) => `| ${step} | ${measured} |`),
  '',
].join('\n');
process.stdout.write(report);
if (args.write) {
  await writeFile(fileURLToPath(new URL('./store-results.md', import.meta.url)), report);
}
