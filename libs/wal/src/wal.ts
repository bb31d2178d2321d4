// The Wal facade. Over 400 lines for a stated reason: it is the log's whole public surface (open,
// appends, reads, sync, retention, truncation, verification, the observation hooks, close), each
// member with its TSDoc (about 40% of the file), each body delegating to write/, read/,
// maintenance/, segments/ or recovery/. Splitting it would split the API a user reads in one place.
import { Lifecycle, StrataError, invariant, ioError } from '@strata/core';
import type { FileSystem, LifecycleStatus } from '@strata/core';
import { encodeRecord, validateBatch } from './format/batch-codec.js';
import type { BatchLimits } from './format/batch-codec.js';
import type { LogBatch, LogBatchInput, LogRecord } from './format/log-batch.js';
import type { LogTail } from './format/log-tail.js';
import { newRecordHeader } from './format/record-format.js';
import { dropSegments } from './maintenance/drop-segments.js';
import type { RetentionResult } from './maintenance/drop-segments.js';
import { truncateAfter } from './maintenance/truncate-after.js';
import type { TruncateResult } from './maintenance/truncate-after.js';
import { verifySegments } from './maintenance/verify-log.js';
import type { VerifyReport } from './maintenance/verify-log.js';
import { resolveWalOptions } from './options.js';
import type { ResolvedWalOptions, WalOptions } from './options.js';
import { decodeStored, readRecords } from './read/read-records.js';
import type { ReadOptions } from './read/read-records.js';
import { SegmentReader } from './read/segment-reader.js';
import { recoverLog } from './recovery/recovery.js';
import type { RecoveryReport } from './recovery/recovery.js';
import { markCleanClose } from './segments/clean-close-marker.js';
import { makeSegmentPrivate, removeUnfinishedCopies } from './segments/private-segment.js';
import type { SegmentFile } from './segments/segment-file.js';
import { segmentInfos } from './segments/segment-info.js';
import type { SegmentInfo } from './segments/segment-info.js';
import { ActiveSegment } from './write/active-segment.js';
import { Admission } from './write/admission.js';
import { GroupCommitWriter } from './write/group-commit-writer.js';
import { LogObservers } from './write/log-observers.js';
import type { GroupCommitEvent, LogSyncEvent } from './write/log-observers.js';
import type { AppendResult } from './write/pending-queue.js';
import { checkReplicatedRecord } from './write/replicated-record.js';
import type { ReplicatedRecordSummary } from './write/replicated-record.js';

/**
 * Lifecycle of a {@link Wal} (core's `LifecycleStatus`): `failed` means a write or fsync failed and
 * appends are refused until the log is reopened.
 */
export type WalStatus = LifecycleStatus;

/**
 * A segmented, checksummed, append-only log of batches. Appends that arrive while a write is in
 * flight are written together with one write and one fdatasync (group commit). Records are read
 * back as raw bytes or decoded batches from any seqno.
 *
 * The log itself is a facade: admission (position checks, the pending queue and its backpressure)
 * and the group-commit writer (with the active segment it writes to) live in write/, reading in
 * read/, retention, truncation and verification in maintenance/.
 *
 * @example
 * ```ts
 * const wal = await Wal.open('./data/wal', { sync: 'always' });
 * const { lastSeqno } = await wal.append({
 *   epoch: 1,
 *   firstSeqno: wal.nextSeqno,
 *   entries: [{ op: LogOp.Put, key: Buffer.from('k'), value: Buffer.from('v') }],
 * });
 * for await (const batch of wal.read({ fromSeqno: 1 })) console.log(batch.firstSeqno, batch.entries.length);
 * await wal.close();
 * ```
 */
export class Wal {
  /** What open found and repaired. */
  readonly recovery: RecoveryReport;

  /** Open, failed (fail-stop, with the first failure kept), closing, closed. */
  private readonly lifecycle = new Lifecycle('the log');
  private readonly fs: FileSystem;
  private readonly limits: BatchLimits;
  /** Reused by appendRecord: the header fields are copied out before anything awaits. */
  private readonly appendRecordHeader = newRecordHeader();
  /** The segments, oldest first; shared (and changed in place) by every part of the log. */
  private readonly segmentList: SegmentFile[];
  private readonly reader: SegmentReader;
  private readonly admission: Admission;
  private readonly active: ActiveSegment;
  private readonly writer: GroupCommitWriter;
  private readonly observers = new LogObservers();

