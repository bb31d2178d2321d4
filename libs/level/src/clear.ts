import type { BatchOperation, Store, StoreSnapshot } from '@strata/store';
import { keyBuffer, storeBounds } from './range-bounds.js';
import type { LevelRange } from './range-bounds.js';

/** What `_clear` receives: a range, a direction and a limit (-1 for none), maybe a snapshot. */
export interface ClearRequest extends LevelRange {
  readonly reverse: boolean;
  readonly limit: number;
}

/** Keys deleted per log record when a clear deletes key by key. */
const KEYS_PER_BATCH = 1000;

const EMPTY = Buffer.alloc(0);

/**
 * abstract-level's `clear()` on the store, as few log entries as it can:
 *
 * - no limit, no snapshot, an upper bound (every sublevel's clear): one batch holding one range
 *   delete `[start, end)` (and the delete of an inclusive `lte` key), one log record;
 * - no limit, no snapshot, no upper bound (`db.clear()`): the store has no range delete without
 *   an end key, so the clear finds the last key in the range (a read of one key at the state
 *   when `clear()` was called) and deletes `[start, last key]` the same way: one log record, and
 *   keys written after the clear's read sort after it or are deleted with the range;
 * - a `limit` or an explicit snapshot: only those keys (the first `limit` in the asked order, or
 *   the snapshot's keys), read in chunks and deleted key by key, one batch per chunk.
 *
 * A bound the store could not take as a key (a `gt` of the longest key, extended by one byte; an
 * upper bound beyond the key limit) takes the key-by-key path too.
 */
export async function clearRange(
  store: Store,
  request: ClearRequest,
  snapshot: StoreSnapshot | undefined,
  maxKeyBytes: number,
): Promise<void> {
  const bounds = storeBounds(request);
  const start = bounds.start ?? EMPTY;
  if (snapshot === undefined && request.limit < 0 && start.length <= maxKeyBytes) {
    // The inclusive bound wins when both are given (see storeBounds).
    const upperKey = request.lte ?? request.lt;
    if (upperKey !== undefined) {
      const upper = keyBuffer(upperKey);
      if (upper.length <= maxKeyBytes) {
        await deleteUpTo(store, start, upper, request.lte !== undefined);
        return;
      }
      return deleteKeyByKey(store, snapshot, bounds, request);
    }
    // The read is opened now, so it sees the state when clear() was called.
    const last = await store.range({ start, reverse: true, limit: 1 }).all();
    if (last.length === 0) return;
    await deleteUpTo(store, start, Buffer.from((last[0] as { key: Buffer }).key), true);
    return;
  }
  await deleteKeyByKey(store, snapshot, bounds, request);
}

/** Deletes `[start, upper)`, and `upper` itself when `inclusive`, with one batch. */
async function deleteUpTo(
  store: Store,
  start: Buffer,
  upper: Buffer,
  inclusive: boolean,
): Promise<void> {
  const order = Buffer.compare(start, upper);
  const operations: BatchOperation[] = [];
  if (order < 0) operations.push({ type: 'deleteRange', start, end: upper });
  if (inclusive && order <= 0) operations.push({ type: 'delete', key: upper });
  if (operations.length > 0) await store.batch(operations);
}

async function deleteKeyByKey(
  store: Store,
  snapshot: StoreSnapshot | undefined,
  bounds: { start?: Buffer; end?: Buffer },
  request: ClearRequest,
): Promise<void> {
  const options = {
    ...bounds,
    reverse: request.reverse,
    ...(request.limit >= 0 ? { limit: request.limit } : {}),
  };
  const range = snapshot === undefined ? store.range(options) : snapshot.range(options);
  try {
    for (;;) {
      const chunk = await range.nextv(KEYS_PER_BATCH);
      if (chunk.length === 0) return;
      await store.batch(chunk.map((item) => ({ type: 'delete', key: Buffer.from(item.key) })));
    }
  } finally {
    range.close();
  }
}
