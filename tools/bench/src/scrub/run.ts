// What the background scrub costs reads: W5-shaped random gets of existing keys on one store,
// opened alternately with the scrub off and with it on at a given rate (default: the store's own
// default), several rounds each, in the same process and minute.
//   npx tsx tools/bench/src/scrub/run.ts [--keys N] [--rounds N] [--seconds S] [--rate BYTES] [--write]
// --write saves the report to tools/bench/src/scrub/results.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Store } from '@strata/store';
import type { StoreOptions } from '@strata/store';
import { machineInfo, measuredOnSentence } from '../runner/machine.js';
import { median } from '../runner/stats.js';
import { Random, keyOf, makeBatch } from '../kv/data.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '8' },
    rate: { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});
const keyCount = Number(args.keys);
const rounds = Number(args.rounds);
const measureMs = Number(args.seconds) * 1000;
const BATCH = 10_000;
const WARMUP_GETS = 200_000;

/** Stored keys are the even indexes (the kv benchmark's data): `2 * i` for a random `i`. */
const random = new Random(5);
const nextKey = (): Buffer => keyOf(2 * random.below(keyCount));

interface Round {
  readonly getsPerSecond: number;
  readonly scrubbedBytes: number;
}

async function measure(directory: string, scrub: StoreOptions['scrub']): Promise<Round> {
  const store = await Store.open(directory, { scrub });
  try {
    for (let warm = 0; warm < WARMUP_GETS; warm++) await store.get(nextKey());
    const scrubbedBefore = store.scrubStatus()?.verifiedBytes ?? 0;
    let gets = 0;
    const started = performance.now();
    let elapsedMs = 0;
    while (elapsedMs < measureMs) {
      // Time checked every 1,000 gets: a clock read per get would be part of what is measured.
      for (let step = 0; step < 1_000; step++) {
        const key = nextKey();
        if ((await store.get(key)) === undefined) throw new Error(`key ${key.toString()} lost`);
      }
      gets += 1_000;
      // Cached gets resolve without leaving the microtask queue: without this turn of the event
      // loop the scrub's timers would never run, as they would between a server's requests.
      await new Promise((resolve) => setImmediate(resolve));
      elapsedMs = performance.now() - started;
    }
    const scrubbedBytes = (store.scrubStatus()?.verifiedBytes ?? 0) - scrubbedBefore;
    return { getsPerSecond: (gets * 1000) / elapsedMs, scrubbedBytes };
  } finally {
    await store.close();
  }
}

/**
 * Event-loop time per MiB a scrub pass costs on `directory`'s store: one full pass at an
 * unlimited rate with nothing else running, timed by the event loop's utilization (the time the
 * loop spent outside waiting for I/O). Median of `repeats` openings.
 */
async function costPerMiB(directory: string, repeats: number): Promise<CostRound> {
  const rounds: CostRound[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    const store = await Store.open(directory, {
      scrub: { startDelayMs: 0, periodMs: 3_600_000, rateBytesPerSecond: 2 ** 40 },
    });
    try {
      const before = performance.eventLoopUtilization();
      const cpuBefore = process.cpuUsage();
      while ((store.scrubStatus()?.passes ?? 0) < 1) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const busy = performance.eventLoopUtilization(before);
      const cpu = process.cpuUsage(cpuBefore);
      const mib = (store.scrubStatus()?.verifiedBytes ?? 0) / 2 ** 20;
      rounds.push({
        busyMsPerMiB: busy.active / mib,
        cpuMsPerMiB: (cpu.user + cpu.system) / 1000 / mib,
        passMiB: mib,
      });
    } finally {
      await store.close();
    }
  }
  return {
    busyMsPerMiB: median(rounds.map((round) => round.busyMsPerMiB)),
    cpuMsPerMiB: median(rounds.map((round) => round.cpuMsPerMiB)),
    passMiB: rounds[0]?.passMiB ?? 0,
  };
}

