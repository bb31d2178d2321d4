import { StrataError } from '@strata/core';
import type { Tree } from '@strata/engine';
import { prefixUpperBound, toBytes } from '../input.js';
import type { BytesLike } from '../input.js';
import type { HistoryWindow } from './history-window.js';
import { StoreIterator } from './store-iterator.js';

/** Read options: `at` reads the state as of that seqno (inclusive). */
export interface ReadOptions {
  readonly at?: number;
}

/**
 * Options of {@link Store.range}. Bounds: `start` inclusive, `end` exclusive; absent: no bound. The
 * empty key is the smallest key: `start: ''` (or no start) includes it, `end: ''` excludes every
 * key, and the empty prefix matches every key.
 */
export interface RangeOptions extends ReadOptions {
  readonly prefix?: BytesLike;
  readonly start?: BytesLike;
  readonly end?: BytesLike;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/**
 * Opens a range read of `tree` at the seqno `options.at` names (the latest applied state by
 * default): the narrower of the prefix's bounds and `start`/`end`, in key order or reverse, up
 * to `limit` items. An empty range opens no engine iterator.
 *
 * @throws StrataError at once (not on the first read): `INVALID_ARGUMENT` for a bad limit, `at`
 * or bound, `HISTORY_TRUNCATED` for an `at` below the history window.
 */
export function openRange(
  tree: Tree,
  history: HistoryWindow,
  options: RangeOptions,
): StoreIterator {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0))
    throw new StrataError('INVALID_ARGUMENT', 'limit must be a non-negative number');
  const readSeqno = history.readSeqno(options.at);
  const reverse = options.reverse === true;
  let lower: Buffer | undefined;
  let upper: Buffer | undefined;
  if (options.prefix !== undefined) {
    lower = toBytes(options.prefix, 'key');
    upper = prefixUpperBound(lower);
  }
  if (options.start !== undefined) {
    const start = toBytes(options.start, 'key');
    if (lower === undefined || Buffer.compare(start, lower) > 0) lower = start;
  }
  if (options.end !== undefined) {
    const end = toBytes(options.end, 'key');
    if (upper === undefined || Buffer.compare(end, upper) < 0) upper = end;
  }
  const empty =
    limit === 0 ||
    (lower !== undefined && upper !== undefined && Buffer.compare(lower, upper) >= 0);
  if (empty) return new StoreIterator(undefined, reverse, 0);
  const source = tree.range(
    // An empty `lower` is the empty key (a bound that includes it), not "no bound".
    {
      ...(lower !== undefined ? { gte: lower } : {}),
      ...(upper !== undefined ? { lt: upper } : {}),
    },
    readSeqno,
  );
  return new StoreIterator(source, reverse, limit);
}