  private constructor(
    readonly directory: string,
    private readonly options: ResolvedWalOptions,
    segments: SegmentFile[],
    tail: LogTail | undefined,
    report: RecoveryReport,
  ) {
    this.fs = options.fileSystem;
    this.limits = {
      maxKeyBytes: options.maxKeyBytes,
      maxValueBytes: options.maxValueBytes,
      maxRecordBytes: options.maxRecordBytes,
    };
    this.segmentList = segments;
    this.reader = new SegmentReader(this.fs, options, segments);
    this.recovery = report;
    const last = segments[segments.length - 1];
    this.admission = new Admission(
      tail,
      last?.firstSeqno ?? options.firstSeqno,
      options.maxPendingBytes,
    );
    const failStop = (error: unknown, reason: string): StrataError => this.failStop(error, reason);
    this.active = new ActiveSegment(
      this.fs,
      directory,
      options,
      segments,
      tail,
      tail ? tail.lastSeqno : this.admission.nextSeqno - 1,
      failStop,
      this.observers,
    );
    this.writer = new GroupCommitWriter(
      options,
      this.lifecycle,
      this.admission,
      this.active,
      failStop,
      this.observers,
    );
  }

  /**
   * Opens (or creates) the log in `directory`, recovering as {@link WalOptions.recovery} says.
   * Fails with CORRUPTION (naming file and offset) on damage other than a torn tail.
   */
  static async open(directory: string, options: WalOptions = {}): Promise<Wal> {
    const resolved = resolveWalOptions(options);
    // Observed here: a log that never creates a segment never waits for it (its caller does).
    resolved.directoryCreation.catch(() => undefined);
    const fs = resolved.fileSystem;
    if (!resolved.readOnly) {
      try {
        await fs.mkdir(directory);
      } catch (error) {
        throw ioError('mkdir', directory, error);
      }
    }
    const { segments, tail, report } = await recoverLog(directory, resolved);
    const wal = new Wal(directory, resolved, segments, tail, report);
    const last = segments[segments.length - 1];
    if (last && !resolved.readOnly) {
      invariant(
        !tail || tail.lastSeqno + 1 >= last.firstSeqno,
        'recovered tail is before the last segment',
      );
      // A last segment shared with a checkpoint (a hard link) is copied before anything is
      // appended to it: see makeSegmentPrivate.
      try {
        await removeUnfinishedCopies(fs, directory);
      } catch (error) {
        throw ioError('remove unfinished segment copies', directory, error);
      }
      if (await makeSegmentPrivate(fs, last.path)) {
        try {
          await fs.syncDirectory(directory);
        } catch (error) {
          throw ioError('fsync directory', directory, error);
        }
      }
      await wal.active.open(last, report.cleanClose === true);
    }
    if (!resolved.readOnly) wal.writer.startIntervalSync();
    wal.lifecycle.opened();
    return wal;
  }

  /** Current lifecycle state. */
  get status(): WalStatus {
    return this.lifecycle.status;
  }

  /**
   * Registers the one listener called when a refused write (ENOSPC) rewinds admission. It runs
   * synchronously, before any refused append's promise settles and before another append can be
   * admitted: every append from `nextSeqno` on was refused, and those seqnos will be handed out
   * again. A caller that applies an append before it is written (the store overlaps its memtable
   * insert with the write) undoes that here.
   *
   * @example
   * ```ts
   * wal.onAppendsRefused((nextSeqno) => tree.discardActiveAbove(nextSeqno - 1));
   * ```
   */
  onAppendsRefused(listener: (nextSeqno: number) => void): void {
    this.writer.refusalListener = listener;
  }

