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
 * `put` or `delete` (`value` null), `timestamp` in milliseconds since the Unix epoch.
 */
export function eventLines(batch: LogBatch, filter: EventFilter): string {
  let out = '';
  for (let index = 0; index < batch.entries.length; index++) {
    const seqno = batch.firstSeqno + index;
    if (seqno < filter.from) continue;
    if (seqno > filter.to) break;
    const entry = batch.entries[index]!;
    if (filter.prefix && !startsWith(entry.key, filter.prefix)) continue;
    const type =
      entry.op === LogOp.Put ? 'put' : entry.op === LogOp.Delete ? 'delete' : 'delete-range';
    out +=
      JSON.stringify({
        seqno,
        epoch: batch.epoch,
        type,
        key: encodeJsonBytes(entry.key, filter.encoding),
        value: entry.op === LogOp.Delete ? null : encodeJsonBytes(entry.value, filter.encoding),
        timestamp: batch.timestampMs,
      }) + '\n';
  }
  return out;
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++)
    if (key[index] !== prefix[index]) return false;
  return true;
}
