import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { monotonicMicros } from '../runner/worker-protocol.js';
import type { PhaseSpan, WorkerOutput } from '../runner/types.js';
import { quantile } from '../runner/stats.js';
import { openContender } from './contender.js';
import type { GetResult, KvContender } from './contender.js';
import {
  KEY_BYTES,
  Random,
  keyOf,
  makeBatch,
  randomOrder,
  sequentialOrder,
  writeKey,
} from './data.js';
import { directoryBytes } from './disk.js';

const MIB = 2 ** 20;

/** Sizes shared by the workloads. */
export interface KvParams {
  /** Keys written by a fill (N). */
  readonly n: number;
  /** Entries per batch in fills. */
  readonly batch: number;
  /** Seed of the key order and the values (the same in every round and contender). */
  readonly seed: number;
}

function nowMs(): number {
  return monotonicMicros() / 1000;
}

function isPromise(value: GetResult): value is Promise<Buffer | Uint8Array | undefined> {
  return value instanceof Promise;
}

/** Writes `order`'s keys in batches; returns the milliseconds until the last batch was accepted. */
async function fill(
  store: KvContender,
  order: Uint32Array,
  params: KvParams,
  random: Random,
): Promise<{ ms: number; span: PhaseSpan }> {
  const startUs = monotonicMicros();
  for (let from = 0; from < order.length; from += params.batch) {
    const to = Math.min(order.length, from + params.batch);
    const { keys, values } = makeBatch(order, from, to, random);
    await store.writeBatch(keys, values);
  }
  const endUs = monotonicMicros();
  return { ms: (endUs - startUs) / 1000, span: { startUs, endUs } };
}

/**
 * W1 / W2: N puts in batches, no fsync, in key order or random order. The timing ends when the
 * last batch is accepted; `settleMs` is then the time Strata needs to flush its memtables to
 * segments and finish compaction (0 for the peers, whose background work is their own). W2 also
 * records event-loop delay over the fill and settle, and disk use while open and after close.
 */
export async function runFill(
  contender: string,
  directory: string,
  params: KvParams,
  order: 'sequential' | 'random',
): Promise<WorkerOutput> {
  const random = new Random(params.seed);
  const keys = order === 'sequential' ? sequentialOrder(params.n) : randomOrder(params.n, random);
  const store = await openContender(contender, directory, 'none');
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const filled = await fill(store, keys, params, random);
  const settleStart = nowMs();
  await store.settle();
  const settleMs = nowMs() - settleStart;
  delay.disable();
  const metrics: Record<string, number> = {
    opsPerSec: params.n / (filled.ms / 1000),
    settleMs,
    opsPerSecWithSettle: params.n / ((filled.ms + settleMs) / 1000),
    diskOpenMiB: directoryBytes(directory) / MIB,
  };
  // A store whose writes never yield to the event loop (synchronous native calls) leaves no
  // sample: not measured (omitted) rather than 0.
  if (delay.count > 1) {
    metrics.loopDelayP99Ms = delay.percentile(99) / 1e6;
    metrics.loopDelayMaxMs = delay.max / 1e6;
  }
  for (const [key, value] of Object.entries(store.extraMetrics?.() ?? {})) metrics[key] = value;
  const closeStart = nowMs();
  await store.close();
  metrics.closeMs = nowMs() - closeStart;
  metrics.diskClosedMiB = directoryBytes(directory) / MIB;
  return { metrics, phases: { fill: filled.span } };
}

/**
 * W3: N/10 single puts in random key order, each awaited before the next, no fsync. A run stops
 * early after `maxDurationMs` of puts (LMDB's awaited `put` commits one transaction each). Then
 * the close is timed: nothing was flushed or settled by hand, so it shows what a close costs.
 */
