import { StrataError } from '@strata/core';
import type { KeyRange, Snapshot, Tree, TreeIterator } from '@strata/engine';
import { toBytes } from '../input.js';
import type { BytesLike } from '../input.js';

/** One item of a range read. */
export interface RangeItem {
  readonly key: Buffer;
  readonly value: Buffer;
  /** Seqno of the write that set this value. */
  readonly seqno: number;
}

/**
 * @internal What a range read reads: a tree at one engine read seqno (entries below it), between
 * `lower` (inclusive) and `upper` (exclusive), either absent for no bound.
 */
export interface RangeView {
  readonly tree: Tree;
  readonly readSeqno: number;
  readonly lower: Buffer | undefined;
  readonly upper: Buffer | undefined;
}

/** @internal How a range read behaves besides its range (see `RangeOptions`). */
export interface IteratorBehaviour {
  readonly seekable?: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** Items fetched per engine call when the caller does not say how many it wants. */
const CHUNK_ITEMS = 256;

/**
 * A range read of a {@link Store}: one consistent view (the seqno it was opened at), in key order
 * or reverse, up to a limit. Iterate it with `for await`, or take items in chunks with
 * {@link nextv} / {@link all}, which cost one promise per chunk instead of one per item (like
 * abstract-level's iterators).
 *
 * It pins the engine files it reads from until it ends: drain it, or call {@link close} (a `for
 * await` loop closes it when left early; {@link all} closes it). A range opened with `seekable`
 * keeps its view after its end, for {@link seek}, until {@link close}. A range opened with a
 * `signal` rejects its pending and later reads with `ABORTED` once the signal
 * aborts, and releases what it pins.
 *
 * @example
 * ```ts
 * const page = await store.range({ prefix: 'user/', limit: 100 }).all();
 * for await (const { key, value } of store.range({ start: 'a', end: 'b' })) use(key, value);
 * ```
 */
export class StoreIterator implements AsyncIterable<RangeItem> {
  private source: TreeIterator | undefined;
  private remaining: number;
  private buffered: RangeItem[] = [];
  private position = 0;
  /** A seekable iterator's engine snapshot: keeps the versions of its view until `close`. */
  private pin: Snapshot | undefined;
  private readonly seekable: boolean;
  private closed = false;
  /** An engine read is in flight: releasing the source waits for it. */
  private reading = false;
  private rejectPending: ((error: Error) => void) | undefined;
  private abortError: StrataError | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => this.abort();

