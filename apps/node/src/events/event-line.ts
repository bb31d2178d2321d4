import { LogOp } from '@strata/wal';
import type { LogBatch } from '@strata/wal';
import { encodeJsonBytes } from '../http/encoding.js';
import type { JsonEncoding } from '../http/encoding.js';

/** Which entries of the log an event reader wants. */
export interface EventFilter {
  /** First seqno (inclusive). */
  readonly from: number;
  /** Last seqno (inclusive). */
  readonly to: number;
  readonly prefix?: Uint8Array | undefined;
  readonly encoding: JsonEncoding;
}

/**
 * The NDJSON lines of one log batch (one per entry, each ending in `\n`), as `GET /v1/events`
 * and `strata replay` print them: `{"seqno","epoch","type","key","value","timestamp"}`, `type`
 * `put`, `delete` (`value` null), `delete-range` or `epoch-start` (a new leader's first record:
 * empty key, `value` null), `timestamp` in milliseconds since the Unix epoch. A put with a time
 * to live adds `"expiresAt"` (its deadline, ms since the Unix epoch); the delete the leader wrote
 * because a key's time to live ended adds `"expired": true`.
 */
export function eventLines(batch: LogBatch, filter: EventFilter): string {
  let out = '';
  for (let index = 0; index < batch.entries.length; index++) {
    const seqno = batch.firstSeqno + index;
    if (seqno < filter.from) continue;
    if (seqno > filter.to) break;
    const entry = batch.entries[index]!;
    if (filter.prefix && !startsWith(entry.key, filter.prefix)) continue;
    const type = EVENT_TYPES[entry.op];
    out +=
      JSON.stringify({
        seqno,
        epoch: batch.epoch,
        type,
        key: encodeJsonBytes(entry.key, filter.encoding),
        value:
          entry.op === LogOp.Put || entry.op === LogOp.DeleteRange
            ? encodeJsonBytes(entry.value, filter.encoding)
            : null,
        timestamp: batch.timestampMs,
        ...(entry.expiresAtMs ? { expiresAt: entry.expiresAtMs } : {}),
        ...(entry.expired === true ? { expired: true } : {}),
      }) + '\n';
  }
  return out;
}

const EVENT_TYPES: Record<LogOp, string> = {
  [LogOp.Put]: 'put',
  [LogOp.Delete]: 'delete',
  [LogOp.DeleteRange]: 'delete-range',
  [LogOp.EpochStart]: 'epoch-start',
};

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++)
    if (key[index] !== prefix[index]) return false;
  return true;
}
