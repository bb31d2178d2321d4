/**
 * Point reads: the newest version of a key below a read seqno, memtables first, then level by
 * level. Within a level every covering segment is consulted and the newest visible version wins
 * (level 0 and size-tiered levels overlap); across levels the first level with a visible version
 * wins, because compaction only pushes older data down. A tree holding range tombstones is read by
 * covered-point-read.ts instead.
 */
import type { InternalEntry } from '../entry.js';
import { ValueKind } from '../entry.js';
import type { Version } from '../levels/version.js';
import type { MemtableSet } from '../memtable/memtable-set.js';
import { hashKey } from '../segment/bloom-filter.js';
import { NOT_CACHED } from '../segment/segment.js';
import { getCoveredFromMemory, readCoveredEntry } from './covered-point-read.js';

/**
 * A point lookup that succeeds only if everything it needs is in memory (memtables, loaded
 * indexes, cached blocks): the hot path of `get`, with no promise per level or segment. It runs
 * without yielding, so it needs no version pin. Returns {@link NOT_CACHED} when a read is needed:
 * then {@link readEntry} does it.
 */
export function getFromMemory(
  memtables: MemtableSet,
  version: Version,
  key: Uint8Array,
  seqno: number,
): InternalEntry | undefined | typeof NOT_CACHED {
  if (version.hasRangeTombstones || memtables.hasRangeTombstones()) {
    return getCoveredFromMemory(memtables, version, key, seqno);
  }
  const fromMemory = memtables.get(key, seqno);
  if (fromMemory !== undefined) return fromMemory;
  const levels = version.levels;
  if (version.segmentCount === 0) return undefined;
  // Hashed once for the bloom filters of every segment consulted (level 0 has several).
  const keyHash = hashKey(key);
  for (let level = 0; level < levels.length; level++) {
    const segments = levels[level]!;
    if (segments.length === 0) continue;
    if (version.disjoint[level]) {
      const segment = version.segmentFor(level, key);
      if (segment === undefined) continue;
      const entry = segment.getCached(key, seqno, keyHash);
      if (entry !== undefined) return entry;
      continue;
    }
    let best: InternalEntry | undefined;
    for (const segment of segments) {
      const entry = segment.getCached(key, seqno, keyHash);
      if (entry === NOT_CACHED) return NOT_CACHED;
      if (entry !== undefined && (best === undefined || entry.seqno > best.seqno)) best = entry;
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

/**
 * The newest version of `key` below `seqno`, tombstones included: memtables first, then the
 * levels of `version`, which stays pinned while segments are read.
 */
export async function readEntry(
  memtables: MemtableSet,
  version: Version,
  key: Uint8Array,
  seqno: number,
): Promise<InternalEntry | undefined> {
  if (version.hasRangeTombstones || memtables.hasRangeTombstones()) {
    return readCoveredEntry(memtables, version, key, seqno);
  }
  const fromMemory = memtables.get(key, seqno);
  if (fromMemory !== undefined) return fromMemory;
  if (version.segmentCount === 0) return undefined;
  version.acquire();
  try {
    return await getFromVersion(version, key, seqno);
  } finally {
    version.release();
  }
}

/** Looks a key up level by level in a version the caller pinned, reading what is not cached. */
async function getFromVersion(
  version: Version,
  key: Uint8Array,
  seqno: number,
): Promise<InternalEntry | undefined> {
  // A cold read (after a reopen) loads the index and filter of every segment it may consult: start
  // those loads together, so their file opens overlap instead of queueing one after another.
  let loads: Promise<void>[] | undefined;
  for (let level = 0; level < version.levels.length; level++) {
    for (const segment of version.segmentsCovering(level, key)) {
      if (!segment.isLoaded()) (loads ??= []).push(segment.load());
    }
  }
  // A failed load is reported by the segment's own get below (only if the lookup reaches it).
  if (loads !== undefined) await Promise.all(loads.map((load) => load.catch(() => undefined)));
  for (let level = 0; level < version.levels.length; level++) {
    if (version.levels[level]!.length === 0) continue;
    let best: InternalEntry | undefined;
    for (const segment of version.segmentsCovering(level, key)) {
      const entry = await segment.get(key, seqno);
      if (entry !== undefined && (best === undefined || entry.seqno > best.seqno)) best = entry;
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

/** `entry`, or `undefined` for a tombstone when `evictTombstone`. */
export function evict(entry: InternalEntry, evictTombstone: boolean): InternalEntry | undefined {
  return evictTombstone && entry.kind === ValueKind.Tombstone ? undefined : entry;
}
