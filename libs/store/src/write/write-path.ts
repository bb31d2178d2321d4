import { StrataError, isStrataError } from '@strata/core';
import { LogOp, readRecordHeader } from '@strata/wal';
import type { AppendResult, LogEntry, Wal } from '@strata/wal';
import type { BatchApplier } from '../apply/batch-applier.js';
import type { BackgroundJobs } from '../background-jobs.js';
import type { Lifecycle } from '@strata/core';
import type { EarlyApply } from './early-apply.js';
import type { OrderedCommit } from './ordered-commit.js';
import type { ConditionCheck } from './condition-check.js';
import type { Conflict, WriteConditions } from './conditions.js';
import type { UnpublishedBatches } from './unpublished-batches.js';

/** What a single put or delete resolves with. */
export interface WriteResult {
  readonly seqno: number;
  readonly epoch: number;
}

/** What an atomic batch resolves with. */
export interface BatchResult {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly epoch: number;
}

/** What {@link Store.appendReplicated} did with a record. */
export interface ReplicatedResult {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** True when the record was already in the log (it was ignored). */
  readonly duplicate: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * The store's two ways into the log: local writes (seqnos taken and the append issued in one
 * synchronous step, the memtable insert overlapped with the write for large batches, publication
 * in seqno order) and replicated records (appended byte for byte, applied from their bytes). It
 * stamps writes with the epoch, holds writers back under background pressure, counts writes in
 * flight for close, and fail-stops the store when the log fails.
 */
export class WritePath {
  private epochValue: number;
  private inFlightWrites = 0;
  private writesDrained: (() => void) | undefined;

  constructor(
    private readonly wal: Wal,
    private readonly jobs: BackgroundJobs,
    private readonly lifecycle: Lifecycle,
    private readonly early: EarlyApply,
    private readonly commit: OrderedCommit,
    private readonly applier: BatchApplier,
    private readonly unpublished: UnpublishedBatches,
    private readonly conditionCheck: ConditionCheck,
    epoch: number,
  ) {
    this.epochValue = epoch;
  }

  /** The epoch stamped on new writes. */
  get epoch(): number {
    return this.epochValue;
  }

  /** Writes accepted and not yet settled. */
  get inFlight(): number {
    return this.inFlightWrites;
  }

  /** Resolves once the writes in flight have settled (close waits for them). */
  drained(): Promise<void> {
    return new Promise<void>((resolve) => (this.writesDrained = resolve));
  }

  /**
   * Appends `entries` as one record and applies them; resolves once durable (per the sync mode)
   * and visible, after every earlier write. With `conditions`, the checks and the append are one
   * step: the write happens only if every check holds against every write ordered before it.
   *
   * @throws StrataError `CONFLICT` (nothing written, no seqno taken) when a check fails.
   */
  async write(entries: LogEntry[], conditions?: WriteConditions): Promise<BatchResult> {
    this.lifecycle.checkWritable();
    this.inFlightWrites++;
    let admittedAt: number | undefined;
    try {
      for (;;) {
        const checking =
          conditions === undefined ? undefined : await this.conditionCheck.prepare(conditions);
        if (this.jobs.pressure() !== 'none') await this.throttle();
        if (!this.wal.isWritable) await this.wal.whenWritable();
        // A write accepted before close() still completes (close waits for it); only a failure stops it.
        if (this.lifecycle.failure) throw this.lifecycle.failure;
        if (checking === undefined) break;
        // From here to the append nothing yields: the verdict holds for the seqnos taken below.
        const conflicts = this.conditionCheck.decide(checking);
        if (conflicts === undefined) continue;
        if (conflicts.length > 0) {
          // Refuse on a later turn of the event loop: a caller retrying in a loop would otherwise
          // read and conflict again in microtasks only, and the I/O that publishes the write it
          // conflicts with (and ends the conflict) would never get to run.
          await new Promise<void>((resolve) => setImmediate(resolve));
          throw conflictError(conflicts);
        }
        break;
      }
      // Seqnos are taken and the append is issued in the same synchronous step, so concurrent
      // writers get contiguous, ordered seqnos.
      const epoch = this.epochValue;
      const firstSeqno = this.wal.nextSeqno;
      const appending = this.wal.append({ epoch, firstSeqno, timestampMs: Date.now(), entries });
      // The log admitted the batch (its seqnos are taken) unless it refused it outright.
      const admitted = this.wal.nextSeqno === firstSeqno + entries.length;
      if (admitted) {
        admittedAt = firstSeqno;
        this.unpublished.admitted(firstSeqno, entries);
      }
      const early = admitted && this.early.mayApplyEarly(entries.length);
      let appended: AppendResult;
      if (early) {
        this.early.started();
        try {
          appended = await this.early.applyEarly(firstSeqno, entries, appending);
        } finally {
          this.early.finished();
        }
      } else {
        appended = await appending;
      }
      // Usually published at once (no promise): awaiting undefined would still cost a tick.
      const parked = this.commit.publishInOrder(appended, early ? undefined : entries);
      if (parked !== undefined) await parked;
      admittedAt = undefined;
      this.unpublished.publishedThrough(appended.lastSeqno);
      return { firstSeqno: appended.firstSeqno, lastSeqno: appended.lastSeqno, epoch };
    } catch (error) {
      // The log gave the seqnos back (or the store failed): the batch will never be published.
      if (admittedAt !== undefined) this.unpublished.refused(admittedAt);
      throw this.onWriteError(error);
    } finally {
      this.writeDone();
    }
  }