  /**
   * Registers the one listener (`undefined` removes it) called once per group commit, after the
   * group's write and, under `sync: 'always'`, its sync, before its appends resolve. For metrics:
   * what it throws is ignored, and with no listener the log reads no clock for it.
   *
   * @example
   * ```ts
   * wal.onGroupCommit((commit) => {
   *   groupRecords.observe(commit.records);
   *   writeSeconds.observe(commit.writeDurationMs / 1000);
   * });
   * ```
   */
  onGroupCommit(listener: ((commit: GroupCommitEvent) => void) | undefined): void {
    this.observers.groupCommit = listener;
  }

  /**
   * Registers the one listener (`undefined` removes it) called after every successful sync of a
   * segment file (fdatasync, or a group's O_DSYNC write), with why it ran (`LogSyncReason`) and
   * how long it took. The fdatasync at open, before any listener can be set, and directory fsyncs
   * are not reported. What the listener throws is ignored.
   *
   * @example
   * ```ts
   * wal.onSync((sync) => fsyncSeconds.observe(sync.durationMs / 1000));
   * ```
   */
  onSync(listener: ((sync: LogSyncEvent) => void) | undefined): void {
    this.observers.sync = listener;
  }

  /** The seqno the next append must start at. */
  get nextSeqno(): number {
    return this.admission.nextSeqno;
  }

  /** The last seqno written and visible to readers (0 if the log never held a record). */
  get lastSeqno(): number {
    return this.active.committed?.lastSeqno ?? this.firstSeqno - 1;
  }

  /** The last seqno known to be on stable storage (fsynced). */
  get durableSeqno(): number {
    return this.active.durableSeqno;
  }

  /** The first seqno still retained (equal to `nextSeqno` when the log is empty). */
  get firstSeqno(): number {
    return this.reader.firstSeqno;
  }

  /** Epoch of the last accepted append. */
  get lastEpoch(): number {
    return this.admission.lastEpoch;
  }

  /** The chain value the next record must carry. */
  get nextChain(): number {
    return this.admission.nextChain;
  }

  /** Encoded bytes accepted but not yet written. */
  get pendingWriteBytes(): number {
    return this.admission.queue.bytes;
  }

  /** False while more than `maxPendingBytes` wait to be written (see {@link whenWritable}). */
  get isWritable(): boolean {
    return this.admission.queue.isWritable;
  }

  /** The segments, oldest first. */
  segments(): SegmentInfo[] {
    return segmentInfos(this.segmentList, this.active.committed);
  }