export async function runPutSingle(
  contender: string,
  directory: string,
  params: KvParams,
  maxDurationMs: number,
): Promise<WorkerOutput> {
  const random = new Random(params.seed);
  const count = Math.floor(params.n / 10);
  const order = randomOrder(count, random);
  const store = await openContender(contender, directory, 'none');
  // Keys and values prepared up front (in batches of 10,000) so only the puts are timed.
  const startUs = monotonicMicros();
  let elapsedUs = 0;
  let done = 0;
  for (let from = 0; from < count && elapsedUs < maxDurationMs * 1000; from += 10_000) {
    const to = Math.min(count, from + 10_000);
    const { keys, values } = makeBatch(order, from, to, random);
    const start = monotonicMicros();
    for (let index = 0; index < keys.length; index++) {
      await store.put(keys[index] as Buffer, values[index] as Buffer);
    }
    done += keys.length;
    elapsedUs += monotonicMicros() - start;
  }
  const span = { startUs, endUs: monotonicMicros() };
  // Closed right after the puts, with whatever the store has not written out yet.
  const closeStart = nowMs();
  await store.close();
  const closeMs = nowMs() - closeStart;
  return {
    metrics: { opsPerSec: done / (elapsedUs / 1e6), ops: done, closeMs },
    phases: { puts: span },
  };
}

/** Parameters of W4. */
export interface DurableParams {
  readonly writers: number;
  readonly ops: number;
  readonly warmupOps: number;
  readonly maxDurationMs: number;
  readonly seed: number;
}

/**
 * W4: durable single puts (Strata `sync: 'always'`, peers their fsync'd writes). `writers`
 * concurrent writers each await their put before the next; stops after `ops` puts or
 * `maxDurationMs`. Latency is the time one put takes as its writer sees it.
 */
export async function runPutSync(
  contender: string,
  directory: string,
  params: DurableParams,
): Promise<WorkerOutput> {
  const store = await openContender(contender, directory, 'durable');
  const random = new Random(params.seed);
  const total = params.warmupOps + params.ops;
  const order = randomOrder(total, random);
  const { keys, values } = makeBatch(order, 0, total, random);
  let next = 0;
  const latenciesUs = new Float64Array(params.ops);
  let measured = 0;
  let deadline = Number.POSITIVE_INFINITY;
  const writer = async (limit: number, record: boolean): Promise<void> => {
    while (next < limit && nowMs() < deadline) {
      const index = next++;
      const start = monotonicMicros();
      await store.put(keys[index] as Buffer, values[index] as Buffer);
      if (record) latenciesUs[measured++] = monotonicMicros() - start;
    }
  };
  await Promise.all(Array.from({ length: params.writers }, () => writer(params.warmupOps, false)));
  const startUs = monotonicMicros();
  deadline = nowMs() + params.maxDurationMs;
  await Promise.all(Array.from({ length: params.writers }, () => writer(total, true)));
  const endUs = monotonicMicros();
  await store.close();
  const samples = latenciesUs.subarray(0, measured);
  return {
    metrics: {
      opsPerSec: measured / ((endUs - startUs) / 1e6),
      p50Us: quantile(samples, 0.5),
      p99Us: quantile(samples, 0.99),
      ops: measured,
    },
    phases: { puts: { startUs, endUs } },
  };
}

/**
 * The W2 store, re-created in this process: N puts in random order in batches, settled (Strata:
 * flushed and compacted), closed, and reopened. Returns the reopened store.
 */
async function prepareW2Store(
  contender: string,
  directory: string,
  params: KvParams,
): Promise<KvContender> {
  const random = new Random(params.seed);
  const store = await openContender(contender, directory, 'none');
  await fill(store, randomOrder(params.n, random), params, random);
  await store.settle();
  await store.close();
  return openContender(contender, directory, 'none');
}

/** Looks up `count` keys (index drawn by `pick`) one after another; returns [ms, found]. */
async function timeGets(
  store: KvContender,
  count: number,
  pick: () => number,
): Promise<{ ms: number; found: number; span: PhaseSpan }> {
  const key = Buffer.allocUnsafe(KEY_BYTES);
  let found = 0;
  const startUs = monotonicMicros();
  for (let n = 0; n < count; n++) {
    writeKey(key, 0, pick());
    const result = store.get(key);
    const value = isPromise(result) ? await result : result;
    if (value !== undefined) found++;
  }
  const endUs = monotonicMicros();
  return { ms: (endUs - startUs) / 1000, found, span: { startUs, endUs } };
}

