import type { KeyValue } from '../entry.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';
import type { TombstoneCoverage } from '../range-tombstones/coverage.js';
import { compareKeys, equalKeys, readU64 } from '../util/bytes.js';
import type { Cursor, Direction, SeekBound } from './cursor.js';
import { NEEDS_IO } from './cursor.js';

/** Bounds of a key range; each side optional, inclusive (`gte`/`lte`) or exclusive (`gt`/`lt`). */
export interface KeyRange {
  readonly gte?: Uint8Array;
  readonly gt?: Uint8Array;
  readonly lte?: Uint8Array;
  readonly lt?: Uint8Array;
}

/** A range resolved to seek bounds. */
export interface ResolvedRange {
  readonly lower: SeekBound | undefined;
  readonly upper: SeekBound | undefined;
}

/** Builds the cursors a direction needs (memtables and segments), bound to a pinned view. */
export type CursorFactory = (direction: Direction) => Cursor;

/**
 * The range tombstones an iterator honours, built before its first step: {@link ready} builds
 * them when nothing must be read, {@link load} reads what is missing first.
 */
export interface TombstoneSource {
  ready(): boolean;
  load(): Promise<void>;
  coverage(): TombstoneCoverage;
}

const IO = Symbol('io');

/**
 * One direction of visible entries: the merged versions reduced to the newest version below the
 * read seqno per key, tombstones hidden (point tombstones, expiring values whose deadline is at or
 * before the iterator's instant, and versions older than a range tombstone covering their key),
 * stopping at the far bound. An unexpired expiring value shows without its deadline prefix.
 */
class VisibleStream {
  private started = false;
  private blocked = false;
  /** Blocked on loading the range tombstones (not on the cursor). */
  private loadingTombstones = false;
  private coverage: TombstoneCoverage | undefined;
  private finished = false;
  private groupKey: Buffer | undefined;
  private found = false;
  private foundKind = 0;
  private foundSeqno = 0;
  private foundValue: Buffer | undefined;
  private readonly forward: boolean;

  constructor(
    private readonly cursor: Cursor,
    direction: Direction,
    private readonly readSeqno: number,
    private readonly farBound: SeekBound | undefined,
    private readonly tombstones: TombstoneSource | undefined,
    private readonly nowMs: number,
  ) {
    this.forward = direction === 'forward';
  }

  /** The next pair, `undefined` at the end, or IO when `resume` must be awaited first. */
  step(): KeyValue | undefined | typeof IO {
    if (this.finished) return undefined;
    if (this.blocked) return IO;
    const cursor = this.cursor;
    if (!this.started) {
      const tombstones = this.tombstones;
      if (tombstones !== undefined) {
        if (!tombstones.ready()) {
          this.blocked = true;
          this.loadingTombstones = true;
          return IO;
        }
        this.coverage = tombstones.coverage();
      }
      this.started = true;
      if (cursor.start() === NEEDS_IO) {
        this.blocked = true;
        return IO;
      }
    }
    for (;;) {
      if (cursor.done) {
        this.finished = true;
        return this.finishGroup();
      }
      const key = cursor.key;
      // Equality only: equalKeys compares from the last byte, where neighbouring keys differ.
      if (this.groupKey !== undefined && !equalKeys(key, this.groupKey)) {
        const result = this.finishGroup();
        if (result !== undefined) return result;
      }
      if (this.groupKey === undefined) {
        if (this.beyondFarBound(key)) {
          this.finished = true;
          return undefined;
        }
        this.groupKey = key;
        this.found = false;
      }
      const seqno = cursor.seqno;
      if (seqno < this.readSeqno && (!this.forward || !this.found)) {
        // Forward, the first visible version is the newest; backward, versions come oldest first,
        // so the last visible one wins.
        this.found = true;
        this.foundKind = cursor.kind;
        this.foundSeqno = seqno;
        this.foundValue = cursor.kind !== ValueKind.Tombstone ? cursor.value() : undefined;
      }
      if (cursor.advance() === NEEDS_IO) {
        this.blocked = true;
        return IO;
      }
    }
  }

  async resume(): Promise<void> {
    if (!this.blocked) return;
    this.blocked = false;
    if (this.loadingTombstones) {
      this.loadingTombstones = false;
      await this.tombstones!.load();
      return;
    }
    await this.cursor.resume();
  }

  private finishGroup(): KeyValue | undefined {
    const key = this.groupKey;
    this.groupKey = undefined;
    if (key === undefined || !this.found || this.foundKind === ValueKind.Tombstone)
      return undefined;
    if (this.coverage !== undefined && this.foundSeqno < this.coverage.seqnoAt(key)) {
      return undefined;
    }
    let value = this.foundValue!;
    if (this.foundKind === ValueKind.Expiring) {
      // Expired: a tombstone for this reader (the older versions were passed over above).
      if (this.nowMs >= readU64(value, 0)) return undefined;
      value = value.subarray(EXPIRY_PREFIX_BYTES);
    }
    return { key, value, seqno: this.foundSeqno };
  }

  private beyondFarBound(key: Buffer): boolean {
    const bound = this.farBound;
    if (bound === undefined) return false;
    const c = compareKeys(key, bound.key);
    return this.forward
      ? c > 0 || (c === 0 && bound.exclusive)
      : c < 0 || (c === 0 && bound.exclusive);
  }
}

/**
 * An iterator over the visible key-value pairs of a range at one seqno, from both ends (like the
 * reference's double-ended iterator: `next` and `nextBack` meet in the middle and never yield a
 * pair twice).
 *
 * It pins the tree version it was created on, so compaction cannot delete files under it: drain it
 * or call {@link close}. Pairs are read-only views into engine memory.
 *
 * @example
 * ```ts
 * for await (const { key, value } of tree.range({ gte: a, lt: b })) use(key, value);
 * const last = await tree.iter().nextBack();
 * ```
 */
