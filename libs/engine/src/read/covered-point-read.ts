/**
 * Point reads of a tree that holds range tombstones somewhere (a memtable or a segment); the
 * reads of point-read.ts hand over to these, so a tree without any pays nothing for them.
 *
 * The sources are read from the newest (active memtable, sealed memtables, then level by level),
 * as for any point read, and at each the newest visible version and the highest visible range
 * tombstone covering the key are taken. Data only ever moves down, a range tombstone along with
 * the keys it covers, so the first source with either answers: the version, unless a tombstone
 * seen so far is newer, in which case the key is deleted at the tombstone's seqno.
 */
import type { InternalEntry } from '../entry.js';
import { ValueKind } from '../entry.js';
import type { Version } from '../levels/version.js';
import type { Memtable } from '../memtable/memtable.js';
import type { MemtableSet } from '../memtable/memtable-set.js';
import { NOT_COVERED } from '../range-tombstones/fragments.js';
import { hashKey } from '../segment/bloom-filter.js';
import type { Segment } from '../segment/segment.js';
import { NOT_CACHED } from '../segment/segment.js';
import { asBuffer } from '../util/bytes.js';

const EMPTY = Buffer.alloc(0);

/** What a source (or a level) contributed: its newest visible version and covering tombstone. */
interface Found {
  entry: InternalEntry | undefined;
  covering: number;
}

/**
 * The synchronous lookup of `getFromMemory` for a tree with range tombstones: the entry, a
 * tombstone entry at the covering seqno when a range tombstone deletes the key, `undefined`, or
 * {@link NOT_CACHED} when a segment must be read.
 */
export function getCoveredFromMemory(
  memtables: MemtableSet,
  version: Version,
  key: Uint8Array,
  seqno: number,
): InternalEntry | undefined | typeof NOT_CACHED {
  // One lookup at a time runs this (it never yields): the scratch needs no allocation per get.
  const found = scratch;
  found.entry = undefined;
  found.covering = NOT_COVERED;
  if (searchMemtables(memtables, key, seqno, found)) return decide(key, found);
  if (version.segmentCount === 0) return undefined;
  const keyHash = hashKey(key);
  const levels = version.levels;
  for (let level = 0; level < levels.length; level++) {
    const segments = levels[level]!;
    if (segments.length === 0) continue;
    if (version.disjoint[level]) {
      const segment = version.segmentFor(level, key);
      if (segment !== undefined && consult(segment, key, seqno, keyHash, found) === NOT_CACHED) {
        return NOT_CACHED;
      }
    } else {
      for (const segment of segments) {
        if (!segment.coversKey(key)) continue;
        if (consult(segment, key, seqno, keyHash, found) === NOT_CACHED) return NOT_CACHED;
      }
    }
    if (found.entry !== undefined || found.covering !== NOT_COVERED) return decide(key, found);
  }
  return undefined;
}

const scratch: Found = { entry: undefined, covering: NOT_COVERED };

/** Adds what one segment holds for `key` to `found`, or returns NOT_CACHED when it needs a read. */
function consult(
  segment: Segment,
  key: Uint8Array,
  seqno: number,
  keyHash: number,
  found: Found,
): typeof NOT_CACHED | undefined {
  if (segment.hasRangeTombstones) {
    if (!segment.isLoaded()) return NOT_CACHED;
    found.covering = Math.max(found.covering, segment.coveringTombstoneSeqno(key, seqno));
  }
  const entry = segment.getCached(key, seqno, keyHash);
  if (entry === NOT_CACHED) return NOT_CACHED;
  keepNewer(found, entry);
  return undefined;
}

/**
 * The asynchronous lookup of `readEntry` for a tree with range tombstones: segments are loaded
 * and read as needed. The version stays pinned meanwhile.
 */
export async function readCoveredEntry(
  memtables: MemtableSet,
  version: Version,
  key: Uint8Array,
  seqno: number,
): Promise<InternalEntry | undefined> {
  const found: Found = { entry: undefined, covering: NOT_COVERED };
  if (searchMemtables(memtables, key, seqno, found)) return decide(key, found);
  if (version.segmentCount === 0) return undefined;
  version.acquire();
  try {
    for (let level = 0; level < version.levels.length; level++) {
      const segments = candidates(version, level, key);
      // Loaded together, so their file opens overlap (see readEntry).
      await Promise.all(segments.map((s) => s.load()));
      for (const segment of segments) {
        found.covering = Math.max(found.covering, segment.coveringTombstoneSeqno(key, seqno));
        keepNewer(found, await segment.get(key, seqno));
      }
      if (found.entry !== undefined || found.covering !== NOT_COVERED) return decide(key, found);
    }
    return undefined;
  } finally {
    version.release();
  }
}

/** Searches the memtables from the newest; true when one of them decides the read. */
function searchMemtables(
  memtables: MemtableSet,
  key: Uint8Array,
  seqno: number,
  found: Found,
): boolean {
  if (searchMemtable(memtables.active, key, seqno, found)) return true;
  const sealed = memtables.sealedOldestFirst();
  for (let i = sealed.length - 1; i >= 0; i--) {
    if (searchMemtable(sealed[i]!, key, seqno, found)) return true;
  }
  return false;
}

function searchMemtable(memtable: Memtable, key: Uint8Array, seqno: number, found: Found): boolean {
  found.entry = memtable.get(key, seqno);
  found.covering = Math.max(found.covering, memtable.rangeTombstoneSeqno(key, seqno));
  return found.entry !== undefined || found.covering !== NOT_COVERED;
}

/** The segments of `level` whose key range (range tombstones included) covers `key`. */
function candidates(version: Version, level: number, key: Uint8Array): Segment[] {
  return version.levels[level]!.length === 0 ? [] : version.segmentsCovering(level, key);
}

function keepNewer(found: Found, entry: InternalEntry | undefined): void {
  if (entry !== undefined && (found.entry === undefined || entry.seqno > found.entry.seqno)) {
    found.entry = entry;
  }
}

/** The version found, or a tombstone at the covering seqno when a range tombstone is newer. */
function decide(key: Uint8Array, found: Found): InternalEntry {
  const entry = found.entry;
  if (entry !== undefined && entry.seqno >= found.covering) return entry;
  return { key: asBuffer(key), value: EMPTY, seqno: found.covering, kind: ValueKind.Tombstone };
}
