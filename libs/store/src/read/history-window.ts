import { StrataError } from '@strata/core';
import type { Snapshot, Tree } from '@strata/engine';
import type { CommitNotifier } from '../commit-notifier.js';

/**
 * The window of recent seqnos that `at` reads see exactly: an engine snapshot at the window's
 * floor keeps the versions at or above it through compaction. The floor follows the applied
 * seqno in steps of a quarter window, not on every write.
 */
export class HistoryWindow {
  /** Engine snapshot that keeps versions at or above `floor` through compaction. */
  private snapshot: Snapshot | undefined;
  private floor = 0;

  constructor(
    private readonly tree: Tree,
    private readonly notifier: CommitNotifier,
    private readonly retentionSeqnos: number,
  ) {}

  /** The oldest seqno that `at` reads can still see exactly. */
  get oldestReadableSeqno(): number {
    return Math.max(0, this.floor - 1);
  }

  /** Called after every applied batch: moves the floor once it lags a quarter window behind. */
  onApplied(lastSeqno: number): void {
    if (lastSeqno - this.floor > this.retentionSeqnos * 1.25 + 1) this.move();
  }

  /** Moves the floor to the window below the applied seqno (and takes the first snapshot). */
  move(): void {
    const floor = Math.max(0, this.notifier.applied + 1 - this.retentionSeqnos);
    if (this.snapshot && floor <= this.floor) return;
    const previous = this.snapshot;
    this.snapshot = this.tree.snapshot(floor);
    this.floor = floor;
    previous?.close();
  }

  /**
   * The engine read seqno for a read at `at` (undefined: the latest applied state).
   *
   * @throws StrataError `INVALID_ARGUMENT` for a bad `at`, `HISTORY_TRUNCATED` below the window,
   * `FUTURE_SEQNO` above the last applied seqno (so that a read at an accepted `at` is repeatable).
   */
  readSeqno(at: number | undefined): number {
    const applied = this.notifier.applied;
    if (at === undefined) return applied + 1;
    if (!Number.isSafeInteger(at) || at < 0) {
      throw new StrataError('INVALID_ARGUMENT', `at must be a non-negative integer, got ${at}`);
    }
    if (at < this.oldestReadableSeqno) {
      throw new StrataError(
        'HISTORY_TRUNCATED',
        `seqno ${at} is older than the readable history, which starts at ${this.oldestReadableSeqno}; replay the log for older states`,
        {
          details: {
            requestedSeqno: at,
            oldestReadableSeqno: this.oldestReadableSeqno,
            firstSeqno: this.oldestReadableSeqno,
          },
        },
      );
    }
    if (at > applied) {
      // Answering with today's state would not be repeatable: the same read would see more after
      // the next write. The caller waits for the seqno first (HTTP: minSeqno) or reads at or below it.
      throw new StrataError(
        'FUTURE_SEQNO',
        `seqno ${at} is beyond the last applied seqno ${applied}; wait for it (minSeqno) or read at or below ${applied}`,
        { details: { requestedSeqno: at, lastSeqno: applied } },
      );
    }
    // Engine reads are exclusive: seqno S sees every write below S.
    return at + 1;
  }

  /** Lets compaction drop the versions the window kept (the store is closing). */
  close(): void {
    this.snapshot?.close();
  }
}
