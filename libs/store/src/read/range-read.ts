import { StrataError } from '@strata/core';
import type { Tree } from '@strata/engine';
import { prefixUpperBound, toBytes } from '../input.js';
import type { BytesLike } from '../input.js';
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
  /**
   * Keep the read's view (its seqno, its bounds) until `close()`, even after its end, so that
   * `seek()` can move in it. Costs an engine snapshot held until `close()`: close such a read.
   */
  readonly seekable?: boolean;
  /**
   * Aborts the read: its pending and later reads reject with `ABORTED` (the signal's reason as
   * `cause`), and what it pins is released.
   */
  readonly signal?: AbortSignal;
}

/**
 * Opens a range read of `tree` at engine read seqno `readSeqno` (entries below it; the caller
 * resolves `options.at`): the narrower of the prefix's bounds and `start`/`end`, in key order or reverse, up
 * to `limit` items. An empty range opens no engine iterator.
 *
 * @throws StrataError at once (not on the first read): `INVALID_ARGUMENT` for a bad limit,
 * bound or signal.
 */
export function openRange(tree: Tree, readSeqno: number, options: RangeOptions): StoreIterator {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0))
    throw new StrataError('INVALID_ARGUMENT', 'limit must be a non-negative number');
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new StrataError('INVALID_ARGUMENT', 'signal must be an AbortSignal');
  }
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
  // An empty range opens no engine iterator (and a seek in it finds nothing).
  const view = empty ? undefined : { tree, readSeqno, lower, upper };
  return new StoreIterator(view, reverse, limit, { seekable: options.seekable === true, signal });
}