  /** @internal The store builds iterators; `view` undefined is an empty range. */
  constructor(
    private readonly view: RangeView | undefined,
    private readonly reverse: boolean,
    limit: number,
    behaviour: IteratorBehaviour = {},
  ) {
    this.remaining = limit;
    this.seekable = behaviour.seekable === true;
    this.signal = behaviour.signal;
    if (view !== undefined && limit > 0) {
      // Both taken in the same tick, at the same seqno: the snapshot keeps what the source shows.
      this.source = view.tree.range(boundsOf(view.lower, view.upper), view.readSeqno);
      if (this.seekable) this.pin = view.tree.snapshot(view.readSeqno);
    }
    if (this.signal?.aborted) this.abort();
    else this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The next item, or `undefined` at the end. */
  async next(): Promise<RangeItem | undefined> {
    this.throwIfAborted();
    if (this.position === this.buffered.length) {
      this.buffered = await this.fetch(CHUNK_ITEMS);
      this.position = 0;
    }
    return this.position < this.buffered.length ? this.buffered[this.position++] : undefined;
  }

  /** Up to `max` next items (fewer only at the end; an empty array once the range is done). */
  async nextv(max: number): Promise<RangeItem[]> {
    this.throwIfAborted();
    if (this.position < this.buffered.length) {
      const end = Math.min(this.buffered.length, this.position + max);
      const items = this.buffered.slice(this.position, end);
      this.position = end;
      return items;
    }
    return this.fetch(max);
  }

  /** Every remaining item; then closes the iterator. */
  async all(): Promise<RangeItem[]> {
    try {
      const items = await this.nextv(Number.POSITIVE_INFINITY);
      for (;;) {
        const chunk = await this.fetch(4096);
        if (chunk.length === 0) return items;
        for (const item of chunk) items.push(item);
      }
    } finally {
      this.close();
    }
  }

  /**
   * Moves to the first key at or after `target` (reverse: at or before it), within the range's
   * bounds and at the range's seqno; items taken before count against the limit. Only a range
   * opened with `seekable: true` can seek; after {@link close} it does nothing.
   *
   * @throws StrataError `INVALID_ARGUMENT` for a range opened without `seekable`, or while a
   * read is in flight.
   */
  seek(target: BytesLike): void {
    if (this.closed) return;
    if (!this.seekable) {
      throw new StrataError('INVALID_ARGUMENT', 'open the range with seekable: true to seek in it');
    }
    if (this.reading)
      throw new StrataError('INVALID_ARGUMENT', 'cannot seek while a read is in flight');
    const key = toBytes(target, 'key');
    this.source?.close();
    this.source = undefined;
    this.buffered = [];
    this.position = 0;
    const view = this.view;
    if (view === undefined || !(this.remaining > 0)) return;
    const { lower, upper } = view;
    if (this.reverse) {
      if (lower !== undefined && Buffer.compare(key, lower) < 0) return;
      const range: KeyRange =
        upper === undefined || Buffer.compare(key, upper) < 0
          ? { ...(lower !== undefined ? { gte: lower } : {}), lte: key }
          : boundsOf(lower, upper);
      this.source = view.tree.range(range, view.readSeqno);
    } else {
      const from = lower === undefined || Buffer.compare(key, lower) > 0 ? key : lower;
      if (upper !== undefined && Buffer.compare(from, upper) >= 0) return;
      this.source = view.tree.range(boundsOf(from, upper), view.readSeqno);
    }
  }

  /** Iterates the remaining items; leaving the loop early closes the iterator. */
  async *[Symbol.asyncIterator](): AsyncGenerator<RangeItem, void, undefined> {
    try {
      for (;;) {
        const chunk = await this.nextv(CHUNK_ITEMS);
        if (chunk.length === 0) return;
        for (const item of chunk) yield item;
      }
    } finally {
      this.close();
    }
  }

  /** Releases what this read pins (engine files, a seekable view); it then yields nothing more. */
  close(): void {
    this.closed = true;
    this.buffered = [];
    this.position = 0;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (!this.reading) this.release();
  }

  private release(): void {
    const source = this.source;
    const pin = this.pin;
    this.source = undefined;
    this.pin = undefined;
    source?.close();
    pin?.close();
  }

  /** The end of the range: a seekable read keeps its view for `seek`, any other read closes. */
  private reachedEnd(): void {
    if (!this.seekable) {
      this.close();
      return;
    }
    this.source?.close();
    this.source = undefined;
  }

  private abort(): void {
    const reason: unknown = this.signal?.reason;
    this.abortError = new StrataError('ABORTED', 'the range read was aborted', { cause: reason });
    this.rejectPending?.(this.abortError);
    this.rejectPending = undefined;
    this.close();
  }

  /** `read`, or a rejection with the abort error as soon as the signal aborts. */
  private untilAborted(read: Promise<RangeItem[]>): Promise<RangeItem[]> {
    return new Promise<RangeItem[]>((resolve, reject) => {
      this.rejectPending = reject;
      read.then(resolve, reject);
    });
  }

  /** The engine read is done: a close that came meanwhile releases now. */
  private readonly finishRead = (): void => {
    this.reading = false;
    this.rejectPending = undefined;
    if (this.closed) this.release();
  };

  private throwIfAborted(): void {
    if (this.abortError !== undefined) throw this.abortError;
  }

  private async fetch(max: number): Promise<RangeItem[]> {
    this.throwIfAborted();
    const source = this.source;
    const wanted = Math.min(max, this.remaining);
    if (source === undefined || !(wanted > 0)) {
      if (!this.closed) this.reachedEnd();
      return [];
    }
    // The engine reads in memory without a promise per item; bound a chunk so an unbounded
    // `all()` does not ask for everything at once.
    const asked = Math.min(wanted, 4096);
    this.reading = true;
    const read = this.reverse ? source.nextBackChunk(asked) : source.nextChunk(asked);
    let chunk: RangeItem[];
    try {
      chunk = this.signal === undefined ? await read : await this.untilAborted(read);
    } catch (error) {
      // An abort rejects at once, but the engine read goes on: release once it is done.
      if (error === this.abortError) void read.then(this.finishRead, this.finishRead);
      else {
        this.finishRead();
        this.close();
      }
      throw error;
    }
    this.finishRead();
    // Closed while the engine read: hand back nothing.
    if (this.closed) return [];
    this.remaining -= chunk.length;
    if (chunk.length < asked || this.remaining <= 0) this.reachedEnd();
    return chunk;
  }
}

/** The engine range of `[lower, upper)`, either bound absent for none (the empty key is a bound). */
function boundsOf(lower: Buffer | undefined, upper: Buffer | undefined): KeyRange {
  return {
    ...(lower !== undefined ? { gte: lower } : {}),
    ...(upper !== undefined ? { lt: upper } : {}),
  };
}