export class TreeIterator implements AsyncIterable<KeyValue> {
  private front: VisibleStream | undefined;
  private back: VisibleStream | undefined;
  private lastFront: Buffer | undefined;
  private lastBack: Buffer | undefined;
  private ended = false;

  /** @internal */
  constructor(
    private readonly makeCursor: CursorFactory,
    private readonly range: ResolvedRange,
    private readonly readSeqno: number,
    private release: (() => void) | undefined,
    private readonly tombstones: TombstoneSource | undefined,
    /** The instant (ms since the epoch) at which expiring values are judged, for the whole scan. */
    private readonly nowMs: number,
  ) {}

  /** The next pair in key order, or `undefined` at the end. */
  async next(): Promise<KeyValue | undefined> {
    if (this.ended) return undefined;
    this.front ??= new VisibleStream(
      this.makeCursor('forward'),
      'forward',
      this.readSeqno,
      this.range.upper,
      this.tombstones,
      this.nowMs,
    );
    return this.take(this.front, true);
  }

  /** The next pair from the end, in descending key order, or `undefined`. */
  async nextBack(): Promise<KeyValue | undefined> {
    if (this.ended) return undefined;
    this.back ??= new VisibleStream(
      this.makeCursor('backward'),
      'backward',
      this.readSeqno,
      this.range.lower,
      this.tombstones,
      this.nowMs,
    );
    return this.take(this.back, false);
  }

  /**
   * Up to `max` next pairs in key order (fewer only at the end). Cheaper than `next` per pair:
   * entries in memory are gathered without a promise each.
   */
  nextChunk(max: number): Promise<KeyValue[]> {
    if (this.ended) return Promise.resolve([]);
    this.front ??= new VisibleStream(
      this.makeCursor('forward'),
      'forward',
      this.readSeqno,
      this.range.upper,
      this.tombstones,
      this.nowMs,
    );
    return this.gather(this.front, true, max);
  }

  /** Up to `max` next pairs from the end, in descending key order (fewer only at the end). */
  nextBackChunk(max: number): Promise<KeyValue[]> {
    if (this.ended) return Promise.resolve([]);
    this.back ??= new VisibleStream(
      this.makeCursor('backward'),
      'backward',
      this.readSeqno,
      this.range.lower,
      this.tombstones,
      this.nowMs,
    );
    return this.gather(this.back, false, max);
  }

  /** All remaining pairs in key order. */
  async toArray(): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    for (;;) {
      const chunk = await this.nextChunk(1024);
      out.push(...chunk);
      if (chunk.length < 1024) return out;
    }
  }

  /** Iterates forward. */
  async *[Symbol.asyncIterator](): AsyncIterator<KeyValue> {
    try {
      for (;;) {
        const chunk = await this.nextChunk(256);
        for (const item of chunk) yield item;
        if (chunk.length < 256) return;
      }
    } finally {
      this.close();
    }
  }

  /** Iterates backward (descending keys). */
  async *reverse(): AsyncGenerator<KeyValue> {
    try {
      for (;;) {
        const chunk = await this.nextBackChunk(256);
        for (const item of chunk) yield item;
        if (chunk.length < 256) return;
      }
    } finally {
      this.close();
    }
  }

  /** Releases the pinned version; the iterator then yields nothing more. */
  close(): void {
    this.ended = true;
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  private async gather(stream: VisibleStream, forward: boolean, max: number): Promise<KeyValue[]> {
    const out: KeyValue[] = [];
    while (out.length < max) {
      const item = await this.take(stream, forward);
      if (item === undefined) break;
      out.push(item);
      // Gather whatever is in memory without awaiting between items.
      while (out.length < max) {
        const r = this.stepOrClose(stream);
        if (r === IO) break;
        const accepted = this.accept(r, forward);
        if (accepted === undefined) return out;
        out.push(accepted);
      }
    }
    return out;
  }

  /**
   * One step; a step that fails (a block read synchronously can be corrupt) closes the iterator,
   * like a failed read-ahead does.
   */
  private stepOrClose(stream: VisibleStream): KeyValue | undefined | typeof IO {
    try {
      return stream.step();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private async take(stream: VisibleStream, forward: boolean): Promise<KeyValue | undefined> {
    for (;;) {
      const r = this.stepOrClose(stream);
      if (r !== IO) return this.accept(r, forward);
      try {
        await stream.resume();
      } catch (error) {
        this.close();
        throw error;
      }
    }
  }

  private accept(item: KeyValue | undefined, forward: boolean): KeyValue | undefined {
    if (item === undefined) {
      this.close();
      return undefined;
    }
    if (forward) {
      if (this.lastBack !== undefined && compareKeys(item.key, this.lastBack) >= 0) {
        this.close();
        return undefined;
      }
      this.lastFront = item.key;
    } else {
      if (this.lastFront !== undefined && compareKeys(item.key, this.lastFront) <= 0) {
        this.close();
        return undefined;
      }
      this.lastBack = item.key;
    }
    return item;
  }
}

/** Resolves a {@link KeyRange} into seek bounds. */
export function resolveRange(range: KeyRange): ResolvedRange {
  const lower =
    range.gte !== undefined
      ? { key: range.gte, exclusive: false }
      : range.gt !== undefined
        ? { key: range.gt, exclusive: true }
        : undefined;
  const upper =
    range.lte !== undefined
      ? { key: range.lte, exclusive: false }
      : range.lt !== undefined
        ? { key: range.lt, exclusive: true }
        : undefined;
  return { lower, upper };
}
