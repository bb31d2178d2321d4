import { invariant } from '@strata/core';
import { compareKeys } from '../util/bytes.js';
import type { Segment } from '../segment/segment.js';

/**
 * One immutable arrangement of segments into levels. The tree's current version changes only by
 * replacement (flush registration, compaction, move, drop); readers pin the version they started
 * on, so segments they use are deleted only after the last reader lets go.
 *
 * Level 0 is ordered newest first (by id) and may overlap. Deeper levels are ordered by key and
 * are usually disjoint (leveled compaction); size-tiered compaction may stack overlapping runs, in
 * which case the level is flagged and reads consult every segment covering a key.
 */
export class Version {
  private refs = 0;
  /** Per level: true when segments are ordered by key and do not overlap. */
  readonly disjoint: readonly boolean[];
  /** Segments in all levels (a version never changes), read by every get. */
  private readonly segmentTotal: number;
  /** True when a segment holds range tombstones: reads must then look for them. */
  readonly hasRangeTombstones: boolean;

  constructor(
    readonly levels: readonly (readonly Segment[])[],
    private readonly onSegmentUnused: (segment: Segment) => void,
  ) {
    this.disjoint = levels.map((level, n) => n > 0 && isDisjoint(level));
    let total = 0;
    let tombstones = false;
    for (const level of levels) {
      total += level.length;
      for (const segment of level) if (segment.hasRangeTombstones) tombstones = true;
    }
    this.segmentTotal = total;
    this.hasRangeTombstones = tombstones;
  }

  /** Builds a version with each level in canonical order. */
  static arrange(
    levels: readonly (readonly Segment[])[],
    onSegmentUnused: (segment: Segment) => void,
  ): Version {
    const sorted = levels.map((level, n) =>
      [...level].sort((a, b) =>
        n === 0 ? b.id - a.id : compareKeys(a.meta.minKey, b.meta.minKey) || b.id - a.id,
      ),
    );
    return new Version(sorted, onSegmentUnused);
  }

  /** Pins the version (and its segments). */
  acquire(): void {
    if (this.refs++ === 0) for (const segment of this.allSegments()) segment.refCount++;
  }

  /** Unpins the version; segments no version uses any more are reported to the tree. */
  release(): void {
    invariant(this.refs > 0, 'version released more often than acquired');
    if (--this.refs > 0) return;
    for (const segment of this.allSegments()) {
      invariant(segment.refCount > 0, 'segment reference count underflow');
      if (--segment.refCount === 0) this.onSegmentUnused(segment);
    }
  }

  /** Every segment, level by level. */
  allSegments(): Segment[] {
    return this.levels.flat();
  }

  get segmentCount(): number {
    return this.segmentTotal;
  }

  /** Entries in every segment, versions, tombstones and range tombstone pieces included. */
  itemCount(): number {
    let n = 0;
    for (const segment of this.allSegments()) {
      n += segment.meta.itemCount + (segment.meta.rangeTombstoneCount ?? 0);
    }
    return n;
  }

  /** Bytes of every segment file. */
  fileSizeBytes(): number {
    let n = 0;
    for (const segment of this.allSegments()) n += segment.meta.fileSizeBytes;
    return n;
  }

  /** In a disjoint level, the one segment whose range covers `key`, or `undefined`. */
  segmentFor(level: number, key: Uint8Array): Segment | undefined {
    const segments = this.levels[level]!;
    let low = 0;
    let high = segments.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (segments[mid]!.endsBefore(key)) low = mid + 1;
      else high = mid;
    }
    const candidate = segments[low];
    return candidate !== undefined && candidate.coversKey(key) ? candidate : undefined;
  }

  /** Segments of `level` whose key range covers `key`, in read order. */
  segmentsCovering(level: number, key: Uint8Array): Segment[] {
    const segments = this.levels[level]!;
    if (!this.disjoint[level]) return segments.filter((s) => s.coversKey(key));
    const candidate = this.segmentFor(level, key);
    return candidate === undefined ? [] : [candidate];
  }

  /** A new version with `changes` applied; the level count is kept. */
  derive(changes: {
    readonly remove?: ReadonlySet<number>;
    readonly add?: readonly { readonly level: number; readonly segment: Segment }[];
  }): Version {
    const levels = this.levels.map((level) =>
      changes.remove ? level.filter((s) => !changes.remove!.has(s.id)) : [...level],
    );
    for (const { level, segment } of changes.add ?? []) {
      invariant(level >= 0 && level < levels.length, 'segment added beyond the last level');
      levels[level]!.push(segment);
    }
    return Version.arrange(levels, this.onSegmentUnused);
  }

  /** The level holding a segment, or -1. */
  levelOf(id: number): number {
    return this.levels.findIndex((level) => level.some((s) => s.id === id));
  }
}

function isDisjoint(level: readonly Segment[]): boolean {
  for (let i = 1; i < level.length; i++) {
    if (!level[i - 1]!.endsBefore(level[i]!.meta.minKey)) return false;
  }
  return true;
}
