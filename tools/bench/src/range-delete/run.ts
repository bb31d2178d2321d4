// Range deletes in the engine, in one process: load N keys under one prefix, delete them all with
// one Tree.removeRange, time that call and gets of covered keys (tombstone in the memtable, then
// in a segment), time an iteration of the deleted prefix, then a major compaction and the disk
// size before and after it.
//   npx tsx tools/bench/src/range-delete/run.ts [--keys N] [--write]
// --write saves the report to tools/bench/src/range-delete/results.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LeveledStrategy, Tree } from '@strata/engine';
import { machineInfo, measuredOnSentence } from '../runner/machine.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    write: { type: 'boolean', default: false },
  },
});
const keyCount = Number(args.keys);
const MEMTABLE_BYTES = 64 * 1024 * 1024;
const GET_SAMPLES = 20_000;
const prefix = Buffer.from('user/');
const prefixEnd = Buffer.from('user0'); // the smallest key above every key starting "user/"
/** 100-byte values of pseudo-random bytes (xorshift, fixed seed): they do not compress away. */
function valueOf(index: number): Buffer {
  const out = Buffer.allocUnsafe(100);
  let x = (index * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
const keyOf = (index: number): Buffer =>
  Buffer.concat([prefix, Buffer.from(index.toString(16).padStart(8, '0'))]);
const MIB = 2 ** 20;

/** Milliseconds `body` takes. */
async function timed(body: () => unknown): Promise<number> {
  const started = performance.now();
  await body();
  return performance.now() - started;
}

/**
 * Microseconds per get of `GET_SAMPLES` keys spread over the loaded ones, checking each result.
 * The keys are read once untimed first (JIT, index and filter loads, block cache), so the figure
 * is a warm one.
 */
async function timeGets(tree: Tree, expectFound: boolean): Promise<number> {
  const keys: Buffer[] = [];
  for (let i = 0; i < GET_SAMPLES; i++) keys.push(keyOf((i * 7919) % keyCount));
  const pass = async (): Promise<void> => {
    for (const key of keys) {
      const found = (await tree.get(key)) !== undefined;
      if (found !== expectFound) throw new Error(`get of ${key.toString()} found=${found}`);
    }
  };
  await pass();
  return ((await timed(pass)) * 1000) / GET_SAMPLES;
}

/** Milliseconds of the first removeRange of the process (cold code), on a scratch tree. */
async function coldRemoveRangeMs(): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'strata-range-delete-scratch-'));
  try {
    const tree = await Tree.open(scratch);
    tree.insert(keyOf(0), valueOf(0), 0);
    const ms = await timed(() => tree.removeRange(prefix, prefixEnd, 1));
    // Warm the code for the measured call.
    for (let seqno = 2; seqno < 1000; seqno++)
      tree.removeRange(keyOf(seqno), keyOf(seqno + 5), seqno);
    await tree.close();
    return ms;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const loadAtStart = loadavg()[0]!;
const directory = await mkdtemp(join(tmpdir(), 'strata-range-delete-'));
const rows: [string, string][] = [];
try {
  const tree = await Tree.open(directory);
  let seqno = 0;
  const loadMs = await timed(async () => {
    for (let index = 0; index < keyCount; index++) {
      tree.insert(keyOf(index), valueOf(index), seqno++);
      if (tree.activeMemtableSize() >= MEMTABLE_BYTES) await tree.flushActiveMemtable();
    }
    await tree.flushActiveMemtable();
    for (let step = 0; step < 20 && tree.firstLevelSegmentCount() > 0; step++) {
      await tree.compact(new LeveledStrategy({ l0Trigger: 1 }));
    }
  });
  rows.push(['load (insert, flush, leveled compaction)', `${(loadMs / 1000).toFixed(1)} s`]);
  rows.push(['get before the range delete', `${(await timeGets(tree, true)).toFixed(2)} µs`]);

  const coldMs = await coldRemoveRangeMs();
  const removeMs = await timed(() => tree.removeRange(prefix, prefixEnd, seqno++));
  rows.push([
    `Tree.removeRange over all ${keyCount.toLocaleString('en-US')} keys`,
    `${removeMs.toFixed(3)} ms (first call of the process, cold code: ${coldMs.toFixed(3)} ms)`,
  ]);
  rows.push([
    'get of a covered key (tombstone in the memtable)',
    `${(await timeGets(tree, false)).toFixed(2)} µs`,
  ]);
  let visible = -1;
  const scanMs = await timed(async () => {
    visible = await tree.len();
  });
  if (visible !== 0) throw new Error(`${visible} keys still visible`);
  rows.push([
    'len() after the range delete (walks the hidden versions)',
    `${scanMs.toFixed(0)} ms`,
  ]);

  await tree.flushActiveMemtable();
  rows.push([
    'get of a covered key (tombstone in a segment)',
    `${(await timeGets(tree, false)).toFixed(2)} µs`,
  ]);
  const before = tree.diskSpace();
  const compactMs = await timed(() => tree.majorCompact());
  const after = tree.diskSpace();
  rows.push(['major compaction', `${(compactMs / 1000).toFixed(2)} s`]);
  rows.push(['disk before the major compaction', `${(before / MIB).toFixed(1)} MiB`]);
  rows.push([
    'disk after the major compaction',
    `${(after / MIB).toFixed(3)} MiB (${((after / before) * 100).toFixed(2)}% of before, ${tree.segmentCount()} segments)`,
  ]);
  rows.push([
    'get of a deleted key after the compaction',
    `${(await timeGets(tree, false)).toFixed(2)} µs`,
  ]);
  await tree.close();
} finally {
  await rm(directory, { recursive: true, force: true });
}

const machine = machineInfo(
  ['@strata/engine', 'tsx'],
  fileURLToPath(new URL('.', import.meta.url)),
);
const report = [
  '# Range delete benchmark (engine)',
  '',
  measuredOnSentence(machine, loadAtStart),
  '',
  `${keyCount.toLocaleString('en-US')} keys \`user/<8 hex digits>\` with 100-byte values, loaded into a tree with the defaults (64 MiB memtables flushed in a worker, leveled compaction), then deleted with one \`removeRange(user/, user0)\`. Gets: ${GET_SAMPLES.toLocaleString('en-US')} keys spread over the range, awaited one by one, timed on a second pass (warm). Disk sizes are segment files (\`Tree.diskSpace\`); the engine has no log. Command: \`npx tsx tools/bench/src/range-delete/run.ts --write\`.`,
  '',
  '| step | measured |',
  '|---|--:|',
  ...rows.map(([step, measured]) => `| ${step} | ${measured} |`),
  '',
].join('\n');
process.stdout.write(report);
if (args.write) {
  await writeFile(fileURLToPath(new URL('./results.md', import.meta.url)), report);
}
