/**
 * What flushes and compactions do with range tombstones: which pieces survive, and which part of
 * each goes into which output segment.
 */
import { RangeTombstoneFragments, highestBelow } from '../range-tombstones/fragments.js';
import { compareKeys } from '../util/bytes.js';

/** A key range `[minKey, maxKey]` of a segment outside a job. */
export interface OlderRange {
  readonly minKey: Uint8Array;
  readonly maxKey: Uint8Array;
}

/**
 * The range tombstone pieces a flush or compaction keeps, by the rule point versions follow: on
 * each fragment every piece at or above the watermark (the oldest open snapshot) stays, and of
 * those below it only the newest, which hides every older version for every reader. That one is
 * dropped too when `canDrop` says no older version can exist outside the job in its range (the
 * versions inside the job that it hides are dropped by the same compaction).
 *
 * @example
 * ```ts
 * const kept = collectTombstoneGarbage(fragments, gcWatermark, () => false); // a flush
 * ```
 */
export function collectTombstoneGarbage(
  fragments: RangeTombstoneFragments,
  watermark: number,
  canDrop: (start: Buffer, end: Buffer) => boolean,
): RangeTombstoneFragments {
  return fragments.filter((fragment, seqno) => {
    if (seqno >= watermark) return true;
    return (
      seqno === highestBelow(fragment.seqnos, watermark) && !canDrop(fragment.start, fragment.end)
    );
  });
}

/**
 * True when `[start, end)` meets none of `ranges`: no older version of a key in it can exist in
 * the segments those ranges describe.
 */
export function outsideAll(
  start: Uint8Array,
  end: Uint8Array,
  ranges: readonly OlderRange[],
): boolean {
  return !ranges.some((r) => compareKeys(start, r.maxKey) <= 0 && compareKeys(r.minKey, end) < 0);
}

/**
 * Hands the kept range tombstones out to a merge's output segments, which split between keys:
 * each output gets the pieces within `[its first key, the next output's first key)` (the first
 * output from the lowest key on, the last up to the highest), so the outputs' key ranges stay
 * disjoint and a tombstone spanning a gap between outputs is still kept by one of them.
 */
export class OutputTombstones {
  private lower: Buffer | undefined;

  constructor(private readonly kept: RangeTombstoneFragments) {}

  /** The pieces of the output that ends before `nextOutputFirstKey` (`undefined`: the last). */
  forOutput(nextOutputFirstKey: Uint8Array | undefined): RangeTombstoneFragments {
    const upper = nextOutputFirstKey === undefined ? undefined : Buffer.from(nextOutputFirstKey);
    const pieces = this.kept.clip(this.lower, upper);
    this.lower = upper;
    return RangeTombstoneFragments.fromPieces(pieces);
  }
}