  /** See {@link Store.appendReplicated}. */
  async appendReplicated(record: Uint8Array): Promise<ReplicatedResult> {
    this.lifecycle.checkWritable();
    // The top-level fields place the record; the log decodes it once, when it appends it.
    const header = readRecordHeader(record);
    if (header === undefined || header.entryCount === 0) {
      throw new StrataError('CORRUPTION', 'replicated record cannot be decoded');
    }
    const firstSeqno = header.firstSeqno;
    const lastSeqno = firstSeqno + header.entryCount - 1;
    // Against the admitted position, so a follower may pipeline appends without awaiting each.
    if (lastSeqno < this.wal.nextSeqno && firstSeqno >= this.wal.firstSeqno) {
      return { firstSeqno, lastSeqno, duplicate: true };
    }
    this.inFlightWrites++;
    try {
      const appended = await this.wal.appendRecord(record);
      this.applier.applyRecord(appended.firstSeqno, appended.lastSeqno, appended.bytes);
      if (appended.epoch > this.epochValue) this.epochValue = appended.epoch;
      return { firstSeqno: appended.firstSeqno, lastSeqno: appended.lastSeqno, duplicate: false };
    } catch (error) {
      throw this.onWriteError(error);
    } finally {
      this.writeDone();
    }
  }

  /** See {@link Store.startEpoch}. */
  async startEpoch(epoch: number): Promise<WriteResult> {
    this.lifecycle.checkWritable();
    if (!Number.isSafeInteger(epoch) || epoch <= this.epochValue) {
      throw new StrataError(
        'STALE_EPOCH',
        `a new term needs an epoch above the current ${this.epochValue}, got ${epoch}`,
      );
    }
    this.epochValue = epoch;
    const result = await this.write([{ op: LogOp.EpochStart, key: EMPTY, value: EMPTY }]);
    return { seqno: result.firstSeqno, epoch: result.epoch };
  }

  /** See {@link Store.setEpoch}. */
  setEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < this.epochValue) {
      throw new StrataError(
        'STALE_EPOCH',
        `epoch ${epoch} is below the current ${this.epochValue}`,
      );
    }
    this.epochValue = epoch;
  }

  /**
   * Stops writes for good (until reopened): records the failure and rejects the batches parked
   * for publication, so that none hangs.
   */
  failStop(error: unknown, reason: string): void {
    const failure = this.lifecycle.failStop(error, reason);
    // The log rejects every append after a failed one, so none should be parked; never hang one.
    if (failure) this.commit.rejectParked(failure);
  }

  private async throttle(): Promise<void> {
    if (this.jobs.pressure() === 'slow') {
      // Slow down rather than stop: give compaction a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.jobs.waitForCapacity();
  }

  private onWriteError(error: unknown): unknown {
    if (isStrataError(error, 'IO_ERROR')) this.failStop(error, 'the log failed');
    return error;
  }

  private writeDone(): void {
    this.inFlightWrites--;
    if (this.inFlightWrites === 0) this.writesDrained?.();
  }
}

/** The `CONFLICT` error of a write whose checks failed; `details.conflicts` lists each one. */
function conflictError(conflicts: Conflict[]): StrataError {
  const first = conflicts[0] as Conflict;
  const subject =
    first.kind === 'key'
      ? `key version is ${first.actualSeqno}, the write required ${first.expectedSeqno}`
      : `a key under the prefix was written at seqno ${first.actualSeqno}, after ${first.expectedSeqno}`;
  const more = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more failed checks)` : '';
  return new StrataError('CONFLICT', `conditional write refused: ${subject}${more}`, {
    details: { conflicts },
  });
}
