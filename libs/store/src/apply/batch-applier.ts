import { invariant } from '@strata/core';
import type { Tree } from '@strata/engine';
import { LogOp, visitEntries } from '@strata/wal';
import type { AppendResult, LogEntry } from '@strata/wal';
import type { BackgroundJobs } from '../background-jobs.js';
import type { RecentRecords } from '../change-feed/recent-records.js';
import type { CommitNotifier } from '../commit-notifier.js';
import type { HistoryWindow } from '../read/history-window.js';
import { RecordApplier } from './record-applier.js';
import type { DeadlineListener } from './record-applier.js';

/** How many batches are in the memtable while their log write is in flight (see EarlyApply). */
export interface EarlyBatchCount {
  readonly inFlight: number;
}

/**
 * Applies committed batches to the memtable and makes them visible, in seqno order, by one of
 * three routes: a local write's entries ({@link publish}, unless they were inserted early), or a
 * replicated record's bytes ({@link applyRecord}). Whatever the route, {@link applied} follows:
 * the applied seqno, the change feed's recent records, the history window and the memtable's
 * seal. Recovery's replay is the fourth route (see recovery.ts): it applies below the history
 * window and before anyone can read.
 */
export class BatchApplier {
  private appliedBytesTotal = 0;
  /** Applies replicated records (one instance: applying allocates nothing per record). */
  private readonly recordApplier: RecordApplier;

  constructor(
    private readonly tree: Tree,
    private readonly notifier: CommitNotifier,
    private readonly recent: RecentRecords,
    private readonly history: HistoryWindow,
    private readonly jobs: BackgroundJobs,
    private readonly memtableSizeBytes: number,
    private readonly early: EarlyBatchCount,
    private readonly onDeadline: DeadlineListener,
  ) {
    this.recordApplier = new RecordApplier(tree, 0, onDeadline);
  }

  /** Bytes of log records applied since open (a running total). */
  get appliedBytes(): number {
    return this.appliedBytesTotal;
  }

  /**
   * Makes a written batch visible: inserts its `entries` first, or none when they were applied
   * early (`undefined`). Called by the ordered commit, in seqno order.
   */
  publish(appended: AppendResult, entries: readonly LogEntry[] | undefined): void {
    if (entries === undefined) {
      this.applied(appended.firstSeqno, appended.lastSeqno, appended.bytes);
    } else this.apply(appended.firstSeqno, entries, appended.bytes);
  }

  /** Applies a record the log verified, straight from its bytes (replicated appends). */
  applyRecord(firstSeqno: number, lastSeqno: number, record: Buffer): void {
    this.recordApplier.firstSeqno = firstSeqno;
    visitEntries(record, this.recordApplier);
    this.applied(firstSeqno, lastSeqno, record);
  }

  /** Inserts a committed batch into the memtable and makes it visible, in seqno order. */
  private apply(firstSeqno: number, entries: readonly LogEntry[], record: Buffer): void {
    insertEntries(this.tree, firstSeqno, entries, this.onDeadline);
    this.applied(firstSeqno, firstSeqno + entries.length - 1, record);
  }

  /** What follows every applied batch: visibility, the change feed, history and flushing. */
  private applied(firstSeqno: number, lastSeqno: number, record: Buffer): void {
    invariant(
      firstSeqno === this.notifier.applied + 1,
      `batch at ${firstSeqno} applied after ${this.notifier.applied}`,
    );
    this.recent.push({ firstSeqno, lastSeqno, bytes: record });
    this.appliedBytesTotal += record.length;
    this.notifier.advance(lastSeqno);
    this.history.onApplied(lastSeqno);
    // Sealed only when no early batch is in it (see EarlyApply); past the size no new batch is
    // applied early, so a later publish seals it.
    if (this.early.inFlight === 0 && this.tree.activeMemtableSize() >= this.memtableSizeBytes)
      void this.jobs.scheduleFlush();
  }
}

/**
 * Inserts a batch's entries into the active memtable, the first at `firstSeqno`; `onDeadline`
 * learns of each put that expires.
 */
export function insertEntries(
  tree: Tree,
  firstSeqno: number,
  entries: readonly LogEntry[],
  onDeadline: DeadlineListener,
): void {
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as LogEntry;
    if (entry.op === LogOp.Put) {
      const expiresAtMs = entry.expiresAtMs ?? 0;
      tree.insert(entry.key, entry.value, firstSeqno + index, expiresAtMs);
      // The key may be a view of a caller's buffer: the index keeps a copy.
      if (expiresAtMs !== 0) onDeadline(Buffer.from(entry.key), firstSeqno + index, expiresAtMs);
    } else if (entry.op === LogOp.Delete) tree.remove(entry.key, firstSeqno + index);
    else if (entry.op === LogOp.DeleteRange) {
      tree.removeRange(entry.key, entry.value, firstSeqno + index);
    } else {
      // EpochStart takes a seqno and changes no key; it is told apart from an empty-key entry by
      // its op alone (the empty key is an ordinary key).
      invariant(
        entry.op === LogOp.EpochStart && entry.key.length === 0 && entry.value.length === 0,
        'an entry that is neither a write nor an epoch start',
      );
    }
  }
}