/** W5: on the W2 store, N random gets of existing keys, then N/10 gets of missing keys. */
export async function runGets(
  contender: string,
  directory: string,
  params: KvParams,
): Promise<WorkerOutput> {
  const store = await prepareW2Store(contender, directory, params);
  const random = new Random(params.seed ^ 0x5bd1e995);
  const hits = await timeGets(store, params.n, () => 2 * random.below(params.n));
  const missCount = Math.floor(params.n / 10);
  // Odd indexes sit between stored keys: missing, inside the key range.
  const misses = await timeGets(store, missCount, () => 2 * random.below(params.n - 1) + 1);
  await store.close();
  if (hits.found !== params.n)
    throw new Error(`${contender}: ${params.n - hits.found} hits missing`);
  if (misses.found !== 0) throw new Error(`${contender}: ${misses.found} missing keys found`);
  return {
    metrics: {
      getHitOpsPerSec: params.n / (hits.ms / 1000),
      getMissOpsPerSec: missCount / (misses.ms / 1000),
    },
    phases: { hits: hits.span, misses: misses.span },
  };
}

/** W6: on the W2 store, one full forward scan, then N/100 range scans of 100 keys. */
export async function runScans(
  contender: string,
  directory: string,
  params: KvParams,
): Promise<WorkerOutput> {
  const store = await prepareW2Store(contender, directory, params);
  const scanStart = monotonicMicros();
  const items = await store.scanAll();
  const scanEnd = monotonicMicros();
  if (items !== params.n) throw new Error(`${contender}: full scan read ${items} of ${params.n}`);
  const random = new Random(params.seed ^ 0x27d4eb2f);
  const scans = Math.floor(params.n / 100);
  let read = 0;
  const rangeStart = monotonicMicros();
  for (let n = 0; n < scans; n++) {
    read += await store.scanFrom(keyOf(2 * random.below(params.n - 100)), 100);
  }
  const rangeEnd = monotonicMicros();
  await store.close();
  if (read !== scans * 100) throw new Error(`${contender}: range scans read ${read} items`);
  return {
    metrics: {
      scanItemsPerSec: items / ((scanEnd - scanStart) / 1e6),
      rangeScansPerSec: scans / ((rangeEnd - rangeStart) / 1e6),
    },
    phases: {
      fullScan: { startUs: scanStart, endUs: scanEnd },
      rangeScans: { startUs: rangeStart, endUs: rangeEnd },
    },
  };
}

/** Opens the store and reads one key; returns the times and whether the key was there. */
async function openAndRead(
  contender: string,
  directory: string,
  key: Buffer,
): Promise<{ store: KvContender; openMs: number; firstReadMs: number; found: boolean }> {
  const start = nowMs();
  const store = await openContender(contender, directory, 'none');
  const opened = nowMs();
  const result = store.get(key);
  const value = isPromise(result) ? await result : result;
  const read = nowMs();
  return { store, openMs: opened - start, firstReadMs: read - start, found: value !== undefined };
}

/** What the crash writer prints once its writes are accepted: the marker, then JSON. */
export const CRASH_READY = 'CRASH_WRITER_READY ';

/**
 * W7: the W2 store closed and reopened (time to first read); then a writer process adds N/10
 * entries in batches without fsync and is killed with SIGKILL before it closes, and this process
 * times open + first read (of the last key written). For Strata's store, recovered entries per
 * second = log entries replayed / open time. The engine alone has no log: no crash half.
 */
