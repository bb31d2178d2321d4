import PQueue from 'p-queue';
import type { CompactionStrategy, Tree } from '@strata/engine';
import { isJobCancelledError } from '@strata/engine';
import type { Wal } from '@strata/wal';
import type { StallEvent, StoreEventEmitter } from './store-events.js';

/** How hard writers should be held back. */
export type WritePressure = 'none' | 'slow' | 'stop';

/** Limits that trigger write slowdowns and stops. */
export interface BackgroundLimits {
  readonly maxSealedMemtables: number;
  readonly level0SlowdownSegments: number;
  readonly level0StopSegments: number;
}

/** Counters for metrics and tests; bytes and durations are totals since open. */
export interface BackgroundStats {
  readonly flushes: number;
  /** Bytes of segment files written by flushes. */
  readonly flushedBytes: number;
  /** Time spent in flushes (worker time plus registering the segment). */
  readonly flushDurationMs: number;
  /** Compaction steps that changed the levels. */
  readonly compactions: number;
  /** Time spent in compaction steps. */
  readonly compactionDurationMs: number;
  /** Bytes of segment files compaction steps took out of the levels (merge inputs, drops). */
  readonly compactionInputBytes: number;
  /** Bytes of segment files compaction steps wrote. */
  readonly compactionOutputBytes: number;
  readonly sealedMemtables: number;
  readonly droppedLogSegments: number;
}

/**
 * Flushes and compactions as queued jobs (p-queue): one flush at a time, in seal order (a later
 * memtable must never be registered before an earlier one, or recovery would skip the earlier
 * one's log records), and one compaction at a time beside it. The tree runs the file work in
 * worker threads. Writers consult {@link pressure} and wait on {@link waitForCapacity}. Each
 * flush and each compaction step that changed the levels is reported through `events`.
 */
export class BackgroundJobs {
  private readonly flushQueue = new PQueue({ concurrency: 1 });
  private readonly compactionQueue = new PQueue({ concurrency: 1 });
  private sealed = 0;
  private flushes = 0;
  private flushedBytes = 0;
  private flushDurationMs = 0;
  private compactions = 0;
  private compactionDurationMs = 0;
  private compactionInputBytes = 0;
  private compactionOutputBytes = 0;
  private droppedLogSegments = 0;
  private compactionQueued = false;
  private logPins = 0;
  private stopped = false;
  private capacityWaiters: (() => void)[] = [];