interface CostRound {
  readonly busyMsPerMiB: number;
  /** CPU time of the whole process (every thread) per MiB: not inflated by a busy machine. */
  readonly cpuMsPerMiB: number;
  readonly passMiB: number;
}

/** A store written by single puts (one entry a log record, as a server's writes often are). */
async function writeSinglePutStore(directory: string, puts: number): Promise<void> {
  const store = await Store.open(directory, {
    sync: 'none',
    scrub: false,
    walSegmentSizeBytes: SINGLE_PUT_SEGMENT_BYTES,
  });
  const value = Buffer.alloc(100, 0x61);
  for (let index = 0; index < puts; index++) await store.put(keyOf(2 * index), value);
  await store.close({ flushMemtable: true });
}

/** Small log segments, so most of the single-put log is sealed (the scrub reads sealed ones). */
const SINGLE_PUT_SEGMENT_BYTES = 4 * 2 ** 20;

const loadAtStart = loadavg()[0] as number;
const directory = await mkdtemp(join(tmpdir(), 'strata-scrub-bench-'));
const rateBytesPerSecond = args.rate === undefined ? undefined : Number(args.rate);
const scrubOn: StoreOptions['scrub'] = {
  startDelayMs: 0,
  periodMs: 0, // pass after pass: the scrub never idles during the measurement
  ...(rateBytesPerSecond === undefined ? {} : { rateBytesPerSecond }),
};
const off: Round[] = [];
const on: Round[] = [];
let rateShown = 0;
let diskBytes = 0;
let batchCost: CostRound | undefined;
let singleCost: CostRound | undefined;
const singlePuts = Math.max(200_000, Math.round(keyCount / 5));
const singleDirectory = await mkdtemp(join(tmpdir(), 'strata-scrub-bench-puts-'));
try {
  const loading = await Store.open(directory, { sync: 'none', scrub: false });
  // Random order, as the kv benchmark's W2 leaves a store before its W5.
  const order = Uint32Array.from({ length: keyCount }, (_, index) => index);
  const shuffle = new Random(7);
  for (let index = keyCount - 1; index > 0; index--) {
    const other = shuffle.below(index + 1);
    [order[index], order[other]] = [order[other] as number, order[index] as number];
  }
  for (let start = 0; start < keyCount; start += BATCH) {
    const batch = makeBatch(order, start, Math.min(keyCount, start + BATCH), shuffle);
    await loading.batch(
      batch.keys.map((key, index) => ({ type: 'put' as const, key, value: batch.values[index]! })),
    );
  }
  await loading.close({ flushMemtable: true });
  for (let round = 0; round < rounds; round++) {
    // Alternating, each order half the time, so drift on a shared machine hits both alike.
    const pair =
      round % 2 === 0
        ? [await measure(directory, false), await measure(directory, scrubOn)]
        : [await measure(directory, scrubOn), await measure(directory, false)].reverse();
    off.push(pair[0] as Round);
    on.push(pair[1] as Round);
    process.stderr.write(
      `round ${round + 1}: off ${Math.round(pair[0]!.getsPerSecond)} gets/s, on ${Math.round(pair[1]!.getsPerSecond)} gets/s (${(((pair[1]!.scrubbedBytes / measureMs) * 1000) / 1024 / 1024).toFixed(2)} MiB/s scrubbed)\n`,
    );
  }
  const probe = await Store.open(directory, { scrub: scrubOn });
  rateShown = probe.scrubStatus()?.rateBytesPerSecond ?? 0;
  diskBytes = probe.stats().diskSpaceBytes;
  await probe.close();
  batchCost = await costPerMiB(directory, 3);
  await writeSinglePutStore(singleDirectory, singlePuts);
  singleCost = await costPerMiB(singleDirectory, 3);
} finally {
  await rm(directory, { recursive: true, force: true });
  await rm(singleDirectory, { recursive: true, force: true });
}

