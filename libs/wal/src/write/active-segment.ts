import { ioError } from '@strata/core';
import type { FileHandle, FileSystem, StrataError } from '@strata/core';
import type { LogTail } from '../format/log-tail.js';
import type { ResolvedWalOptions } from '../options.js';
import { seekIndexOf, writeSeekIndexFile } from '../segments/seek-index-file.js';
import { newSegmentFile } from '../segments/segment-file.js';
import type { SegmentFile } from '../segments/segment-file.js';
import type { LogObservers, LogSyncReason } from './log-observers.js';
import { WriteFailure } from './write-failure.js';

/** A segment {@link ActiveSegment.rotate} created, and the wait for its name to be durable. */
export interface NewSegment {
  readonly segment: SegmentFile;
  /** Settles when the directory fsync is done: undefined, or the error it failed with. */
  readonly nameSynced: Promise<{ readonly error: unknown } | undefined>;
}

/**
 * Enters the log's failed state (writes refused until reopened) for `error`, naming the step that
 * failed; returns the failure the log keeps (the first one).
 */
export type FailStop = (error: unknown, reason: string) => StrataError;

/**
 * The segment appends go to (the last of the log's segment list, shared and mutated in place), and
 * what has reached it: its open handle and written size, the last record written (`committed`) and
 * how far the log is on stable storage (`durableSeqno`). Rotation seals it and starts the next.
 */
export class ActiveSegment {
  /** Open for writing while the log is writable and holds a segment. */
  handle: FileHandle | undefined;
  /** Bytes written to the active segment (visible once `segment.sizeBytes` catches up). */
  writtenBytes = 0;
  /** The last record written (and synced under `always`), if the log holds one. */
  committed: LogTail | undefined;
  /** The last seqno known to be on stable storage (fsynced). */
  durableSeqno: number;

  constructor(
    private readonly fs: FileSystem,
    private readonly directory: string,
    private readonly options: ResolvedWalOptions,
    private readonly segmentList: SegmentFile[],
    tail: LogTail | undefined,
    durableSeqno: number,
    private readonly failStop: FailStop,
    private readonly observers: LogObservers,
  ) {
    this.committed = tail;
    this.durableSeqno = durableSeqno;
  }

  /** The last segment, if the log holds one. */
  get segment(): SegmentFile | undefined {
    return this.segmentList[this.segmentList.length - 1];
  }

  /** The active segment's path (the log's directory before the first segment exists). */
  get path(): string {
    return this.segment?.path ?? this.directory;
  }

  /** With `syncMethod: 'dsync'`, segments are written with O_DSYNC (write and sync in one call). */
  openOptions(): { dsync: boolean } {
    return { dsync: this.options.sync === 'always' && this.options.syncMethod === 'dsync' };
  }

  /**
   * Opens the recovered last segment for appending and makes what it holds durable, unless it
   * already is: `alreadyDurable` when recovery trusted a clean-close marker, which the previous
   * process wrote only after its last fdatasync (a reopen then costs no fsync).
   */
  async open(last: SegmentFile, alreadyDurable = false): Promise<void> {
    try {
      this.handle = await this.fs.open(last.path, 'read-write', this.openOptions());
    } catch (error) {
      throw ioError('open', last.path, error);
    }
    // The recovered tail counts as durable (durableSeqno), and a store flushes it into segments
    // during replay; after a process crash under `none` it may still be only in the page cache.
    if (alreadyDurable) {
      this.writtenBytes = last.sizeBytes;
      return;
    }
    try {
      await this.handle.datasync();
    } catch (error) {
      throw ioError('fdatasync', last.path, error);
    }
    this.writtenBytes = last.sizeBytes;
  }

  /**
   * Seals the active segment (fdatasync, close) and starts a new one named `firstSeqno`. The fsync
   * of the directory that makes the new name durable is started, not awaited: the caller writes
   * the first group meanwhile and passes the returned wait to {@link confirmNewSegment} before it
   * acknowledges anything. Both must be durable before an append in the new segment is
   * acknowledged, and neither needs the other first: a power loss in between leaves either no new
   * segment (its name lost, nothing in it acknowledged) or a new segment holding a torn or empty
   * tail (cut at open, nothing in it acknowledged). So the first append to a new segment waits
   * for one sync instead of two in a row.
   */
  async rotate(firstSeqno: number): Promise<NewSegment> {
    const previous = this.segment;
    if (previous && this.handle) {
      try {
        await this.observers.datasync(this.handle, 'rotate', previous.path);
      } catch (error) {
        throw new WriteFailure(error, this.writtenBytes, 'fdatasync');
      }
      if (this.committed) this.durableSeqno = this.committed.lastSeqno;
      await this.handle.close();
      this.handle = undefined;
      previous.indexed = true;
      await this.writeSeekIndex(previous);
    }
    const segment = newSegmentFile(this.directory, firstSeqno, 0, this.options.now());
    try {
      this.handle = await this.fs.open(segment.path, 'create-exclusive', this.openOptions());
    } catch (error) {
      throw new WriteFailure(error, 0, 'creating a log segment');
    }
    // Covers the sealed segment's seek-index sidecar too. A segment is durable only once the
    // directory holding it is (settled at once, except while a new store is being created).
    const nameSynced = Promise.all([
      this.fs.syncDirectory(this.directory),
      this.options.directoryCreation,
    ]).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    segment.indexed = true;
    this.segmentList.push(segment);
    this.writtenBytes = 0;
    return { segment, nameSynced };
  }

  /**
   * Waits for the directory fsync {@link rotate} started for `created`. When it failed, the new
   * segment leaves the list (it holds nothing acknowledged) and the failure is thrown as the
   * segment's creation failing, which fail-stops the log.
   */
  async confirmNewSegment(created: NewSegment): Promise<void> {
    const failed = await created.nameSynced;
    if (failed === undefined) return;
    const index = this.segmentList.lastIndexOf(created.segment);
    if (index >= 0) this.segmentList.splice(index, 1);
    throw new WriteFailure(failed.error, 0, 'creating a log segment');
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

  /**
   * fdatasyncs the active segment if records were written since the last sync (reported for
   * `reason`); a failure is fail-stop (an fsync is never retried).
   */
  async sync(reason: LogSyncReason): Promise<void> {
    const handle = this.handle;
    if (!handle || !this.committed) return;
    const target = this.committed.lastSeqno;
    if (this.durableSeqno >= target) return;
    try {
      await this.observers.datasync(handle, reason, this.path);
    } catch (error) {
      throw this.failStop(ioError('fdatasync', this.path, error), 'an fdatasync of the log failed');
    }
    this.durableSeqno = Math.max(this.durableSeqno, target);
  }

  /** Closes the segment's file. @throws StrataError `IO_ERROR` when the close fails. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    try {
      await handle?.close();
    } catch (error) {
      throw ioError('close', this.segment?.path ?? this.directory, error);
    }
  }
}
