/**
 * Range tombstones as sorted, non-overlapping fragments, the way RocksDB fragments them: the
 * tombstones `[c, d)@4`, `[a, z)@10` become `[a, c)@10`, `[c, d)@{4, 10}`, `[d, z)@10`. With the
 * fragments disjoint and ordered, finding what covers a key is a binary search, however many
 * tombstones there are.
 */
import { compareKeys, compareRanges, copyRange } from '../util/bytes.js';

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
 * never empty). Fragments never share a `seqnos` array, so one may be changed in place.
 */
export interface TombstoneFragment {
  readonly start: Buffer;
  readonly end: Buffer;
  readonly seqnos: number[];
}

/** What {@link RangeTombstoneFragments.coveringSeqno} returns when no tombstone covers the key. */
export const NOT_COVERED = -1;

/** Above this many fragments a splice is replaced by a rebuilt array (no huge argument list). */
const SPLICE_LIMIT = 1024;

/**
 * A mutable set of range tombstones kept as fragments (see the file comment). Adding a tombstone
 * costs a binary search plus the fragments it overlaps; a lookup is a binary search.
 *
 * @example
 * ```ts
 * const fragments = new RangeTombstoneFragments();
 * fragments.add(Buffer.from('a'), Buffer.from('m'), 7);
 * fragments.coveringSeqno(Buffer.from('c'), 10); // 7
 * fragments.coveringSeqno(Buffer.from('c'), 7); // NOT_COVERED: a read at 7 sees seqnos below 7
 * ```
 */
export class RangeTombstoneFragments {
  private list: TombstoneFragment[];
  private pieceCount: number;
  private lowestSeqno = Number.MAX_SAFE_INTEGER;
  private highestSeqno = NOT_COVERED;

  constructor(fragments: TombstoneFragment[] = []) {
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

  /** Adds the tombstone `[start, end)@seqno`; an empty range (`start >= end`) adds nothing. */
  add(start: Uint8Array, end: Uint8Array, seqno: number): void {
    this.addFrom(start, 0, start.length, end, 0, end.length, seqno);
  }

  /**
   * {@link add} with the bounds as byte ranges of larger buffers (a log record, say). A bound
   * equal to an existing fragment boundary reuses that boundary's bytes; any other is copied.
   */
  addFrom(
    startSource: Uint8Array,
    startOffset: number,
    startLength: number,
    endSource: Uint8Array,
    endOffset: number,
    endLength: number,
    seqno: number,
  ): void {
    const startEnd = startOffset + startLength;
    const endEnd = endOffset + endLength;
    if (compareRanges(startSource, startOffset, startEnd, endSource, endOffset, endEnd) >= 0)
      return;
    const list = this.list;
    // First fragment ending after `start`, and first one starting at or after `end`: the
    // fragments in between overlap the new tombstone.
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const e = list[mid]!.end;
      if (compareRanges(e, 0, e.length, startSource, startOffset, startEnd) <= 0) low = mid + 1;
      else high = mid;
    }
    const first = low;
    high = list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const s = list[mid]!.start;
      if (compareRanges(s, 0, s.length, endSource, endOffset, endEnd) < 0) low = mid + 1;
      else high = mid;
    }
    const last = low;
    const start =
      boundaryEqualTo(list[first]?.start, startSource, startOffset, startLength) ??
      boundaryEqualTo(list[first - 1]?.end, startSource, startOffset, startLength) ??
      copyOf(startSource, startOffset, startLength);
    const end =
      boundaryEqualTo(list[last - 1]?.end, endSource, endOffset, endLength) ??
      boundaryEqualTo(list[last]?.start, endSource, endOffset, endLength) ??
      copyOf(endSource, endOffset, endLength);
    const out: TombstoneFragment[] = [];
    let removedPieces = 0;
    let cursor = start;
    for (let at = first; at < last; at++) {
      const fragment = list[at]!;
      removedPieces += fragment.seqnos.length;
      const startOrder = compareKeys(fragment.start, cursor);
      if (startOrder > 0) {
        out.push({ start: cursor, end: fragment.start, seqnos: [seqno] });
        cursor = fragment.start;
      } else if (startOrder < 0) {
        // Only the first fragment can begin before `start`: its left part keeps its seqnos.
        out.push({ start: fragment.start, end: cursor, seqnos: fragment.seqnos.slice() });
      }
      const endOrder = compareKeys(fragment.end, end);
      if (startOrder >= 0 && endOrder <= 0) {
        // Wholly inside the new tombstone: changed in place (the common repeated range delete).
        insertSeqno(fragment.seqnos, seqno);
        out.push(fragment);
      } else {
        const middleEnd = endOrder <= 0 ? fragment.end : end;
        const seqnos = fragment.seqnos.slice();
        insertSeqno(seqnos, seqno);
        out.push({ start: cursor, end: middleEnd, seqnos });
        if (endOrder > 0) out.push({ start: end, end: fragment.end, seqnos: fragment.seqnos });
      }
      cursor = endOrder <= 0 ? fragment.end : end;
    }
    if (compareKeys(cursor, end) < 0) out.push({ start: cursor, end, seqnos: [seqno] });
    let addedPieces = 0;
    for (const fragment of out) addedPieces += fragment.seqnos.length;
    this.pieceCount += addedPieces - removedPieces;
    this.replace(first, last, out);
    this.noteSeqno(seqno);
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

  private replace(first: number, last: number, out: TombstoneFragment[]): void {
    if (out.length <= SPLICE_LIMIT) this.list.splice(first, last - first, ...out);
    else this.list = this.list.slice(0, first).concat(out, this.list.slice(last));
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

/** Inserts `seqno` into ascending distinct `seqnos` (nothing when it is there already). */
function insertSeqno(seqnos: number[], seqno: number): void {
  if (seqno > seqnos[seqnos.length - 1]!) {
    seqnos.push(seqno);
    return;
  }
  let at = seqnos.length - 1;
  while (at > 0 && seqnos[at - 1]! >= seqno) at--;
  if (seqnos[at] !== seqno) seqnos.splice(at, 0, seqno);
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

function boundaryEqualTo(
  boundary: Buffer | undefined,
  source: Uint8Array,
  offset: number,
  length: number,
): Buffer | undefined {
  if (boundary === undefined || boundary.length !== length) return undefined;
  return compareRanges(boundary, 0, length, source, offset, offset + length) === 0
    ? boundary
    : undefined;
}

function copyOf(source: Uint8Array, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  copyRange(out, 0, source, offset, length);
  return out;
}

function asKey(key: Uint8Array): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(key);
}