const offMedian = median(off.map((round) => round.getsPerSecond));
// Each round measures off and on back to back: the ratio within a round is what drift on a shared
// machine (or a quiet one changing speed) affects least.
const pairedRatios = on.map(
  (round, index) => round.getsPerSecond / (off[index] as Round).getsPerSecond,
);
const onMedian = median(on.map((round) => round.getsPerSecond));
const scrubbedMiBps = median(on.map((round) => (round.scrubbedBytes / measureMs) * 1000)) / 2 ** 20;
const machine = machineInfo(['@strata/store', 'tsx'], fileURLToPath(new URL('.', import.meta.url)));
const report = [
  '# Scrub benchmark: what the background scrub costs random reads',
  '',
  measuredOnSentence(machine, loadAtStart),
  '',
  `${keyCount.toLocaleString('en-US')} keys of 16 bytes with 100-byte values (the kv benchmark's data, written in random order; ${(diskBytes / 2 ** 20).toFixed(0)} MiB on disk, log and tree), flushed; then ${rounds} rounds, each opening the store twice in turn: scrub off, and scrub on at ${(rateShown / 2 ** 20).toFixed(2)} MiB/s${rateBytesPerSecond === undefined ? ' (the default)' : ''} with no pause between passes. Each opening warms the cache with ${WARMUP_GETS.toLocaleString('en-US')} gets, then times random gets of existing keys for ${measureMs / 1000} s. Command: \`npx tsx tools/bench/src/scrub/run.ts --write\`.`,
  '',
  '| | gets/s (median) | rounds | scrubbed during the gets |',
  '|---|--:|--:|--:|',
  `| scrub off | ${Math.round(offMedian).toLocaleString('en-US')} | ${off.map((r) => Math.round(r.getsPerSecond / 1000)).join('k, ')}k | - |`,
  `| scrub on | ${Math.round(onMedian).toLocaleString('en-US')} | ${on.map((r) => Math.round(r.getsPerSecond / 1000)).join('k, ')}k | ${scrubbedMiBps.toFixed(2)} MiB/s |`,
  `| on / off | ${(onMedian / offMedian).toFixed(3)} (of the medians) | ${pairedRatios.map((ratio) => ratio.toFixed(2)).join(', ')} (each round's pair) | median of the pairs: ${median(pairedRatios).toFixed(3)} |`,
  '',
  `What a pass costs the event loop, measured apart from any reads: one full pass at an unlimited rate on an otherwise idle store, the time the event loop was busy (its utilization, not waiting for I/O) per MiB verified, and the CPU time of the whole process per MiB (every thread; on a shared machine the event loop's wall time also counts the time it waited for a core), median of 3 openings. At the rate above, the share shown (from the CPU time) of one event loop goes to the scrub. The second store holds ${singlePuts.toLocaleString('en-US')} keys written by single puts (one entry per log record, as a server's writes often are) with ${SINGLE_PUT_SEGMENT_BYTES / 2 ** 20} MiB log segments, so that most of its log is sealed and scrubbed.`,
  '',
  '| store | MiB a pass | event loop busy, ms per MiB | CPU, ms per MiB | share of the event loop at the rate above |',
  '|---|--:|--:|--:|--:|',
  ...[
    ['the store above (log records of 10,000 entries)', batchCost],
    ['single puts', singleCost],
  ].map(([name, cost]) => {
    const { busyMsPerMiB, cpuMsPerMiB, passMiB } = cost as CostRound;
    const share = (cpuMsPerMiB * (rateShown / 2 ** 20)) / 1000;
    return `| ${name as string} | ${passMiB.toFixed(1)} | ${busyMsPerMiB.toFixed(1)} | ${cpuMsPerMiB.toFixed(1)} | ${(share * 100).toFixed(1)}% |`;
  }),
  '',
].join('\n');
process.stdout.write(report);
if (args.write) {
  // Formatted as the repository's own check wants it (results.md is not ignored by prettier).
  const file = fileURLToPath(new URL('./results.md', import.meta.url));
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(file)) ?? {};
  await writeFile(file, await prettier.format(report, { ...config, filepath: file }));
}
