import type { SegmentMetadata } from '../segment/metadata.js';

/** What a strategy sees: the levels (eligible segments only) and the tree's settings. */
export interface CompactionView {
  /** Segments per level; level 0 newest first, deeper levels by key. */
  readonly levels: readonly (readonly SegmentMetadata[])[];
  /** The tree's target segment size, used when a strategy has none of its own. */
  readonly targetSegmentSizeBytes: number;
  /** Current time (injected so TTL decisions are testable). */
  readonly nowMs: number;
}

/** What a strategy decides. */
export type CompactionChoice =
  /** Nothing to do. */
  | { readonly kind: 'none' }
  /** Merge the inputs into new segments in `destLevel`, split at `targetSegmentSizeBytes`. */
  | {
      readonly kind: 'merge';
      readonly inputIds: readonly number[];
      readonly destLevel: number;
      readonly targetSegmentSizeBytes: number;
    }
  /** Move segments to another level without rewriting them (no overlap there). */
  | { readonly kind: 'move'; readonly ids: readonly number[]; readonly destLevel: number }
  /** Delete segments outright (FIFO). */
  | { readonly kind: 'drop'; readonly ids: readonly number[] };

/**
 * A compaction strategy picks work from the levels; the tree carries it out. Strategies are pure
 * functions of the view, so they are easy to test and to write anew.
 *
 * @example
 * ```ts
 * await tree.compact(new LeveledStrategy({ l0Trigger: 4 }));
 * ```
 */
export interface CompactionStrategy {
  readonly name: string;
  choose(view: CompactionView): CompactionChoice;
}

/** Total file size of a list of segments. */
export function totalSizeBytes(segments: readonly SegmentMetadata[]): number {
  let total = 0;
  for (const s of segments) total += s.fileSizeBytes;
  return total;
}

/** True when two key ranges overlap. */
export function rangesOverlap(a: SegmentMetadata, b: SegmentMetadata): boolean {
  return Buffer.compare(a.minKey, b.maxKey) <= 0 && Buffer.compare(b.minKey, a.maxKey) <= 0;
}

/** The smallest range covering all segments. */
export function keySpan(segments: readonly SegmentMetadata[]): { min: Buffer; max: Buffer } {
  let min = segments[0]!.minKey;
  let max = segments[0]!.maxKey;
  for (const s of segments) {
    if (Buffer.compare(s.minKey, min) < 0) min = s.minKey;
    if (Buffer.compare(s.maxKey, max) > 0) max = s.maxKey;
  }
  return { min, max };
}

/** Segments of `level` overlapping [min, max]. */
export function overlapping(
  level: readonly SegmentMetadata[],
  span: { min: Buffer; max: Buffer },
): SegmentMetadata[] {
  return level.filter(
    (s) => Buffer.compare(s.minKey, span.max) <= 0 && Buffer.compare(span.min, s.maxKey) <= 0,
  );
}