  /**
   * Appends one batch as one record. Resolves once durable under the sync mode. The batch must
   * start at {@link nextSeqno}; its epoch must not be below {@link lastEpoch}. Refused batches
   * (bad input, wrong seqno) throw synchronously-rejected errors and leave the log unchanged.
   * The caller must not mutate the batch's buffers until the promise settles.
   */
  append(batch: LogBatchInput): Promise<AppendResult> {
    try {
      this.checkWritable();
      validateBatch(batch, this.limits);
      const admission = this.admission;
      admission.checkPosition(batch.firstSeqno, batch.epoch);
      const chain = admission.nextChain;
      const { bytes, checksum } = encodeRecord(
        batch,
        batch.timestampMs ?? Date.now(),
        chain,
        this.limits,
      );
      const appended = admission.admit(
        bytes,
        batch.firstSeqno,
        batch.firstSeqno + batch.entries.length - 1,
        batch.epoch,
        chain,
        checksum,
      );
      this.writer.start();
      return appended;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Appends a record produced by another log (a follower applying its leader's record), byte for
   * byte. Checks checksum and structure (CORRUPTION), entries against the limits (their codes),
   * position (OUT_OF_SEQUENCE), epoch (STALE_EPOCH) and, unless the log is empty, that it chains
   * from the last record (DIVERGED). `check` sees a summary of the verified record before anything
   * is admitted and may refuse it by throwing. Nothing is decoded into objects: callers walk the entries with
   * {@link visitEntries}.
   */
  appendRecord(
    record: Uint8Array,
    check?: (summary: ReplicatedRecordSummary) => void,
  ): Promise<AppendResult & { readonly epoch: number }> {
    try {
      this.checkWritable();
      const bytes = Buffer.isBuffer(record)
        ? record
        : Buffer.from(record.buffer, record.byteOffset, record.byteLength);
      const header = this.appendRecordHeader;
      const rangeDeletes = checkReplicatedRecord(bytes, this.limits, header);
      const checksum = bytes.readUInt32LE(4);
      const { epoch, firstSeqno, chain } = header;
      const lastSeqno = firstSeqno + header.entryCount - 1;
      check?.({ epoch, firstSeqno, lastSeqno, rangeDeletes });
      const admission = this.admission;
      admission.checkPosition(firstSeqno, epoch);
      admission.checkChain(firstSeqno, chain);
      const appended = admission.admit(bytes, firstSeqno, lastSeqno, epoch, chain, checksum);
      this.writer.start();
      return appended.then((result) => ({ ...result, epoch }));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Resolves when the encoded bytes waiting to be written fall below `maxPendingBytes`. Producers
   * that do not await each append should await this before appending more, which bounds memory.
   */
  whenWritable(): Promise<void> {
    return this.admission.queue.whenWritable(this.lifecycle.status === 'open');
  }

  /**
   * Makes the records through `seqno`, which must be written already, durable (fdatasync)
   * whatever the sync mode. A store calls it before it flushes a memtable: segments must never
   * hold what a power loss could take from the log.
   *
   * @example
   * ```ts
   * await wal.syncThrough(memtable.getLsn());
   * ```
   */
  async syncThrough(seqno: number): Promise<void> {
    if (this.active.durableSeqno >= seqno) return;
    this.checkWritable();
    invariant(
      this.active.committed !== undefined && this.active.committed.lastSeqno >= seqno,
      `syncThrough(${seqno}) before that seqno was written`,
    );
    await this.active.sync('explicit');
  }

  /** Writes and fdatasyncs everything accepted so far, whatever the sync mode. */
  async sync(): Promise<void> {
    this.checkWritable();
    await this.writer.whenIdle();
    await this.active.sync('explicit');
  }

  /**
   * The records from `fromSeqno` to `toSeqno` as stored (framing included), verified against their
   * checksums and chain as they are read. Fails with HISTORY_TRUNCATED (with `firstSeqno` in the
   * details) if `fromSeqno` is below the retained history, CORRUPTION on damage.
   */
  readRecords(options: ReadOptions = {}): AsyncGenerator<LogRecord, void, undefined> {
    return readRecords(this.reader, options, () => this.lifecycle.checkReadable());
  }

  /** Like {@link readRecords}, decoding each record into a {@link LogBatch}. */
  async *read(options: ReadOptions = {}): AsyncGenerator<LogBatch, void, undefined> {
    for await (const record of this.readRecords(options)) {
      yield decodeStored(record);
    }
  }

  /**
   * Drops whole segments that lie entirely below `neededFromSeqno` (what recovery no longer needs),
   * as far as the retention policy allows. The directory is fsynced after the unlinks.
   */
  async dropBefore(neededFromSeqno: number): Promise<RetentionResult> {
    this.lifecycle.checkReadable();
    if (this.options.readOnly) throw new StrataError('READ_ONLY', 'the log was opened read-only');
    const dropped = await dropSegments(
      this.fs,
      this.directory,
      this.segmentList,
      neededFromSeqno,
      this.options,
      (error, reason) => this.failStop(error, reason),
    );
    return {
      droppedFiles: dropped.map((segment) => segment.path),
      droppedBytes: dropped.reduce((sum, segment) => sum + segment.sizeBytes, 0),
      firstSeqno: this.firstSeqno,
    };
  }

  /**
   * Verifies every record of every segment (checksums, structure, seqno continuity, chain, epoch
   * order), throwing CORRUPTION with file and offset at the first problem.
   */
  async verify(): Promise<VerifyReport> {
    this.lifecycle.checkReadable();
    const { recordCount, sizeBytes } = await verifySegments(
      this.fs,
      [...this.segmentList],
      (segment) => this.reader.isActive(segment) && this.active.committed === undefined,
      this.options,
    );
    return {
      segmentCount: this.segmentList.length,
      recordCount,
      firstSeqno: this.firstSeqno,
      lastSeqno: this.lastSeqno,
      sizeBytes,
    };
  }

  /**
   * Stops accepting appends, waits for accepted ones to be written, fdatasyncs, and closes files.
   * Appends after this are refused with CLOSED.
   */
  async close(): Promise<void> {
    const wasFailed = this.lifecycle.status === 'failed';
    if (!this.lifecycle.beginClose()) return;
    const stopping = this.writer.stopIntervalSync();
    await this.writer.whenIdle();
    await stopping;
    let failure: Error | undefined;
    let marking: Promise<void> = Promise.resolve();
    try {
      if (!wasFailed && this.lifecycle.failure === undefined && !this.options.readOnly) {
        await this.active.sync('close');
        // The marker names the segment's last durable record: it needs the sync, not the handle,
        // so it is written while the segment file closes (it ignores its own failures).
        marking = markCleanClose(
          this.fs,
          this.directory,
          this.active.segment,
          this.active.committed,
        );
      }
    } catch (error) {
      failure = error as Error;
    }
    // The file is closed and the log counts as closed whatever happened before; the first
    // failure is reported (a failed close too, unless the log had already failed).
    try {
      await this.active.close();
    } catch (error) {
      if (!wasFailed) failure ??= error as Error;
    }
    await marking;
    this.lifecycle.closed();
    this.admission.queue.releaseWaiters();
    if (failure !== undefined) throw failure;
  }

  /**
   * Removes every record after `lastKeptSeqno` (a deposed leader cutting its unreplicated tail back
   * to the common prefix). The cut must fall between two records. Waits for accepted appends to be
   * written first; dropped segments are unlinked with a directory fsync, then the cut is
   * fdatasynced. A segment shared with a checkpoint is cut in a copy renamed over it, which a read
   * already under way does not see: cut a log nobody is reading (the store cuts a closed one).
   */
  async truncateAfter(lastKeptSeqno: number): Promise<TruncateResult> {
    this.checkWritable();
    if (!Number.isSafeInteger(lastKeptSeqno) || lastKeptSeqno < 0) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `lastKeptSeqno must be a non-negative integer, got ${lastKeptSeqno}`,
      );
    }
    await this.writer.whenIdle();
    this.checkWritable();
    const lastSeqno = this.lastSeqno;
    if (lastKeptSeqno >= lastSeqno) return { droppedFromSeqno: lastSeqno + 1, droppedEntries: 0 };
    if (lastKeptSeqno < this.firstSeqno - 1) throw this.reader.truncatedError(lastKeptSeqno + 1);
    return truncateAfter(
      {
        fs: this.fs,
        directory: this.directory,
        segmentList: this.segmentList,
        reader: this.reader,
        active: this.active,
        admission: this.admission,
        failStop: (error, reason) => this.failStop(error, reason),
        observers: this.observers,
      },
      lastKeptSeqno,
      lastSeqno,
    );
  }

  private checkWritable(): void {
    // CLOSED first, then READ_ONLY, then the kept failure (a read-only log never fails).
    if (this.options.readOnly && !this.lifecycle.closing)
      throw new StrataError('READ_ONLY', 'the log was opened read-only');
    this.lifecycle.checkWritable();
    // The message is built only on failure: this runs for every append.
    const status = this.lifecycle.status;
    if (status !== 'open') invariant(false, `append while the log is ${status}`);
  }

  /**
   * Enters the failed state: appends are refused until the log is reopened (an fsync is never
   * retried). Appends still queued are rejected with the failure (the writer stops at a failure,
   * so a failure from outside it, such as a directory fsync in `dropBefore`, would otherwise
   * leave them pending forever), and producers waiting in {@link whenWritable} are released, to
   * see it. Returns the kept failure: the first one, also when this is a later one.
   */
  private failStop(error: unknown, reason: string): StrataError {
    const recorded = this.lifecycle.failStop(error, reason);
    const failure = this.lifecycle.failure as StrataError;
    if (recorded) {
      for (const append of this.admission.queue.takeAll()) append.reject(failure);
      this.admission.queue.releaseWaiters();
    }
    return failure;
  }
}
