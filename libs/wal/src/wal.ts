// Over 400 lines, for a stated reason: the group-commit writer (enqueue, runWriter, writeGroup,
// rotate, the ENOSPC rewind and fail-stop) and the admission state still live in this class. They
// share the active file handle, the written size, the committed tail and the failure state with
// open, close and truncateAfter, and the writer is the hot path: moving it out to write/ is the next
// step, measured with the A/B of `npm run bench:wal`, not a side effect of this reorganisation.
import { Lifecycle, StrataError, corruptionError, errnoOf, invariant, ioError } from '@strata/core';
import type { FileHandle, FileSystem, LifecycleStatus } from '@strata/core';
import { encodeRecord, validateBatch } from './format/batch-codec.js';
import type { BatchLimits } from './format/batch-codec.js';
import type { LogBatch, LogBatchInput, LogRecord } from './format/log-batch.js';
import type { LogTail } from './format/log-tail.js';
import { INITIAL_CHAIN, newRecordHeader, nextChain } from './format/record-format.js';
import { findRecordStart } from './maintenance/find-record-start.js';
import { segmentsToDrop } from './maintenance/retention.js';
import { resolveWalOptions } from './options.js';
import type { ResolvedWalOptions, WalOptions } from './options.js';
import { decodeStored, readRecords } from './read/read-records.js';
import type { ReadOptions } from './read/read-records.js';
import { SegmentReader } from './read/segment-reader.js';
import { recoverLog, verifySegment } from './recovery/recovery.js';
import type { RecoveryReport } from './recovery/recovery.js';
import { removeCleanCloseMarker, writeCleanCloseMarker } from './segments/clean-close-marker.js';
import {
  removeSeekIndexFile,
  seekIndexOf,
  writeSeekIndexFile,
} from './segments/seek-index-file.js';
import { maybeIndex, newSegmentFile } from './segments/segment-file.js';
import type { SegmentFile } from './segments/segment-file.js';
import { checkReplicatedRecord } from './write/replicated-record.js';

export type { ReadOptions } from './read/read-records.js';

/**
 * Lifecycle of a {@link Wal} (core's `LifecycleStatus`): `failed` means a write or fsync failed and
 * appends are refused until the log is reopened.
 */
export type WalStatus = LifecycleStatus;

/** What an append resolves with. */
export interface AppendResult {
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** The record's chain value (commits to the log before it). */
  readonly chain: number;
  /** The record's payload checksum. */
  readonly checksum: number;
  /** The framed record as written (do not mutate). */
  readonly bytes: Buffer;
}

/** What {@link Wal.appendRecord}'s check sees of a verified record before admitting it. */
export interface ReplicatedRecordSummary {
  readonly epoch: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  /** Entries that delete a key range. */
  readonly rangeDeletes: number;
}

/** What {@link Wal.dropBefore} removed. */
export interface RetentionResult {
  readonly droppedFiles: readonly string[];
  readonly droppedBytes: number;
  /** The first seqno still in the log afterwards. */
  readonly firstSeqno: number;
}

/** What {@link Wal.verify} checked. */
export interface VerifyReport {
  readonly segmentCount: number;
  readonly recordCount: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
  readonly sizeBytes: number;
}

/** A public view of one segment. */
export interface SegmentInfo {
  readonly path: string;
  readonly firstSeqno: number;
  /** Undefined for an empty segment. */
  readonly lastSeqno: number | undefined;
  readonly sizeBytes: number;
  readonly active: boolean;
}

