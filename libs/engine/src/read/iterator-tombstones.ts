import type { TombstoneSource } from '../iterators/tree-iterator.js';
import type { ResolvedRange } from '../iterators/tree-iterator.js';
import type { Memtable } from '../memtable/memtable.js';
import { TombstoneCoverage } from '../range-tombstones/coverage.js';
import type { RangeTombstone } from '../range-tombstones/fragments.js';
import { RangeTombstoneFragments } from '../range-tombstones/fragments.js';
import type { Segment } from '../segment/segment.js';
import { compareKeys } from '../util/bytes.js';

/**
 * The range tombstones an iterator honours: those of its memtables and segments that are visible
 * at its read seqno and reach into its range, fragmented into one list when the iterator first
 * steps (segments holding range tombstones are loaded for it). Both directions of the iterator
 * share the list.
 *
 * @example
 * ```ts
 * const tombstones = new IteratorTombstones(memtables, segments, range, readSeqno);
 * if (!tombstones.ready()) await tombstones.load();
 * const coverage = tombstones.coverage(); // coverage.seqnoAt(key)
 * ```
 */
export class IteratorTombstones implements TombstoneSource {
  private fragments: RangeTombstoneFragments | undefined;

  constructor(
    private readonly memtables: readonly Memtable[],
    private readonly segments: readonly Segment[],
    private readonly range: ResolvedRange,
    private readonly readSeqno: number,
  ) {}

  /** True once the list is built; builds it now when every segment needed is loaded. */
  ready(): boolean {
    if (this.fragments !== undefined) return true;
    if (!this.segments.every((s) => s.isLoaded())) return false;
    this.build();
    return true;
  }

  /** Loads the segments and builds the list. */
  async load(): Promise<void> {
    await Promise.all(this.segments.map((s) => s.load()));
    if (this.fragments === undefined) this.build();
  }

  /** A lookup over the list (after {@link ready} or {@link load}). */
  coverage(): TombstoneCoverage {
    return new TombstoneCoverage(this.fragments!, this.readSeqno);
  }

  private build(): void {
    const pieces: RangeTombstone[] = [];
    for (const memtable of this.memtables) this.collect(memtable.rangeTombstones(), pieces);
    for (const segment of this.segments) this.collect(segment.rangeTombstones, pieces);
    this.fragments = RangeTombstoneFragments.fromPieces(pieces);
  }

  /** Adds the visible pieces of `fragments` that reach into the range. */
  private collect(fragments: RangeTombstoneFragments | undefined, out: RangeTombstone[]): void {
    if (fragments === undefined) return;
    const { lower, upper } = this.range;
    for (const f of fragments.fragments()) {
      if (lower !== undefined && compareKeys(f.end, lower.key) <= 0) continue;
      if (upper !== undefined && compareKeys(f.start, upper.key) > 0) break;
      for (const seqno of f.seqnos) {
        if (seqno >= this.readSeqno) break;
        out.push({ start: f.start, end: f.end, seqno });
      }
    }
  }
}