export async function runReopen(
  contender: string,
  directory: string,
  params: KvParams,
  workerPath: string,
): Promise<WorkerOutput> {
  const random = new Random(params.seed);
  const store = await openContender(contender, directory, 'none');
  await fill(store, randomOrder(params.n, random), params, random);
  await store.settle();
  await store.close();
  const clean = await openAndRead(contender, directory, keyOf(2 * random.below(params.n)));
  await clean.store.close();
  if (!clean.found) throw new Error(`${contender}: key missing after a clean reopen`);
  const metrics: Record<string, number> = {
    reopenMs: clean.firstReadMs,
    reopenOpenMs: clean.openMs,
  };
  if (contender === 'strata-engine') return { metrics };

  const crashCount = Math.floor(params.n / 10);
  const written = await runCrashWriter(workerPath, {
    contender,
    directory,
    first: params.n,
    count: crashCount,
    batch: params.batch,
    seed: params.seed,
  });
  const lastKey = keyOf(2 * (params.n + crashCount - 1));
  const recovered = await openAndRead(contender, directory, lastKey);
  const after = recovered.store.extraMetrics?.() ?? {};
  await recovered.store.close();
  metrics.recoveryMs = recovered.firstReadMs;
  metrics.recoveryOpenMs = recovered.openMs;
  metrics.lastWriteRecovered = recovered.found ? 1 : 0;
  if (written.lastSeqno !== undefined && after.lastSeqno !== undefined) {
    const replayed = after.lastSeqno - (written.firstSeqno ?? 0);
    metrics.replayedEntries = replayed;
    metrics.lostEntries = written.lastSeqno - after.lastSeqno;
    metrics.recoveredEntriesPerSec = replayed / (recovered.openMs / 1000);
  }
  return { metrics };
}

/** What a crash writer reports before it is killed. */
interface CrashWriterReport {
  /** Strata: the last seqno before its writes, and after them. */
  readonly firstSeqno?: number;
  readonly lastSeqno?: number;
}

/** Parameters of the crash writer process. */
export interface CrashWriterRequest {
  readonly contender: string;
  readonly directory: string;
  readonly first: number;
  readonly count: number;
  readonly batch: number;
  readonly seed: number;
}

/** Starts the crash writer, waits until its writes are accepted, kills it with SIGKILL. */
function runCrashWriter(
  workerPath: string,
  request: CrashWriterRequest,
): Promise<CrashWriterReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', workerPath, '--crash-writer', JSON.stringify(request)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let report: CrashWriterReport | undefined;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((candidate) => candidate.startsWith(CRASH_READY));
      if (line !== undefined && report === undefined && stdout.endsWith('\n')) {
        report = JSON.parse(line.slice(CRASH_READY.length)) as CrashWriterReport;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (report !== undefined && signal === 'SIGKILL') resolve(report);
      else reject(new Error(`crash writer ended with ${code ?? signal}\n${stderr}`));
    });
  });
}

/** The body of the crash writer process: writes, reports, then waits to be killed. */
export async function crashWriterMain(request: CrashWriterRequest): Promise<void> {
  const store = await openContender(request.contender, request.directory, 'none');
  const firstSeqno = store.extraMetrics?.().lastSeqno;
  const random = new Random(request.seed ^ 0x68e31da4);
  const order = new Uint32Array(request.count);
  for (let index = 0; index < request.count; index++) order[index] = request.first + index;
  for (let from = 0; from < request.count; from += request.batch) {
    const { keys, values } = makeBatch(
      order,
      from,
      Math.min(request.count, from + request.batch),
      random,
    );
    await store.writeBatch(keys, values);
  }
  const lastSeqno = store.extraMetrics?.().lastSeqno;
  process.stdout.write(`${CRASH_READY}${JSON.stringify({ firstSeqno, lastSeqno })}\n`);
  // Keep the store open (nothing flushed, nothing closed) until the parent kills this process.
  setInterval(() => undefined, 60_000);
}

/** Absolute path of this suite's worker module. */
export const KV_WORKER_PATH = fileURLToPath(new URL('./worker.ts', import.meta.url));