  constructor(
    private readonly tree: Tree,
    private readonly wal: Wal,
    private readonly strategy: CompactionStrategy,
    private readonly limits: BackgroundLimits,
    private readonly events: StoreEventEmitter,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  /** Seals the active memtable, if it holds anything, and queues its flush. */
  scheduleFlush(): Promise<void> {
    const sealed = this.tree.rotateMemtable();
    if (!sealed) return this.flushQueue.onIdle();
    this.sealed++;
    return this.flushQueue.add(async () => {
      try {
        if (this.stopped) return;
        const started = performance.now();
        // Under `none` or `interval` the log may not be durable yet through this memtable; a
        // segment must never hold what a power loss could take from the log.
        const highestSeqno = sealed.memtable.getHighestSeqno();
        if (highestSeqno !== undefined) await this.wal.syncThrough(highestSeqno);
        const segment = await this.tree.flushMemtable(sealed.id, sealed.memtable);
        await this.tree.registerSegments([segment]);
        const durationMs = performance.now() - started;
        this.flushes++;
        this.flushedBytes += segment.meta.fileSizeBytes;
        this.flushDurationMs += durationMs;
        this.events.emit('flush', { segmentBytes: segment.meta.fileSizeBytes, durationMs });
        // The log below the flushed seqno is no longer needed for recovery.
        const flushedSeqno = this.tree.getHighestPersistedSeqno();
        if (flushedSeqno !== undefined && this.logPins === 0) {
          const dropped = await this.wal.dropBefore(flushedSeqno + 1);
          this.droppedLogSegments += dropped.droppedFiles.length;
        }
        this.scheduleCompaction();
      } catch (error) {
        // Cancelled by stop(): the memtable stays in the log, replayed by the next open.
        if (!(this.stopped && isJobCancelledError(error))) this.onFailure(error);
      } finally {
        this.sealed--;
        this.wake();
      }
    });
  }

  /** Queues compaction steps until the strategy has nothing left to do (one queued at a time). */
  scheduleCompaction(): void {
    if (this.compactionQueued || this.stopped) return;
    this.compactionQueued = true;
    void this.compactionQueue.add(async () => {
      try {
        for (let step = 0; step < 64 && !this.stopped; step++) {
          // Flushes go first: while one is pending, let it run before more compaction.
          if (this.flushQueue.size > 0) await this.flushQueue.onIdle();
          const started = performance.now();
          const result = await this.tree.compact(this.strategy);
          if (result === undefined) break;
          const durationMs = performance.now() - started;
          this.compactions++;
          this.compactionDurationMs += durationMs;
          this.compactionInputBytes += result.inputBytes;
          this.compactionOutputBytes += result.outputBytes;
          this.events.emit('compaction', { ...result, durationMs });
          this.wake();
        }
      } catch (error) {
        // Cancelled by stop(): the inputs are still the levels' segments, nothing to undo.
        if (!(this.stopped && isJobCancelledError(error))) this.onFailure(error);
      } finally {
        this.compactionQueued = false;
        this.wake();
      }
    });
  }

  /** Keeps log retention from dropping segments until the returned function is called. */
  pinLog(): () => void {
    this.logPins++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.logPins--;
      }
    };
  }

  /** How writers should behave given sealed memtables and level-0 segments. */
  pressure(): WritePressure {
    const level0 = this.tree.firstLevelSegmentCount();
    if (this.sealed >= this.limits.maxSealedMemtables || level0 >= this.limits.level0StopSegments)
      return 'stop';
    if (level0 >= this.limits.level0SlowdownSegments) return 'slow';
    return 'none';
  }

  /**
   * Resolves once writers may go on (pressure below `stop`, or the jobs were stopped). A wait is
   * reported as a `stall` event, with what caused it and how long it lasted.
   */
  async waitForCapacity(): Promise<void> {
    if (this.stopped || this.pressure() !== 'stop') return;
    const cause: StallEvent['cause'] =
      this.sealed >= this.limits.maxSealedMemtables ? 'sealed-memtables' : 'level0-segments';
    const started = performance.now();
    while (!this.stopped && this.pressure() === 'stop') {
      await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    }
    this.events.emit('stall', { cause, durationMs: performance.now() - started });
  }

  /** Counters for metrics. */
  stats(): BackgroundStats {
    return {
      flushes: this.flushes,
      flushedBytes: this.flushedBytes,
      flushDurationMs: Math.round(this.flushDurationMs),
      compactions: this.compactions,
      compactionDurationMs: Math.round(this.compactionDurationMs),
      compactionInputBytes: this.compactionInputBytes,
      compactionOutputBytes: this.compactionOutputBytes,
      sealedMemtables: this.sealed,
      droppedLogSegments: this.droppedLogSegments,
    };
  }

  /** Waits for queued flushes (and compactions, if `includeCompactions`) to finish. */
  async idle(includeCompactions = true): Promise<void> {
    await this.flushQueue.onIdle();
    if (includeCompactions) await this.compactionQueue.onIdle();
  }

  /**
   * Stops starting new work, cancels the running flush and compaction (they stop at their next
   * write: a close must not wait seconds for file work whose input the log still holds), waits
   * for them to settle, and releases waiting writers. Queued flushes do nothing: their memtables
   * are replayed from the log by the next open.
   */
  async stop(): Promise<void> {
    this.cancel();
    await this.flushQueue.onIdle();
    await this.compactionQueue.onIdle();
    this.wake();
  }

  /**
   * The synchronous start of {@link stop}: no job starts from now on and running ones stop at
   * their next write. A close calls it first thing, before it waits for anything.
   */
  cancel(): void {
    this.stopped = true;
    this.tree.cancelBackgroundJobs();
    this.compactionQueue.clear();
  }

  private wake(): void {
    for (const resolve of this.capacityWaiters.splice(0)) resolve();
  }
}
