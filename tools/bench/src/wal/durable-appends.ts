import { quantile } from '../runner/stats.js';
import type { WorkerOutput } from '../runner/types.js';
import { monotonicMicros } from '../runner/worker-protocol.js';
import type { WalContender } from './contender.js';
import { makeKeys, makeValues } from './payload.js';

/** Parameters of {@link runDurableAppends}. */
export interface DurableAppendsParams {
  /** Concurrent writers, each awaiting its append before the next. */
  readonly writers: number;
  /** Appends in the measured part (all writers together). */
  readonly ops: number;
  /** The measured part stops early after this long. */
  readonly maxDurationMs: number;
  /** Unmeasured appends first (opens files, warms the JIT). */
  readonly warmupOps: number;
}

/**
 * Durable single-entry appends (16-byte key, 100-byte value) from `writers` concurrent writers.
 * Reports ops/s and the p50/p99 latency of one append as its writer sees it.
 */
export async function runDurableAppends(
  store: WalContender,
  params: DurableAppendsParams,
): Promise<WorkerOutput> {
  const keys = makeKeys(0, params.warmupOps + params.ops);
  const values = makeValues(1024);
  const valueAt = (index: number): Buffer => values[index & 1023] as Buffer;

  let next = 0;
  const warmup = async (): Promise<void> => {
    while (next < params.warmupOps) {
      const index = next++;
      await store.putDurable(keys[index] as Buffer, valueAt(index));
    }
  };
  await Promise.all(Array.from({ length: params.writers }, warmup));

  const latenciesUs = new Float64Array(params.ops);
  const end = params.warmupOps + params.ops;
  let completed = 0;
  const startMs = performance.now();
  const deadlineMs = startMs + params.maxDurationMs;
  const writer = async (): Promise<void> => {
    while (next < end && performance.now() < deadlineMs) {
      const index = next++;
      const beforeMs = performance.now();
      await store.putDurable(keys[index] as Buffer, valueAt(index));
      latenciesUs[completed++] = (performance.now() - beforeMs) * 1000;
    }
  };
  const startUs = monotonicMicros();
  await Promise.all(Array.from({ length: params.writers }, writer));
  const endUs = monotonicMicros();
  const elapsedMs = performance.now() - startMs;
  const measured = latenciesUs.subarray(0, completed);
  return {
    metrics: {
      opsPerSec: completed / (elapsedMs / 1000),
      p50Us: quantile(measured, 0.5),
      p99Us: quantile(measured, 0.99),
      ops: completed,
      durationMs: elapsedMs,
    },
    phases: { measure: { startUs, endUs } },
  };
}
