import type { FileHandle } from '@strata/core';

/**
 * Why the log made one of its segment files durable:
 * - `group-commit`: the sync of a group under `sync: 'always'` (an fdatasync, or the O_DSYNC write
 *   itself with `syncMethod: 'dsync'`);
 * - `interval`: the background fdatasync under `sync: 'interval'`;
 * - `rotate`: sealing a full segment before the next one starts;
 * - `explicit`: `Wal.sync()` or `Wal.syncThrough()`;
 * - `close`: `Wal.close()`;
 * - `truncate`: a cut made durable (`Wal.truncateAfter`, or the bytes of a write refused with
 *   ENOSPC cut away).
 */
export type LogSyncReason =
  'group-commit' | 'interval' | 'written-bytes' | 'rotate' | 'explicit' | 'close' | 'truncate';

/** One group commit, as `Wal.onGroupCommit` reports it. */
export interface GroupCommitEvent {
  /** Records written: one per `append` or `appendRecord` in the group. */
  readonly records: number;
  /** Entries in those records, that is seqnos: `lastSeqno - firstSeqno + 1`. */
  readonly entries: number;
  /** The group's first seqno. */
  readonly firstSeqno: number;
  /** The group's last seqno. */
  readonly lastSeqno: number;
  /** Bytes written to the segment: the framed records, headers included. */
  readonly sizeBytes: number;
  /**
   * Milliseconds of the group's write call. With O_DSYNC segments (`sync: 'always'`,
   * `syncMethod: 'dsync'`) the write is also the sync: it returns once the data is durable.
   */
  readonly writeDurationMs: number;
  /**
   * Milliseconds of the group's own fdatasync (`sync: 'always'` with `syncMethod: 'fdatasync'`);
   * 0 when it had none: under `interval` and `none`, and with O_DSYNC, where the write synced.
   */
  readonly syncDurationMs: number;
  /** True when the group was on stable storage before its appends resolved (`sync: 'always'`). */
  readonly durable: boolean;
}

/** One sync of a segment file, as `Wal.onSync` reports it. */
export interface LogSyncEvent {
  /** What the sync was for. */
  readonly reason: LogSyncReason;
  /**
   * `fdatasync`, or `dsync-write`: a group's write to an O_DSYNC segment, durable on return (the
   * log calls no fdatasync then, and the write's duration is the sync's).
   */
  readonly method: 'fdatasync' | 'dsync-write';
  /** Milliseconds the call took. */
  readonly durationMs: number;
  /** The segment file made durable. */
  readonly path: string;
}

/**
 * The observation hooks of one log (one listener of each kind). With no listener set they cost
 * nothing on the write path: no clock is read and no event object is made.
 */
export class LogObservers {
  /** Called once per group commit, after its write (and its sync under `always`). */
  groupCommit: ((event: GroupCommitEvent) => void) | undefined;
  /** Called after every successful sync of a segment file. */
  sync: ((event: LogSyncEvent) => void) | undefined;

  /**
   * True when a listener is set. The writer asks once per step and reads the clock only then, so
   * a listener set while a step runs sees the next step.
   */
  get timed(): boolean {
    return this.groupCommit !== undefined || this.sync !== undefined;
  }

  /** Reports a group commit, if anyone listens. */
  groupCommitted(
    records: number,
    firstSeqno: number,
    lastSeqno: number,
    sizeBytes: number,
    writeDurationMs: number,
    syncDurationMs: number,
    durable: boolean,
  ): void {
    const listener = this.groupCommit;
    if (listener === undefined) return;
    const event: GroupCommitEvent = {
      records,
      entries: lastSeqno - firstSeqno + 1,
      firstSeqno,
      lastSeqno,
      sizeBytes,
      writeDurationMs,
      syncDurationMs,
      durable,
    };
    notify(listener, event);
  }

  /** fdatasyncs `handle` (the segment `path`) and reports it for `reason`, if anyone listens. */
  async datasync(handle: FileHandle, reason: LogSyncReason, path: string): Promise<void> {
    if (!this.timed) return handle.datasync();
    const startedMs = performance.now();
    await handle.datasync();
    this.synced(reason, 'fdatasync', path, performance.now() - startedMs);
  }

  /** Reports a sync of `path` that took `durationMs`, if anyone listens. */
  synced(
    reason: LogSyncReason,
    method: LogSyncEvent['method'],
    path: string,
    durationMs: number,
  ): void {
    const listener = this.sync;
    if (listener === undefined) return;
    notify(listener, { reason, method, durationMs, path });
  }
}

/**
 * Calls an observer. What it throws is dropped: observing the log (metrics) must never fail a
 * write, and the listener runs inside the group commit.
 */
function notify<T>(listener: (event: T) => void, event: T): void {
  try {
    listener(event);
  } catch (error) {
    void error;
  }
}
