import { invariant } from '@strata/core';
import type { AppendResult, LogEntry } from '@strata/wal';
import type { CommitNotifier } from '../commit-notifier.js';

/** Makes one written batch visible; {@link OrderedCommit} calls it in seqno order. */
export interface BatchPublisher {
  /**
   * Inserts `entries` into the memtable (none when the batch was applied early: `undefined`) and
   * advances the applied seqno through `appended.lastSeqno`.
   */
  publish(appended: AppendResult, entries: readonly LogEntry[] | undefined): void;
}

/** A written batch waiting for an earlier one to be published. */
interface ParkedBatch {
  readonly appended: AppendResult;
  /** The entries to insert on publication, or `undefined` when they were applied early. */
  readonly entries: readonly LogEntry[] | undefined;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Publishes written batches in seqno order. Batches written in one group resolve together, and an
 * early batch's continuation takes more promise hops than a plain one, so they may arrive out of
 * seqno order; a batch that arrives early is parked here until its predecessors are published,
 * then published by the call that publishes the last of them.
 *
 * @example
 * ```ts
 * const commit = new OrderedCommit(notifier, applier);
 * await commit.publishInOrder(appended, entries); // resolves once published, after every earlier batch
 * ```
 */
export class OrderedCommit {
  private readonly parkedBatches = new Map<number, ParkedBatch>();

  constructor(
    private readonly notifier: CommitNotifier,
    private readonly publisher: BatchPublisher,
  ) {}

  /**
   * Publishes a written batch (inserting its `entries` first unless it was applied early) once
   * every earlier batch is published: now, returning `undefined` (no promise, no hop), or later,
   * returning a promise that resolves when it is.
   *
   * @throws StrataError `INTERNAL` when the batch starts at or below the applied seqno, or a
   * batch starting at the same seqno is already parked (a seqno would be published twice).
   */
  publishInOrder(
    appended: AppendResult,
    entries: readonly LogEntry[] | undefined,
  ): Promise<void> | undefined {
    if (appended.firstSeqno !== this.notifier.applied + 1) {
      invariant(
        appended.firstSeqno > this.notifier.applied + 1 &&
          !this.parkedBatches.has(appended.firstSeqno),
        `batch at ${appended.firstSeqno} published after ${this.notifier.applied}`,
      );
      return new Promise<void>((resolve, reject) =>
        this.parkedBatches.set(appended.firstSeqno, { appended, entries, resolve, reject }),
      );
    }
    this.publisher.publish(appended, entries);
    for (;;) {
      const next = this.parkedBatches.get(this.notifier.applied + 1);
      if (next === undefined) return undefined;
      this.parkedBatches.delete(next.appended.firstSeqno);
      this.publisher.publish(next.appended, next.entries);
      next.resolve();
    }
  }

  /** Batches waiting for an earlier one. */
  get parkedCount(): number {
    return this.parkedBatches.size;
  }

  /**
   * Rejects every parked batch with `error` and forgets them: the store failed. The log rejects
   * every append after a failed one, so none should be parked; this makes sure none hangs.
   */
  rejectParked(error: Error): void {
    for (const parked of this.parkedBatches.values()) parked.reject(error);
    this.parkedBatches.clear();
  }
}
