import type { TreeIterator } from '@strata/engine';

/** One item of a range read. */
export interface RangeItem {
  readonly key: Buffer;
  readonly value: Buffer;
  /** Seqno of the write that set this value. */
  readonly seqno: number;
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
 * await` loop closes it when left early).
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

  /** @internal The store builds iterators; `source` undefined is an empty range. */
  constructor(
    source: TreeIterator | undefined,
    private readonly reverse: boolean,
    limit: number,
  ) {
    this.source = source;
    this.remaining = limit;
    if (limit <= 0) this.close();
  }

  /** The next item, or `undefined` at the end. */
  async next(): Promise<RangeItem | undefined> {
    if (this.position === this.buffered.length) {
      this.buffered = await this.fetch(CHUNK_ITEMS);
      this.position = 0;
    }
    return this.position < this.buffered.length ? this.buffered[this.position++] : undefined;
  }

  /** Up to `max` next items (fewer only at the end; an empty array once the range is done). */
  async nextv(max: number): Promise<RangeItem[]> {
    if (this.position < this.buffered.length) {
      const end = Math.min(this.buffered.length, this.position + max);
      const items = this.buffered.slice(this.position, end);
      this.position = end;
      return items;
    }
    return this.fetch(max);
  }

  /** Every remaining item. */
  async all(): Promise<RangeItem[]> {
    const items = await this.nextv(Number.POSITIVE_INFINITY);
    for (;;) {
      const chunk = await this.fetch(4096);
      if (chunk.length === 0) return items;
      for (const item of chunk) items.push(item);
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

  /** Releases the engine files this read pins; the iterator then yields nothing more. */
  close(): void {
    const source = this.source;
    this.source = undefined;
    this.buffered = [];
    this.position = 0;
    source?.close();
  }

  private async fetch(max: number): Promise<RangeItem[]> {
    const source = this.source;
    const wanted = Math.min(max, this.remaining);
    if (source === undefined || !(wanted > 0)) {
      this.close();
      return [];
    }
    // The engine reads in memory without a promise per item; bound a chunk so an unbounded
    // `all()` does not ask for everything at once.
    const asked = Math.min(wanted, 4096);
    let chunk: RangeItem[];
    try {
      chunk = this.reverse ? await source.nextBackChunk(asked) : await source.nextChunk(asked);
    } catch (error) {
      this.close();
      throw error;
    }
    this.remaining -= chunk.length;
    if (chunk.length < asked || this.remaining <= 0) this.close();
    return chunk;
  }
}
