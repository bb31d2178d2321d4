import type { Cursor, Direction } from '../iterators/cursor.js';
import { MergeCursor } from '../iterators/merge-cursor.js';
import type { ResolvedRange } from '../iterators/tree-iterator.js';
import { TreeIterator } from '../iterators/tree-iterator.js';
import type { Version } from '../levels/version.js';
import type { Memtable } from '../memtable/memtable.js';
import { MemtableCursor } from '../memtable/memtable-cursor.js';
import { SegmentCursor } from '../segment/segment-cursor.js';
import type { Segment } from '../segment/segment.js';
import { compareKeys } from '../util/bytes.js';
import { IteratorTombstones } from './iterator-tombstones.js';

/** Unpins the version of an iterator its owner dropped without closing it. */
const finalizer = new FinalizationRegistry<() => void>((release) => release());

/**
 * An iterator over `range` at `readSeqno`, with expiring values judged at `nowMs`, merging `memtables` and the segments of `version` that
 * overlap the range. The version is pinned until the iterator is closed (or collected), so its
 * segments outlive any compaction meanwhile. Range tombstones are honoured when a memtable or a
 * segment of the range holds any (see {@link IteratorTombstones}).
 *
 * @example
 * ```ts
 * const iterator = openTreeIterator(memtables.all(), versions.current, resolveRange({}), 10, Date.now());
 * ```
 */
export function openTreeIterator(
  memtables: readonly Memtable[],
  version: Version,
  range: ResolvedRange,
  readSeqno: number,
  nowMs: number,
): TreeIterator {
  version.acquire();
  const segments = version.allSegments().filter((s) => overlapsRange(s, range));
  const makeCursor = (direction: Direction): Cursor => {
    const start = direction === 'forward' ? range.lower : range.upper;
    const children: Cursor[] = memtables.map((m) => new MemtableCursor(m, direction, start));
    for (const segment of segments) children.push(new SegmentCursor(segment, direction, start));
    return new MergeCursor(children, direction);
  };
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    finalizer.unregister(token);
    version.release();
  };
  const token = {};
  const withTombstones = segments.filter((s) => s.hasRangeTombstones);
  const tombstones =
    withTombstones.length > 0 || memtables.some((m) => m.hasRangeTombstones())
      ? new IteratorTombstones(
          memtables.filter((m) => m.hasRangeTombstones()),
          withTombstones,
          range,
          readSeqno,
        )
      : undefined;
  const iterator = new TreeIterator(makeCursor, range, readSeqno, release, tombstones, nowMs);
  finalizer.register(
    iterator,
    () => {
      if (!released) {
        released = true;
        version.release();
      }
    },
    token,
  );
  return iterator;
}

function overlapsRange(segment: Segment, range: ResolvedRange): boolean {
  const { lower, upper } = range;
  if (lower !== undefined) {
    const c = compareKeys(segment.meta.maxKey, lower.key);
    if (c < 0 || (c === 0 && (lower.exclusive || segment.meta.maxKeyExclusive === true))) {
      return false;
    }
  }
  if (upper !== undefined) {
    const c = compareKeys(segment.meta.minKey, upper.key);
    if (c > 0 || (c === 0 && upper.exclusive)) return false;
  }
  return true;
}
