import { compareKeys } from '../util/bytes.js';
import type { RangeTombstoneFragments, TombstoneFragment } from './fragments.js';
import { NOT_COVERED, highestBelow } from './fragments.js';

/**
 * Answers "which seqno deletes this key" for keys that come in order (a scan, a merge, a flush),
 * at one read seqno: the fragment that answered last is checked first, then its neighbour, and
 * only then is the list searched, so a scan costs O(1) per key, in either direction.
 *
 * @example
 * ```ts
 * const coverage = new TombstoneCoverage(fragments, gcWatermark);
 * if (seqno < coverage.seqnoAt(key)) dropVersion();
 * ```
 */
export class TombstoneCoverage {
  private readonly list: readonly TombstoneFragment[];
  private hint = 0;

  constructor(
    private readonly fragments: RangeTombstoneFragments,
    private readonly readSeqno: number,
  ) {
    this.list = fragments.fragments();
  }

  /**
   * The highest seqno below the read seqno of a tombstone covering `key`, or
   * {@link NOT_COVERED}: versions of `key` below it are deleted.
   */
  seqnoAt(key: Uint8Array): number {
    const list = this.list;
    if (list.length === 0) return NOT_COVERED;
    const at = this.locate(key);
    return at < 0 ? NOT_COVERED : highestBelow(list[at]!.seqnos, this.readSeqno);
  }

  private locate(key: Uint8Array): number {
    const hint = this.hint;
    if (this.covers(hint, key)) return hint;
    if (this.covers(hint + 1, key)) return (this.hint = hint + 1);
    if (this.covers(hint - 1, key)) return (this.hint = hint - 1);
    const at = this.fragments.indexOf(key);
    if (at >= 0) this.hint = at;
    return at;
  }

  private covers(at: number, key: Uint8Array): boolean {
    const fragment = this.list[at];
    return (
      fragment !== undefined &&
      compareKeys(fragment.start, key) <= 0 &&
      compareKeys(key, fragment.end) < 0
    );
  }
}
