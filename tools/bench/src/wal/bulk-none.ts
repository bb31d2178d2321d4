import type { WorkerOutput } from '../runner/types.js';
import { monotonicMicros } from '../runner/worker-protocol.js';
import type { WalContender } from './contender.js';
import { ENTRY_USER_BYTES, makeKeys, makeValues } from './payload.js';

/** Parameters of {@link runBulkNone}. */
export interface BulkNoneParams {
  readonly batches: number;
  readonly batchEntries: number;
  /** Unmeasured batches first. */
  readonly warmupBatches: number;
}

/**
 * Batches of `batchEntries` puts without fsync, each awaited before the next. Reports the user
 * payload rate (keys + values, MB = 10^6 bytes) and entries/s.
 */
export async function runBulkNone(
  store: WalContender,
  params: BulkNoneParams,
): Promise<WorkerOutput> {
  const total = params.warmupBatches + params.batches;
  const keys = makeKeys(0, total * params.batchEntries);
  const values = makeValues(1024);
  const batchValues = Array.from(
    { length: params.batchEntries },
    (_, index) => values[index & 1023] as Buffer,
  );
  const batchKeys = (batch: number): Buffer[] =>
    keys.slice(batch * params.batchEntries, (batch + 1) * params.batchEntries);

  for (let batch = 0; batch < params.warmupBatches; batch++)
    await store.writeBatch(batchKeys(batch), batchValues);
  const prepared = Array.from({ length: params.batches }, (_, index) =>
    batchKeys(params.warmupBatches + index),
  );

  const startUs = monotonicMicros();
  const startMs = performance.now();
  for (const batch of prepared) await store.writeBatch(batch, batchValues);
  const elapsedMs = performance.now() - startMs;
  const endUs = monotonicMicros();
  const entries = params.batches * params.batchEntries;
  return {
    metrics: {
      userMBPerSec: (entries * ENTRY_USER_BYTES) / 1e6 / (elapsedMs / 1000),
      entriesPerSec: entries / (elapsedMs / 1000),
      durationMs: elapsedMs,
    },
    phases: { measure: { startUs, endUs } },
  };
}