interface PendingAppend {
  readonly bytes: Buffer;
  readonly result: AppendResult;
  readonly epoch: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Groups up to this size are written synchronously when the log does not sync per group. */
const SYNCHRONOUS_WRITE_MAX_BYTES = 16 * 1024;

/**
 * A segmented, checksummed, append-only log of batches. Appends that arrive while a write is in
 * flight are written together with one write and one fdatasync (group commit). Records are read
 * back as raw bytes or decoded batches from any seqno.
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
  private readonly segmentList: SegmentFile[];
  private activeHandle: FileHandle | undefined;
  /** Bytes written to the active segment (visible once `visibleBytes` catches up). */
  private writtenBytes = 0;
  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  private drainWaiters: (() => void)[] = [];
  private writerRunning = false;
  private writerIdle: Promise<void> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | undefined;
  private intervalSync: Promise<void> | undefined;
  private readonly reader: SegmentReader;
  // Admission state: advanced when an append is accepted (before it is written).
  private admittedNextSeqno: number;
  private admittedChain: number;
  private admittedChecksum: number;
  private admittedEpoch: number;
  private hasPredecessor: boolean;
  // Committed state: the last record written (and synced under `always`).
  private committed: LogTail | undefined;
  private refusalListener: ((nextSeqno: number) => void) | undefined;
  private durableSeqnoValue: number;

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
    this.committed = tail;
    const last = segments[segments.length - 1];
    this.admittedNextSeqno = tail ? tail.lastSeqno + 1 : (last?.firstSeqno ?? options.firstSeqno);
    this.admittedChain = tail ? tail.chain : 0;
    this.admittedChecksum = tail ? tail.checksum : 0;
    this.admittedEpoch = tail ? tail.epoch : 0;
    this.hasPredecessor = tail !== undefined;
    this.durableSeqnoValue = tail ? tail.lastSeqno : this.admittedNextSeqno - 1;
  }

  /**
   * Opens (or creates) the log in `directory`, recovering as {@link WalOptions.recovery} says.
   * Fails with CORRUPTION (naming file and offset) on damage other than a torn tail.
   */
  static async open(directory: string, options: WalOptions = {}): Promise<Wal> {
    const resolved = resolveWalOptions(options);
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
      try {
        wal.activeHandle = await fs.open(last.path, 'read-write', wal.writeOpenOptions());
      } catch (error) {
        throw ioError('open', last.path, error);
      }
      // The recovered tail counts as durable (durableSeqno), and a store flushes it into segments
      // during replay; after a process crash under `none` it may still be only in the page cache.
      try {
        await wal.activeHandle.datasync();
      } catch (error) {
        throw ioError('fdatasync', last.path, error);
      }
      wal.writtenBytes = last.sizeBytes;
    }
    if (resolved.sync === 'interval' && !resolved.readOnly) {
      wal.syncTimer = setInterval(() => wal.runIntervalSync(), resolved.syncIntervalMs);
      wal.syncTimer.unref();
    }
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
    this.refusalListener = listener;
  }

  /** The seqno the next append must start at. */
  get nextSeqno(): number {
    return this.admittedNextSeqno;
  }

  /** The last seqno written and visible to readers (0 if the log never held a record). */
  get lastSeqno(): number {
    return this.committed?.lastSeqno ?? this.firstSeqno - 1;
  }

  /** The last seqno known to be on stable storage (fsynced). */
  get durableSeqno(): number {
    return this.durableSeqnoValue;
  }

  /** The first seqno still retained (equal to `nextSeqno` when the log is empty). */
  get firstSeqno(): number {
    return this.reader.firstSeqno;
  }

  /** Epoch of the last accepted append. */
  get lastEpoch(): number {
    return this.admittedEpoch;
  }

  /** The chain value the next record must carry. */
  get nextChain(): number {
    return this.hasPredecessor
      ? nextChain(this.admittedChain, this.admittedChecksum)
      : INITIAL_CHAIN;
  }

  /** Encoded bytes accepted but not yet written. */
  get pendingWriteBytes(): number {
    return this.pendingBytes;
  }

  /** False while more than `maxPendingBytes` wait to be written (see {@link whenWritable}). */
  get isWritable(): boolean {
    return this.pendingBytes < this.options.maxPendingBytes;
  }

  /** The segments, oldest first. */
  segments(): SegmentInfo[] {
    return this.segmentList.map((segment, index) => ({
      path: segment.path,
      firstSeqno: segment.firstSeqno,
      lastSeqno:
        index === this.segmentList.length - 1
          ? this.committed && this.committed.lastSeqno >= segment.firstSeqno
            ? this.committed.lastSeqno
            : undefined
          : segment.lastSeqno,
      sizeBytes: segment.sizeBytes,
      active: index === this.segmentList.length - 1,
    }));
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
      this.checkPosition(batch.firstSeqno, batch.epoch);
      const chain = this.nextChain;
      const { bytes, checksum } = encodeRecord(
        batch,
        batch.timestampMs ?? Date.now(),
        chain,
        this.limits,
      );
      return this.enqueue(
        bytes,
        batch.firstSeqno,
        batch.firstSeqno + batch.entries.length - 1,
        batch.epoch,
        chain,
        checksum,
      );
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
      this.checkPosition(firstSeqno, epoch);
      if (this.hasPredecessor && chain !== this.nextChain) {
        throw new StrataError(
          'DIVERGED',
          `record ${firstSeqno} does not chain from this log's history`,
          {
            details: { seqno: firstSeqno, expectedChain: this.nextChain, actualChain: chain },
          },
        );
      }
      return this.enqueue(bytes, firstSeqno, lastSeqno, epoch, chain, checksum).then((result) => ({
        ...result,
        epoch,
      }));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Resolves when the encoded bytes waiting to be written fall below `maxPendingBytes`. Producers
   * that do not await each append should await this before appending more, which bounds memory.
   */
  whenWritable(): Promise<void> {
    if (this.pendingBytes < this.options.maxPendingBytes || this.lifecycle.status !== 'open')
      return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
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
    if (this.durableSeqnoValue >= seqno) return;
    this.checkWritable();
    invariant(
      this.committed !== undefined && this.committed.lastSeqno >= seqno,
      `syncThrough(${seqno}) before that seqno was written`,
    );
    await this.syncActive();
  }

  /** Writes and fdatasyncs everything accepted so far, whatever the sync mode. */
  async sync(): Promise<void> {
    this.checkWritable();
    await this.waitForWriter();
    await this.syncActive();
  }

  /**
   * The records from `fromSeqno` to `toSeqno` as stored (framing included), verified against their
   * checksums and chain as they are read. Fails with HISTORY_TRUNCATED (with `firstSeqno` in the
   * details) if `fromSeqno` is below the retained history, CORRUPTION on damage.
   */
  readRecords(options: ReadOptions = {}): AsyncGenerator<LogRecord, void, undefined> {
    return readRecords(this.reader, options, () => this.checkReadable());
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
    this.checkReadable();
    if (this.options.readOnly) throw new StrataError('READ_ONLY', 'the log was opened read-only');
    const count = segmentsToDrop(
      this.segmentList,
      neededFromSeqno,
      this.options.retention,
      this.options.now(),
    );
    const dropped = this.segmentList.splice(0, count);
    for (const segment of dropped) {
      // The sidecar goes first, so none outlives its segment; one left behind by a failure here
      // matches no segment, so no reader uses it, and the next writable open removes it.
      await removeSeekIndexFile(this.fs, segment).catch(() => undefined);
      try {
        await this.fs.unlink(segment.path);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw ioError('unlink', segment.path, error);
      }
    }
    if (dropped.length > 0) {
      try {
        await this.fs.syncDirectory(this.directory);
      } catch (error) {
        throw this.failStop(
          ioError('fsync directory', this.directory, error),
          'syncing the log directory after dropping segments failed',
        );
      }
    }
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
    this.checkReadable();
    let previous: LogTail | undefined;
    let recordCount = 0;
    let sizeBytes = 0;
    for (const segment of [...this.segmentList]) {
      if (this.reader.isActive(segment) && this.committed === undefined) break;
      const copy = { ...segment, indexSeqnos: [], indexOffsets: [] };
      const outcome = await verifySegment(this.fs, copy, previous, this.options);
      if (outcome.damage)
        throw corruptionError(segment.path, outcome.damage.offset, outcome.damage.reason);
      recordCount += outcome.recordCount;
      previous = outcome.tail ?? previous;
      sizeBytes += segment.sizeBytes;
    }
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
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.waitForWriter();
    await this.intervalSync;
    try {
      if (!wasFailed && this.lifecycle.failure === undefined && !this.options.readOnly) {
        await this.syncActive();
        await this.writeCleanClose();
      }
    } finally {
      await this.activeHandle?.close().catch(() => undefined);
      this.activeHandle = undefined;
      this.lifecycle.closed();
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /**
   * Removes every record after `lastKeptSeqno` (a deposed leader cutting its unreplicated tail back
   * to the common prefix). The cut must fall between two records. Waits for accepted appends to be
   * written first; the cut is fdatasynced and dropped segments are unlinked with a directory fsync.
   */
  async truncateAfter(
    lastKeptSeqno: number,
  ): Promise<{ droppedFromSeqno: number; droppedEntries: number }> {
    this.checkWritable();
    if (!Number.isSafeInteger(lastKeptSeqno) || lastKeptSeqno < 0) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `lastKeptSeqno must be a non-negative integer, got ${lastKeptSeqno}`,
      );
    }
    await this.waitForWriter();
    this.checkWritable();
    const lastSeqno = this.lastSeqno;
    if (lastKeptSeqno >= lastSeqno) return { droppedFromSeqno: lastSeqno + 1, droppedEntries: 0 };
    if (lastKeptSeqno < this.firstSeqno - 1) throw this.reader.truncatedError(lastKeptSeqno + 1);
    const cutSeqno = lastKeptSeqno + 1;
    const segment = this.reader.segmentAt(cutSeqno);
    invariant(segment, 'no segment holds a retained seqno');
    const index = this.segmentList.indexOf(segment);
    const { offset, previous } = await findRecordStart(
      this.reader,
      this.segmentList,
      segment,
      cutSeqno,
    );
    await removeCleanCloseMarker(this.fs, this.directory).catch((error: unknown) => {
      throw this.failStop(
        ioError('remove clean-close marker', this.directory, error),
        'truncating the log failed',
      );
    });
    const dropWhole = offset === 0 && index > 0;
    // The segment that becomes the last one (cut, or active again) and those dropped lose their
    // sidecars before anything is cut, durably: a cut segment can grow back to the same size
    // with other records, and its old sidecar must not come back after a power loss.
    try {
      let removedAny = false;
      for (const stale of this.segmentList.slice(dropWhole ? index - 1 : index)) {
        stale.seekHint = undefined;
        if (await removeSeekIndexFile(this.fs, stale)) removedAny = true;
      }
      if (removedAny) await this.fs.syncDirectory(this.directory);
    } catch (error) {
      throw this.failStop(
        ioError('remove seek index', this.directory, error),
        'truncating the log failed',
      );
    }
    await this.activeHandle?.close();
    this.activeHandle = undefined;
    const removed = this.segmentList.splice(dropWhole ? index : index + 1);
    try {
      for (const dropped of removed) await this.fs.unlink(dropped.path);
      const newLast = this.segmentList[this.segmentList.length - 1] as SegmentFile;
      this.activeHandle = await this.fs.open(newLast.path, 'read-write', this.writeOpenOptions());
      if (!dropWhole) {
        await this.activeHandle.truncate(offset);
        await this.activeHandle.datasync();
        newLast.sizeBytes = offset;
      }
      await this.fs.syncDirectory(this.directory);
      this.writtenBytes = newLast.sizeBytes;
      newLast.indexed = true;
      const keptIndex = newLast.indexOffsets.findIndex(
        (indexOffset) => indexOffset >= newLast.sizeBytes,
      );
      if (keptIndex >= 0) {
        newLast.indexOffsets.length = keptIndex;
        newLast.indexSeqnos.length = keptIndex;
      }
      newLast.lastSeqno = previous?.lastSeqno;
      newLast.lastChain = previous?.chain;
      newLast.lastChecksum = previous?.checksum;
      newLast.lastEpoch = previous?.epoch;
      newLast.lastRecordOffset = previous?.offset;
    } catch (error) {
      throw this.failStop(ioError('truncate', segment.path, error), 'truncating the log failed');
    }
    this.committed = previous
      ? {
          lastSeqno: previous.lastSeqno,
          chain: previous.chain,
          checksum: previous.checksum,
          epoch: previous.epoch,
        }
      : undefined;
    this.durableSeqnoValue = Math.min(this.durableSeqnoValue, lastKeptSeqno);
    this.rewindAdmission();
    if (!previous) this.admittedNextSeqno = cutSeqno;
    return { droppedFromSeqno: cutSeqno, droppedEntries: lastSeqno - lastKeptSeqno };
  }

  // ---- writing ----

  private checkWritable(): void {
    // CLOSED first, then READ_ONLY, then the kept failure (a read-only log never fails).
    if (this.options.readOnly && !this.lifecycle.closing)
      throw new StrataError('READ_ONLY', 'the log was opened read-only');
    this.lifecycle.checkWritable();
    invariant(this.lifecycle.status === 'open', `append while the log is ${this.lifecycle.status}`);
  }

  private checkReadable(): void {
    this.lifecycle.checkReadable();
  }

  private checkPosition(firstSeqno: number, epoch: number): void {
    if (firstSeqno !== this.admittedNextSeqno) {
      throw new StrataError(
        'OUT_OF_SEQUENCE',
        `batch starts at seqno ${firstSeqno}; the log expects ${this.admittedNextSeqno}`,
        { details: { expectedSeqno: this.admittedNextSeqno, actualSeqno: firstSeqno } },
      );
    }
    if (epoch < this.admittedEpoch) {
      throw new StrataError(
        'STALE_EPOCH',
        `batch has epoch ${epoch}, below the log's ${this.admittedEpoch}`,
        {
          details: { epoch, currentEpoch: this.admittedEpoch },
        },
      );
    }
  }

  private enqueue(
    bytes: Buffer,
    firstSeqno: number,
    lastSeqno: number,
    epoch: number,
    chain: number,
    checksum: number,
  ): Promise<AppendResult> {
    invariant(lastSeqno >= firstSeqno, 'record with no entries');
    this.admittedNextSeqno = lastSeqno + 1;
    this.admittedChain = chain;
    this.admittedChecksum = checksum;
    this.admittedEpoch = epoch;
    this.hasPredecessor = true;
    const result: AppendResult = { firstSeqno, lastSeqno, chain, checksum, bytes };
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ bytes, result, epoch, resolve, reject });
      this.pendingBytes += bytes.length;
      this.startWriter();
    });
  }

  private startWriter(): void {
    if (this.writerRunning) return;
    this.writerRunning = true;
    this.writerIdle = this.runWriter();
  }

  private async waitForWriter(): Promise<void> {
    while (this.writerRunning) await this.writerIdle;
  }

  /**
   * Lets more appends join the next group. Under `always` a group costs a disk sync, so wait one
   * macrotask: writers whose previous append just resolved are still re-queuing through a few
   * promise continuations, and catching them halves the syncs. Otherwise a microtask is enough.
   */
  private gatherAppends(): Promise<void> {
    if (this.options.sync === 'always') return new Promise((resolve) => setImmediate(resolve));
    return Promise.resolve();
  }

  /** Writes groups until nothing is pending: each group is one write (and one fdatasync). */
  private async runWriter(): Promise<void> {
    try {
      while (true) {
        await this.gatherAppends();
        if (this.pending.length === 0 || this.lifecycle.failure !== undefined) break;
        let groupBytes = 0;
        let count = 0;
        while (count < this.pending.length) {
          const size = (this.pending[count] as PendingAppend).bytes.length;
          if (count > 0 && groupBytes + size > this.options.maxGroupBytes) break;
          groupBytes += size;
          count++;
        }
        const group = this.pending.splice(0, count);
        try {
          await this.writeGroup(group, groupBytes);
        } catch (error) {
          await this.handleWriteFailure(group, error);
        }
        this.pendingBytes -= groupBytes;
        if (this.pendingBytes < this.options.maxPendingBytes) {
          for (const resolve of this.drainWaiters.splice(0)) resolve();
        }
      }
    } finally {
      // Cleared in the same job that saw nothing pending (no await in between), so an append that
      // arrives right after starts a new writer instead of waiting on one that is finishing.
      this.writerRunning = false;
    }
  }

  private async writeGroup(group: PendingAppend[], groupBytes: number): Promise<void> {
    const first = group[0] as PendingAppend;
    const last = group[group.length - 1] as PendingAppend;
    let segment = this.segmentList[this.segmentList.length - 1];
    if (
      !segment ||
      !this.activeHandle ||
      (this.writtenBytes > 0 && this.writtenBytes + groupBytes > this.options.segmentSizeBytes)
    ) {
      segment = await this.rotate(first.result.firstSeqno);
    }
    const handle = this.activeHandle;
    invariant(handle, 'no active segment to write to');
    invariant(
      segment.sizeBytes > 0 || segment.firstSeqno === first.result.firstSeqno,
      'first record of a segment must match its name',
    );
    const startOffset = this.writtenBytes;
    const buffers = group.map((append) => append.bytes);
    try {
      // Without a sync per group the write only reaches the page cache: a small synchronous write
      // costs a few microseconds, far less than a threadpool round trip, and the data is with the
      // OS before the append resolves (a process crash loses nothing). Large groups go through
      // the threadpool: when the kernel throttles dirty pages, a big write can block for hundreds
      // of milliseconds, and it must not block the event loop.
      if (this.options.sync === 'always' || groupBytes > SYNCHRONOUS_WRITE_MAX_BYTES)
        await handle.writev(buffers, startOffset);
      else handle.writevSync(buffers, startOffset);
    } catch (error) {
      throw new WriteFailure(error, startOffset, 'write');
    }
    this.writtenBytes = startOffset + groupBytes;
    // With O_DSYNC the write above was already the durable step.
    if (this.options.sync === 'always' && this.options.syncMethod === 'fdatasync') {
      try {
        await handle.datasync();
      } catch (error) {
        throw new WriteFailure(error, startOffset, 'fdatasync');
      }
    }
    let offset = startOffset;
    for (const append of group) {
      maybeIndex(segment, append.result.firstSeqno, offset, this.options.indexIntervalBytes);
      segment.lastRecordOffset = offset;
      offset += append.bytes.length;
    }
    segment.sizeBytes = this.writtenBytes;
    segment.modifiedAtMs = this.options.now();
    this.committed = {
      lastSeqno: last.result.lastSeqno,
      chain: last.result.chain,
      checksum: last.result.checksum,
      epoch: last.epoch,
    };
    segment.lastSeqno = last.result.lastSeqno;
    segment.lastChain = last.result.chain;
    segment.lastChecksum = last.result.checksum;
    segment.lastEpoch = last.epoch;
    if (this.options.sync === 'always') this.durableSeqnoValue = last.result.lastSeqno;
    for (const append of group) append.resolve(append.result);
  }

  /** Seals the active segment (fdatasync, close) and starts a new one named `firstSeqno`. */
  private async rotate(firstSeqno: number): Promise<SegmentFile> {
    const previous = this.segmentList[this.segmentList.length - 1];
    if (previous && this.activeHandle) {
      try {
        await this.activeHandle.datasync();
      } catch (error) {
        throw new WriteFailure(error, this.writtenBytes, 'fdatasync');
      }
      if (this.committed) this.durableSeqnoValue = this.committed.lastSeqno;
      await this.activeHandle.close();
      this.activeHandle = undefined;
      previous.indexed = true;
      await this.writeSeekIndex(previous);
    }
    const segment = newSegmentFile(this.directory, firstSeqno, 0, this.options.now());
    try {
      this.activeHandle = await this.fs.open(
        segment.path,
        'create-exclusive',
        this.writeOpenOptions(),
      );
      await this.fs.syncDirectory(this.directory);
    } catch (error) {
      throw new WriteFailure(error, 0, 'creating a log segment');
    }
    segment.indexed = true;
    this.segmentList.push(segment);
    this.writtenBytes = 0;
    return segment;
  }

  /**
   * Writes the sidecar of a just-sealed segment (see seek-index-file.ts), before the next segment
   * is created, so the directory fsync that follows also covers its name. A failure only costs a
   * later reader a full scan of the segment: it never fails the append that triggered the rotation.
   */
  private async writeSeekIndex(segment: SegmentFile): Promise<void> {
    const content = seekIndexOf(segment);
    if (!content) return;
    try {
      await writeSeekIndexFile(this.fs, segment.path, content);
    } catch (error) {
      void error;
    }
  }

  private async handleWriteFailure(group: PendingAppend[], error: unknown): Promise<void> {
    const failure =
      error instanceof WriteFailure ? error : new WriteFailure(error, this.writtenBytes, 'write');
    const stored = ioError(failure.operation, this.activeSegmentPath(), failure.cause);
    const later = this.pending.splice(0);
    this.pendingBytes -= later.reduce((sum, append) => sum + append.bytes.length, 0);
    const rejected = [...group, ...later];
    if (stored.code === 'NO_SPACE' && failure.operation === 'write' && this.activeHandle) {
      // Refuse the write but keep the log usable: continue from the last committed record (every
      // later accepted append chained from the refused one, so it goes too) and cut the partial
      // bytes before anything else is written. If the cut fails, the log fails stop.
      this.rewindAdmission();
      try {
        this.refusalListener?.(this.admittedNextSeqno);
      } catch (listenerError) {
        // The caller could not undo its early applies: the seqnos must not be handed out again.
        const failed = this.failStop(
          listenerError,
          'a refused write could not be undone by the log user',
        );
        for (const append of rejected) append.reject(failed);
        return;
      }
      for (const append of rejected) append.reject(stored);
      try {
        await this.activeHandle.truncate(failure.startOffset);
        await this.activeHandle.datasync();
      } catch (truncateError) {
        this.failStop(
          ioError('truncate after ENOSPC', this.activeSegmentPath(), truncateError),
          'cutting a refused write from the log failed',
        );
      }
      return;
    }
    const failed = this.failStop(stored, failureReason(failure.operation));
    for (const append of rejected) append.reject(failed);
  }

  private rewindAdmission(): void {
    const committed = this.committed;
    this.admittedNextSeqno = committed
      ? committed.lastSeqno + 1
      : (this.segmentList[this.segmentList.length - 1]?.firstSeqno ?? this.options.firstSeqno);
    this.admittedChain = committed?.chain ?? 0;
    this.admittedChecksum = committed?.checksum ?? 0;
    this.admittedEpoch = committed?.epoch ?? 0;
    this.hasPredecessor = committed !== undefined;
  }

  /**
   * Enters the failed state: appends are refused until the log is reopened (an fsync is never
   * retried). Producers waiting in {@link whenWritable} are released, to see the failure. Returns
   * the kept failure: the first one, also when this is a later one.
   */
  private failStop(error: unknown, reason: string): StrataError {
    if (this.lifecycle.failStop(error, reason)) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
    return this.lifecycle.failure as StrataError;
  }

  private async syncActive(): Promise<void> {
    const handle = this.activeHandle;
    if (!handle || !this.committed) return;
    const target = this.committed.lastSeqno;
    if (this.durableSeqnoValue >= target) return;
    try {
      await handle.datasync();
    } catch (error) {
      throw this.failStop(
        ioError('fdatasync', this.activeSegmentPath(), error),
        'an fdatasync of the log failed',
      );
    }
    this.durableSeqnoValue = Math.max(this.durableSeqnoValue, target);
  }

  private runIntervalSync(): void {
    if (this.intervalSync || this.lifecycle.status !== 'open' || this.writerRunning) return;
    this.intervalSync = this.syncActive()
      .catch(() => undefined)
      .finally(() => {
        this.intervalSync = undefined;
      });
  }

  /** With `syncMethod: 'dsync'`, segments are written with O_DSYNC (write and sync in one call). */
  private writeOpenOptions(): { dsync: boolean } {
    return { dsync: this.options.sync === 'always' && this.options.syncMethod === 'dsync' };
  }

  private activeSegmentPath(): string {
    return this.segmentList[this.segmentList.length - 1]?.path ?? this.directory;
  }

  private async writeCleanClose(): Promise<void> {
    const last = this.segmentList[this.segmentList.length - 1];
    const committed = this.committed;
    if (!last || !committed || last.sizeBytes === 0 || last.lastRecordOffset === undefined) return;
    try {
      await writeCleanCloseMarker(this.fs, this.directory, {
        formatVersion: 1,
        segmentFirstSeqno: last.firstSeqno,
        sizeBytes: last.sizeBytes,
        lastRecordOffset: last.lastRecordOffset,
        tail: committed,
        indexSeqnos: last.indexSeqnos,
        indexOffsets: last.indexOffsets,
      });
    } catch (error) {
      // Only a hint for a faster open: without it the next open scans the last segment.
      void error;
    }
  }
}

/** A failed write or fdatasync, with where the group started (for the ENOSPC rollback). */
class WriteFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly startOffset: number,
    readonly operation: string,
  ) {
    super(`${operation} failed`);
  }
}

/** How a fail-stop names the step of a group commit that failed. */
function failureReason(operation: string): string {
  if (operation === 'write') return 'a write to the log failed';
  if (operation === 'fdatasync') return 'an fdatasync of the log failed';
  return `${operation} failed`;
}
