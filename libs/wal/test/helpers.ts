import { LogOp } from '../src/index.js';
import type { LogBatchInput, LogEntry, Wal } from '../src/index.js';

/** A put entry with UTF-8 key and value. */
export function put(key: string, value: string): LogEntry {
  return { op: LogOp.Put, key: Buffer.from(key), value: Buffer.from(value) };
}

/** A batch of `count` puts starting at `firstSeqno`, keys `k<seqno>`, values `v<seqno>`. */
export function batchAt(
  firstSeqno: number,
  count = 1,
  epoch = 1,
  valuePadding = '',
): LogBatchInput {
  const entries: LogEntry[] = [];
  for (let index = 0; index < count; index++) {
    const seqno = firstSeqno + index;
    entries.push(put(`k${seqno}`, `v${seqno}${valuePadding}`));
  }
  return { epoch, firstSeqno, timestampMs: 1_700_000_000_000 + firstSeqno, entries };
}

/** Every batch in the log as `[firstSeqno, lastSeqno, keys...]` for compact comparisons. */
export async function readAll(
  wal: Wal,
  fromSeqno?: number,
  toSeqno?: number,
): Promise<{ firstSeqno: number; keys: string[] }[]> {
  const out: { firstSeqno: number; keys: string[] }[] = [];
  for await (const batch of wal.read({ fromSeqno, toSeqno })) {
    out.push({
      firstSeqno: batch.firstSeqno,
      keys: batch.entries.map((entry) => Buffer.from(entry.key).toString()),
    });
  }
  return out;
}

/**
 * Resolves once `condition()` holds, checking every `intervalMs`. Rejects, naming `description`,
 * if it still does not hold after `timeoutMs`: the deadline only bounds how long a broken build
 * waits, it is not a timing assertion.
 */
export async function waitUntil(
  condition: () => boolean,
  description: string,
  { timeoutMs = 10_000, intervalMs = 2 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export { rejectionOf } from '@strata/testing';
