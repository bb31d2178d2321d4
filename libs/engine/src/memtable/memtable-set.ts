import { invariant } from '@strata/core';
import type { InternalEntry } from '../entry.js';
import { higherSeqno, isAtOrBelow } from '../util/seqno.js';
import { NIL } from './layout.js';
import { Memtable } from './memtable.js';

/** A sealed memtable as handed out by `Tree.rotateMemtable`. */
export interface SealedMemtable {
  /** Id of the sealed memtable; the segment flushed from it gets the same id. */
  readonly id: number;
  readonly memtable: Memtable;
}

/** Cap on the presized capacity of a new memtable (a flood of tiny entries must not reserve GBs). */
const MAX_PRESIZED_ENTRIES = 4 * 1024 * 1024;

/**
 * The tree's memtables: one active memtable that takes the writes, and the sealed ones waiting
 * for their flush, readable until the segment written from each is registered. Sealed memtables
 * are kept by id in the order they were sealed, so the last one holds the newest data.
 *
 * @example
 * ```ts
 * const memtables = new MemtableSet();
 * memtables.active.insert(key, value, 7, ValueKind.Value);
 * const sealed = memtables.seal(segmentId); // a fresh active memtable takes the next writes
 * memtables.freeSealed(sealed.id); // once the segment is registered
 * ```
 */
export class MemtableSet {
  private activeMemtable = new Memtable();
  private readonly sealed = new Map<number, Memtable>();
  /** The sealed memtables from the oldest, kept beside the map so reads allocate nothing. */
  private sealedList: Memtable[] = [];
  /** True when a sealed memtable holds range tombstones. */
  private sealedTombstones = false;

  /** The memtable that takes writes. */
  get active(): Memtable {
    return this.activeMemtable;
  }

  /**
   * Seals the active memtable under `id` and starts a new one; the caller checked that the active
   * memtable holds an entry.
   */
  seal(id: number): SealedMemtable {
    const memtable = this.activeMemtable;
    this.sealed.set(id, memtable);
    this.sealedChanged();
    // Sized like the one just sealed: under a steady workload the next memtable then never grows
    // (growing copies its arrays on the main thread and leaves the old copies as garbage).
    this.activeMemtable = new Memtable(Math.min(memtable.length, MAX_PRESIZED_ENTRIES));
    return { id, memtable };
  }

  /** Replaces the active memtable (recovery: fill one from the log, then install it). */
  setActive(memtable: Memtable): void {
    this.activeMemtable = memtable;
  }

  /** Adds a sealed memtable under `id` (recovery from journals). */
  addSealed(id: number, memtable: Memtable): void {
    invariant(!this.sealed.has(id), 'sealed memtable id already in use');
    this.sealed.set(id, memtable);
    this.sealedChanged();
  }

  /** Drops a sealed memtable (its segment is registered). */
  freeSealed(id: number): void {
    if (this.sealed.delete(id)) this.sealedChanged();
  }

  /** Approximate bytes of every memtable, active and sealed (charged to a memory budget). */
  sizeBytes(): number {
    let total = this.activeMemtable.approximateSizeBytes();
    for (const memtable of this.sealedList) total += memtable.approximateSizeBytes();
    return total;
  }

  /** True when any memtable holds a range tombstone: reads must then look for them. */
  hasRangeTombstones(): boolean {
    return this.sealedTombstones || this.activeMemtable.hasRangeTombstones();
  }

  /** The sealed memtables, oldest first (do not change the array). */
  sealedOldestFirst(): readonly Memtable[] {
    return this.sealedList;
  }

  /**
   * Drops the active memtable's entries above `seqno` by copying the others into a fresh active
   * memtable; returns how many were dropped. Sealed memtables must hold nothing above `seqno`.
   * Readers of the old memtable keep it (it no longer changes).
   */
  discardActiveAbove(seqno: number): number {
    for (const memtable of this.sealed.values()) {
      invariant(
        isAtOrBelow(memtable.getHighestSeqno(), seqno),
        'a sealed memtable holds entries to discard',
      );
    }
    const old = this.activeMemtable;
    if (isAtOrBelow(old.getHighestSeqno(), seqno)) return 0;
    const kept = new Memtable(Math.min(old.length, MAX_PRESIZED_ENTRIES));
    // Backwards: an insert places an entry before an equal (key, seqno), so copying from the last
    // entry keeps repeated writes of one key at one seqno in their order (the last one wins).
    let dropped = 0;
    const tombstones = old.rangeTombstones();
    if (tombstones !== undefined) {
      for (const piece of tombstones.pieces()) {
        if (piece.seqno > seqno) dropped++;
        else kept.insertRangeTombstone(piece.start, piece.end, piece.seqno);
      }
    }
    for (let at = old.last(); at !== NIL; at = old.previous(at)) {
      if (old.seqnoAt(at) > seqno) continue;
      const keyOffset = old.keyOffsetAt(at);
      const keyLength = old.keyLengthAt(at);
      kept.insertFrom(
        old.slabAt(at),
        keyOffset,
        keyLength,
        keyOffset + keyLength,
        old.valueLengthAt(at),
        old.seqnoAt(at),
        old.kindAt(at),
      );
    }
    this.activeMemtable = kept;
    return dropped + old.length - kept.length;
  }

  /**
   * The newest version of `key` below `seqno` in any memtable: the active one first, then the
   * sealed ones from the newest.
   */
  get(key: Uint8Array, seqno: number): InternalEntry | undefined {
    const fromActive = this.activeMemtable.get(key, seqno);
    if (fromActive !== undefined) return fromActive;
    const sealed = this.sealedList;
    for (let i = sealed.length - 1; i >= 0; i--) {
      const entry = sealed[i]!.get(key, seqno);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  /** Every memtable: the active one, then the sealed ones from the oldest. */
  all(): Memtable[] {
    return [this.activeMemtable, ...this.sealedList];
  }

  /** Id of the oldest sealed memtable still to flush, `Infinity` when none is. */
  oldestSealedId(): number {
    let oldest = Infinity;
    for (const id of this.sealed.keys()) oldest = Math.min(oldest, id);
    return oldest;
  }

  /** Highest seqno in any memtable, or `undefined` when all are empty. */
  highestSeqno(): number | undefined {
    let highest = this.activeMemtable.getHighestSeqno();
    for (const memtable of this.sealed.values()) {
      highest = higherSeqno(highest, memtable.getHighestSeqno());
    }
    return highest;
  }

  /** Entries in every memtable, versions, tombstones and range tombstone pieces included. */
  entryCount(): number {
    let n = this.activeMemtable.length + this.activeMemtable.rangeTombstoneCount;
    for (const memtable of this.sealedList) n += memtable.length + memtable.rangeTombstoneCount;
    return n;
  }

  private sealedChanged(): void {
    this.sealedList = [...this.sealed.values()];
    this.sealedTombstones = this.sealedList.some((m) => m.hasRangeTombstones());
  }
}
