import type { Tree } from '@strata/engine';
import type { AppendResult, LogEntry, Wal } from '@strata/wal';
import { insertEntries } from '../apply/batch-applier.js';
import type { DeadlineListener } from '../apply/record-applier.js';
import type { BackgroundJobs } from '../background-jobs.js';
import type { Lifecycle } from '@strata/core';

/**
 * Batches of at least this many entries are inserted into the memtable while their log write is
 * in flight (W1 fill of 1M keys in batches of 1,000: the insert took as long as the write).
 */
const EARLY_APPLY_MIN_ENTRIES = 64;

/**
 * Early apply: a large batch goes into the active memtable while the log writes it, so that the
 * insert and the write overlap. Such a batch stays invisible until it is published (reads stop
 * below the applied seqno), and while any is in the memtable, the memtable must not be sealed: a
 * flushed segment would hold a write the log may still refuse. When the log refuses writes
 * (ENOSPC), what was applied early for them leaves the memtable again.
 *
 * The write path brackets an early batch with {@link started} and {@link finished}; an explicit
 * flush seals through {@link sealAndFlush}, which waits for them.
 */
export class EarlyApply {
  /** Batches inserted into the active memtable while their log write is in flight. */
  private earlyApplied = 0;
  /** Callers waiting for {@link earlyApplied} to reach 0 (they want to seal the memtable). */
  private earlyAppliedWaiters: (() => void)[] = [];
  /** While positive, new writes are applied after their log write, so that early ones drain. */
  private sealWanted = 0;
  /** Counts the log's refusals (ENOSPC): an early insert checks that its write was not refused. */
  private refusals = 0;

  constructor(
    private readonly tree: Tree,
    private readonly wal: Wal,
    private readonly jobs: BackgroundJobs,
    private readonly memtableSizeBytes: number,
    private readonly lifecycle: Lifecycle,
    private readonly onDeadline: DeadlineListener,
  ) {}

  /** Batches in the memtable whose log write is still in flight. */
  get inFlight(): number {
    return this.earlyApplied;
  }

  /**
   * Whether a batch of `entryCount` entries goes into the memtable while its log write is in
   * flight. Only batches large enough for the insert to matter (a single put's insert is a
   * microsecond); never while a seal waits for early batches to drain, nor past the memtable's
   * size, where the next publish seals it.
   */
  mayApplyEarly(entryCount: number): boolean {
    return (
      entryCount >= EARLY_APPLY_MIN_ENTRIES &&
      this.sealWanted === 0 &&
      this.lifecycle.failure === undefined &&
      this.tree.activeMemtableSize() < this.memtableSizeBytes
    );
  }

  /** An early batch begins: from here until {@link finished} the memtable is not sealed. */
  started(): void {
    this.earlyApplied++;
  }

  /**
   * Inserts an admitted batch while the log writes it, then waits for the write. The insert waits
   * one microtask first, so that the log's writer has issued the write and the two overlap.
   */
  async applyEarly(
    firstSeqno: number,
    entries: readonly LogEntry[],
    appending: Promise<AppendResult>,
  ): Promise<AppendResult> {
    const refusals = this.refusals;
    await Promise.resolve();
    // A refusal in between already discarded what was applied early; this batch was part of it.
    if (this.refusals === refusals) insertEntries(this.tree, firstSeqno, entries, this.onDeadline);
    return appending;
  }

  /** The early batch's write settled (written or failed). */
  finished(): void {
    this.earlyApplied--;
    if (this.earlyApplied === 0)
      for (const resolve of this.earlyAppliedWaiters.splice(0)) resolve();
  }

  /**
   * The log refused every append from `nextSeqno` on (ENOSPC) and will hand those seqnos out
   * again: entries applied early for them must leave the memtable. Runs synchronously inside the
   * log's failure handling, before any other append is admitted.
   */
  discardRefused(nextSeqno: number): void {
    this.refusals++;
    if (this.earlyApplied > 0) this.tree.discardActiveAbove(nextSeqno - 1);
  }

  /**
   * Seals the active memtable and queues its flush, once no batch in it is still being written:
   * meanwhile new writes apply after their write, so the wait ends. The seal follows the wait in
   * the same turn, so no early batch can slip in between.
   */
  async sealAndFlush(): Promise<void> {
    this.sealWanted++;
    try {
      while (this.earlyApplied > 0) {
        await new Promise<void>((resolve) => this.earlyAppliedWaiters.push(resolve));
      }
    } finally {
      this.sealWanted--;
    }
    // An early batch whose write failed is still in the memtable: it must never be flushed.
    if (this.lifecycle.failure) throw this.lifecycle.failure;
    if (this.wal.status === 'failed') return;
    await this.jobs.scheduleFlush();
  }
}
