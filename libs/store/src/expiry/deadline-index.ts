import { invariant } from '@strata/core';
import type { ExpiringEntry } from '@strata/engine';
import { DeadlineHeap } from './deadline-heap.js';
import type { Deadline } from './deadline-heap.js';

/**
 * The deadlines of the store's expiring puts, earliest first: how the leader finds the keys whose
 * time to live ended without scanning keys. Fed by every applied put that carries a deadline, and
 * rebuilt from the tree (`Tree.expiringEntries`, which reads each segment's expiry block, not its
 * data) when the store opens.
 *
 * Bounded: it holds at most `maxEntries` deadlines in memory. A deadline that does not fit is left
 * out and remembered only as the horizon (the earliest deadline left out); once the clock reaches
 * the horizon the index is rebuilt from the tree, keeping the earliest `maxEntries` again. So a
 * store with more expiring keys than the bound pays a rebuild per `maxEntries` expiries instead of
 * memory per key. Entries may be stale (the key was written again since): the expiry writer checks
 * each against the key's current version before deleting.
 */
export class DeadlineIndex {
  private heap = new DeadlineHeap();
  private horizon = Number.POSITIVE_INFINITY;
  /** Deadlines added while a rebuild streams the tree (it may have passed their keys already). */
  private addedDuringRebuild: Deadline[] | undefined;

  constructor(readonly maxEntries: number) {
    invariant(Number.isSafeInteger(maxEntries) && maxEntries > 0, 'deadline index bound');
  }

  /** Deadlines held in memory. */
  get size(): number {
    return this.heap.size;
  }

  /** The earliest deadline left out for lack of room (`Infinity` when none was). */
  get horizonMs(): number {
    return this.horizon;
  }

  /** Records that the put of `key` at `seqno` expires at `expiresAtMs` (`key` is kept: copy views). */
  add(key: Buffer, seqno: number, expiresAtMs: number): void {
    this.addedDuringRebuild?.push({ key, seqno, expiresAtMs });
    if (expiresAtMs >= this.horizon) return;
    if (this.heap.size >= this.maxEntries) {
      this.horizon = expiresAtMs;
      return;
    }
    this.heap.push({ key, seqno, expiresAtMs });
  }

  /** When the writer must next look: the earliest deadline held or the horizon, if any. */
  nextCheckAtMs(): number | undefined {
    const first = this.heap.peek()?.expiresAtMs ?? Number.POSITIVE_INFINITY;
    const next = Math.min(first, this.horizon);
    return next === Number.POSITIVE_INFINITY ? undefined : next;
  }

  /** True when deadlines left out may be due at `nowMs`: {@link rebuild} before taking more. */
  needsRebuild(nowMs: number): boolean {
    return this.horizon !== Number.POSITIVE_INFINITY && nowMs >= this.horizon;
  }

  /** Removes and returns up to `limit` deadlines at or before `nowMs`, earliest first. */
  takeDue(nowMs: number, limit: number): Deadline[] {
    const due: Deadline[] = [];
    while (due.length < limit) {
      const first = this.heap.peek();
      if (first === undefined || first.expiresAtMs > nowMs) break;
      due.push(this.heap.pop()!);
    }
    return due;
  }

  /**
   * Replaces the index with the earliest `maxEntries` deadlines of `entries` (the tree's expiring
   * entries, streamed); the horizon becomes the earliest one left out. With `isCurrent`, an entry
   * due by `nowMs` is kept only if it is still its key's newest version: the tree keeps expired
   * puts (under their expiry deletes) until compaction drops them, and without the check a
   * rebuild would hand the same already-expired entries back forever.
   */
  async rebuild(
    entries: AsyncIterable<ExpiringEntry>,
    nowMs = Number.NEGATIVE_INFINITY,
    isCurrent?: (entry: ExpiringEntry) => Promise<boolean>,
  ): Promise<void> {
    // The latest deadline on top, so the earliest maxEntries survive the stream.
    const kept = new DeadlineHeap(true);
    let horizon = Number.POSITIVE_INFINITY;
    this.addedDuringRebuild = [];
    try {
      for await (const entry of entries) {
        if (isCurrent !== undefined && entry.expiresAtMs <= nowMs && !(await isCurrent(entry))) {
          continue;
        }
        const item: Deadline = {
          key: Buffer.from(entry.key),
          seqno: entry.seqno,
          expiresAtMs: entry.expiresAtMs,
        };
        kept.push(item);
        if (kept.size > this.maxEntries) {
          const evicted = kept.pop()!;
          if (evicted.expiresAtMs < horizon) horizon = evicted.expiresAtMs;
        }
      }
    } catch (error) {
      this.addedDuringRebuild = undefined;
      throw error;
    }
    const added = this.addedDuringRebuild;
    this.addedDuringRebuild = undefined;
    const heap = new DeadlineHeap();
    for (const item of kept.drain()) heap.push(item);
    this.heap = heap;
    this.horizon = horizon;
    // Applied while the tree was streamed: possibly missed by it (duplicates are harmless).
    for (const item of added) this.add(item.key, item.seqno, item.expiresAtMs);
  }
}
