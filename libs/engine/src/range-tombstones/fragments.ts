/**
 * Range tombstones as sorted, non-overlapping fragments, the way RocksDB fragments them: the
 * tombstones `[c, d)@4`, `[a, z)@10` become `[a, c)@10`, `[c, d)@{4, 10}`, `[d, z)@10`. With the
 * fragments disjoint and ordered, finding what covers a key is a binary search, however many
 * tombstones there are.
 */
import { compareKeys } from '../util/bytes.js';

/**
 * A range deletion: every version of a key in `[start, end)` with a seqno below `seqno` is
 * deleted. Start inclusive, end exclusive, `start < end`.
 */
export interface RangeTombstone {
  readonly start: Buffer;
  readonly end: Buffer;
  readonly seqno: number;
}

/**
 * One fragment: the keys `[start, end)`, deleted at each seqno of `seqnos` (ascending, distinct,
 * never empty).
 */
export interface TombstoneFragment {
  readonly start: Buffer;
  readonly end: Buffer;
  readonly seqnos: number[];
}

/** What {@link RangeTombstoneFragments.coveringSeqno} returns when no tombstone covers the key. */
export const NOT_COVERED = -1;

/**
 * A list of range tombstones as fragments (see the file comment), not changed once built: what a
 * segment stores, a merge works on, an iterator honours. A lookup is a binary search. (A
 * memtable's tombstones, which grow, are a `MemtableTombstones`.)
 *
 * @example
 * ```ts
 * const fragments = RangeTombstoneFragments.fromPieces([
 *   { start: Buffer.from('a'), end: Buffer.from('m'), seqno: 7 },
 * ]);
 * fragments.coveringSeqno(Buffer.from('c'), 10); // 7
 * fragments.coveringSeqno(Buffer.from('c'), 7); // NOT_COVERED: a read at 7 sees seqnos below 7
 * ```
 */
export class RangeTombstoneFragments {
  private readonly list: readonly TombstoneFragment[];
  private readonly pieceCount: number;
  private lowestSeqno = Number.MAX_SAFE_INTEGER;
  private highestSeqno = NOT_COVERED;

  /** Takes fragments already ordered, disjoint and with ascending seqnos (not checked). */
  constructor(fragments: readonly TombstoneFragment[] = []) {
    this.list = fragments;
    let pieces = 0;
    for (const fragment of fragments) {
      pieces += fragment.seqnos.length;
      this.noteSeqno(fragment.seqnos[0]!);
      this.noteSeqno(fragment.seqnos[fragment.seqnos.length - 1]!);
    }
    this.pieceCount = pieces;
  }

  /**
   * Fragments a list of tombstones in one sweep (sorting, then a pass over the boundaries): how
   * segments, merges and iterators build theirs. Adjacent fragments with the same seqnos are
   * joined, so a tombstone split at a segment boundary is whole again after a merge.
   */
  static fromPieces(pieces: readonly RangeTombstone[]): RangeTombstoneFragments {
    const sorted = pieces.filter((p) => compareKeys(p.start, p.end) < 0);
    if (sorted.length === 0) return new RangeTombstoneFragments();
    sorted.sort((a, b) => compareKeys(a.start, b.start));
    const bounds: Buffer[] = [];
    for (const p of sorted) bounds.push(p.start, p.end);
    bounds.sort(compareKeys);
    const out: TombstoneFragment[] = [];
    let active: RangeTombstone[] = [];
    let next = 0;
    for (let b = 0; b < bounds.length - 1; b++) {
      const low = bounds[b]!;
      const high = bounds[b + 1]!;
      if (compareKeys(low, high) === 0) continue;
      active = active.filter((p) => compareKeys(p.end, low) > 0);
      while (next < sorted.length && compareKeys(sorted[next]!.start, low) <= 0) {
        active.push(sorted[next++]!);
      }
      if (active.length === 0) continue;
      const seqnos = distinctAscending(active.map((p) => p.seqno));
      const previous = out[out.length - 1];
      if (
        previous !== undefined &&
        compareKeys(previous.end, low) === 0 &&
        sameSeqnos(previous.seqnos, seqnos)
      ) {
        out[out.length - 1] = { start: previous.start, end: high, seqnos: previous.seqnos };
      } else {
        out.push({ start: low, end: high, seqnos });
      }
    }
    return new RangeTombstoneFragments(out);
  }

