import { invariant } from '@strata/core';
import type { LogEntry } from '@strata/wal';

/**
 * The batches the log has admitted (their seqnos are taken) and the store has not yet published,
 * oldest first. A conditional write must see them: a write admitted before it is ordered before
 * it, durable or not. Admission and publication both happen in seqno order, so this is a FIFO:
 * one push per write, one shift per publication, no per-key work (the unconditional hot path
 * pays two array writes per batch and nothing else).
 */
export class UnpublishedBatches {
  private firstSeqnos: number[] = [];
  private entryLists: (readonly LogEntry[])[] = [];
  private head = 0;

  /** Batches admitted and not yet published. */
  get size(): number {
    return this.firstSeqnos.length - this.head;
  }

  /** Records a batch the log just admitted at `firstSeqno`. */
  admitted(firstSeqno: number, entries: readonly LogEntry[]): void {
    const previous = this.firstSeqnos[this.firstSeqnos.length - 1];
    invariant(
      this.size === 0 || (previous !== undefined && previous < firstSeqno),
      `batch admitted at ${firstSeqno} after one at ${previous}`,
    );
    this.firstSeqnos.push(firstSeqno);
    this.entryLists.push(entries);
  }

  /** Forgets every batch that ends at or below `lastSeqno` (they are published). */
  publishedThrough(lastSeqno: number): void {
    while (this.head < this.firstSeqnos.length) {
      const entries = this.entryLists[this.head] as readonly LogEntry[];
      if ((this.firstSeqnos[this.head] as number) + entries.length - 1 > lastSeqno) break;
      this.head++;
    }
    if (this.head === this.firstSeqnos.length) {
      this.firstSeqnos.length = 0;
      this.entryLists.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.firstSeqnos.length) {
      this.firstSeqnos = this.firstSeqnos.slice(this.head);
      this.entryLists = this.entryLists.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Forgets the batch admitted at `firstSeqno` (its append failed: the log gave its seqnos back).
   * Rare, so a search and a splice are fine.
   */
  refused(firstSeqno: number): void {
    const at = this.firstSeqnos.indexOf(firstSeqno, this.head);
    if (at < 0) return;
    this.firstSeqnos.splice(at, 1);
    this.entryLists.splice(at, 1);
  }

  /** Calls `visit` for every unpublished batch, oldest first. */
  forEach(visit: (firstSeqno: number, entries: readonly LogEntry[]) => void): void {
    for (let index = this.head; index < this.firstSeqnos.length; index++) {
      visit(this.firstSeqnos[index] as number, this.entryLists[index] as readonly LogEntry[]);
    }
  }
}
