/**
 * The listing behind `Tree.expiringEntries`: every expiring version of the memtables, then of the
 * segments, read from their expiry blocks (never their data blocks), one segment at a time.
 */
import type { ExpiringEntry } from '../expiring.js';
import type { Version } from '../levels/version.js';
import type { VersionSet } from '../levels/version-set.js';
import type { Memtable } from '../memtable/memtable.js';
import type { MemtableSet } from '../memtable/memtable-set.js';
import type { Segment } from '../segment/segment.js';

/** Unpins the version of a listing its owner dropped before the end. */
const finalizer = new FinalizationRegistry<() => void>((release) => release());

/**
 * The expiring entries of the tree state current when a loop over the result starts: the
 * memtables then, and the segments of the version then (pinned until the loop ends, or until
 * the abandoned listing is collected).
 *
 * @example
 * ```ts
 * for await (const entry of listExpiringEntries(memtables, versions)) index(entry);
 * ```
 */
export function listExpiringEntries(
  memtables: MemtableSet,
  versions: VersionSet,
): AsyncIterable<ExpiringEntry> {
  return {
    [Symbol.asyncIterator]: () => pinnedListing(memtables.all(), versions.current),
  };
}

function pinnedListing(
  memtables: readonly Memtable[],
  version: Version,
): AsyncGenerator<ExpiringEntry> {
  version.acquire();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    version.release();
  };
  const token = {};
  const generator = listing(memtables, version.allSegments(), () => {
    finalizer.unregister(token);
    release();
  });
  finalizer.register(generator, release, token);
  return generator;
}

async function* listing(
  memtables: readonly Memtable[],
  segments: readonly Segment[],
  release: () => void,
): AsyncGenerator<ExpiringEntry> {
  try {
    for (const memtable of memtables) yield* memtable.expiringEntries();
    for (const segment of segments) {
      if (!segment.hasExpiringEntries) continue;
      yield* await segment.readExpiringEntries();
    }
  } finally {
    release();
  }
}