  /** Number of fragments. */
  get fragmentCount(): number {
    return this.list.length;
  }

  /** Number of (fragment, seqno) pieces: what a segment stores and counts. */
  get count(): number {
    return this.pieceCount;
  }

  /** True when no tombstone is held. */
  isEmpty(): boolean {
    return this.list.length === 0;
  }

  /** Lowest seqno of any piece, or {@link NOT_COVERED} when empty. */
  get minSeqno(): number {
    return this.list.length === 0 ? NOT_COVERED : this.lowestSeqno;
  }

  /** Highest seqno of any piece, or {@link NOT_COVERED} when empty. */
  get maxSeqno(): number {
    return this.highestSeqno;
  }

  /** The fragments in key order (read-only: do not change them). */
  fragments(): readonly TombstoneFragment[] {
    return this.list;
  }

  /** Every (fragment, seqno) piece as a tombstone, in key order. */
  pieces(): RangeTombstone[] {
    const out: RangeTombstone[] = [];
    for (const f of this.list)
      for (const seqno of f.seqnos) out.push({ start: f.start, end: f.end, seqno });
    return out;
  }

  /**
   * The highest seqno below `readSeqno` of a tombstone covering `key`, or {@link NOT_COVERED}. A
   * version of `key` with a lower seqno is deleted for a read at `readSeqno`.
   */
  coveringSeqno(key: Uint8Array, readSeqno: number): number {
    const at = this.indexOf(key);
    return at < 0 ? NOT_COVERED : highestBelow(this.list[at]!.seqnos, readSeqno);
  }

  /** Index of the fragment covering `key`, or -1. */
  indexOf(key: Uint8Array): number {
    const list = this.list;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareKeys(list[mid]!.start, key) <= 0) low = mid + 1;
      else high = mid;
    }
    const at = low - 1;
    return at >= 0 && compareKeys(key, list[at]!.end) < 0 ? at : -1;
  }

  /**
   * A copy holding only the pieces `keep` accepts: the garbage collection of flushes and
   * compactions, and the copy behind `discardActiveAbove`.
   */
  filter(keep: (fragment: TombstoneFragment, seqno: number) => boolean): RangeTombstoneFragments {
    const pieces: RangeTombstone[] = [];
    for (const f of this.list) {
      for (const seqno of f.seqnos)
        if (keep(f, seqno)) pieces.push({ start: f.start, end: f.end, seqno });
    }
    return RangeTombstoneFragments.fromPieces(pieces);
  }

  /**
   * The pieces within `[lower, upper)` (either side open when `undefined`), cut at the bounds: a
   * compaction output keeps the part of each tombstone it is responsible for.
   */
  clip(lower: Uint8Array | undefined, upper: Uint8Array | undefined): RangeTombstone[] {
    const out: RangeTombstone[] = [];
    for (const f of this.list) {
      if (upper !== undefined && compareKeys(f.start, upper) >= 0) break;
      if (lower !== undefined && compareKeys(f.end, lower) <= 0) continue;
      const start = lower !== undefined && compareKeys(f.start, lower) < 0 ? asKey(lower) : f.start;
      const end = upper !== undefined && compareKeys(f.end, upper) > 0 ? asKey(upper) : f.end;
      for (const seqno of f.seqnos) out.push({ start, end, seqno });
    }
    return out;
  }

  private noteSeqno(seqno: number): void {
    if (seqno < this.lowestSeqno) this.lowestSeqno = seqno;
    if (seqno > this.highestSeqno) this.highestSeqno = seqno;
  }
}

/** The highest of ascending `seqnos` below `readSeqno`, or {@link NOT_COVERED}. */
export function highestBelow(seqnos: readonly number[], readSeqno: number): number {
  const top = seqnos[seqnos.length - 1]!;
  if (top < readSeqno) return top;
  let low = 0;
  let high = seqnos.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (seqnos[mid]! < readSeqno) low = mid + 1;
    else high = mid;
  }
  return low === 0 ? NOT_COVERED : seqnos[low - 1]!;
}

function distinctAscending(seqnos: number[]): number[] {
  seqnos.sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < seqnos.length; i++) {
    if (i === 0 || seqnos[i] !== seqnos[n - 1]) seqnos[n++] = seqnos[i]!;
  }
  seqnos.length = n;
  return seqnos;
}

function sameSeqnos(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function asKey(key: Uint8Array): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(key);
}
