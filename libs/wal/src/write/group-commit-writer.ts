import { invariant, ioError } from '@strata/core';
import type { Lifecycle } from '@strata/core';
import type { ResolvedWalOptions } from '../options.js';
import { maybeIndex } from '../segments/segment-file.js';
import type { ActiveSegment, FailStop, NewSegment } from './active-segment.js';
import type { Admission } from './admission.js';
import type { LogObservers } from './log-observers.js';
import type { PendingAppend } from './pending-queue.js';
import { WriteFailure, failureReason } from './write-failure.js';

/**
 * Groups up to this size are written synchronously (into the page cache), unless the handle is
 * O_DSYNC, where the write itself waits for the disk.
 */
const SYNCHRONOUS_WRITE_MAX_BYTES = 16 * 1024;

/**
 * Writes the admitted appends in groups: appends that arrive while a write is in flight are
 * written together with one write and, under `always`, one fdatasync (group commit), then resolved
 * in seqno order. A refused write (ENOSPC) rewinds admission and keeps the log usable; any other
 * failure is fail-stop. Under `interval` and `none` it also runs the background fdatasyncs (every
 * `syncIntervalMs` under `interval`, every `syncEveryBytes` written under both).
 */
export class GroupCommitWriter {
  /**
   * Called when a refused write (ENOSPC) rewinds admission, before any refused append settles
   * (see `Wal.onAppendsRefused`).
   */
  refusalListener: ((nextSeqno: number) => void) | undefined;
  private runningValue = false;
  private idle: Promise<void> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | undefined;
  /** The background fdatasync in flight (interval or written bytes): one at a time. */
  private backgroundSync: Promise<void> | undefined;
  /** Bytes written since the last background fdatasync started. */
  private bytesSinceSync = 0;

  constructor(
    private readonly options: ResolvedWalOptions,
    private readonly lifecycle: Lifecycle,
    private readonly admission: Admission,
    private readonly active: ActiveSegment,
    private readonly failStop: FailStop,
    private readonly observers: LogObservers,
  ) {}

  /** True while groups are being written. */
  get running(): boolean {
    return this.runningValue;
  }

  /** Starts writing what is pending, unless a writer runs already (it will take it). */
  start(): void {
    if (this.runningValue) return;
    this.runningValue = true;
    this.idle = this.run();
  }

  /** Resolves once nothing is being written (what was pending is written or refused). */
  async whenIdle(): Promise<void> {
    while (this.runningValue) await this.idle;
  }

  /** Under `interval`: starts the background fdatasync every `syncIntervalMs`. */
  startIntervalSync(): void {
    if (this.options.sync !== 'interval') return;
    this.syncTimer = setInterval(() => this.runIntervalSync(), this.options.syncIntervalMs);
    this.syncTimer.unref();
  }

  /** Stops the background fdatasyncs and waits for one in flight. */
  async stopIntervalSync(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.bytesSinceSync = Number.NEGATIVE_INFINITY;
    await this.backgroundSync;
  }

  /**
   * Lets more appends join the next group. Under `always` a group costs a disk sync, so wait one
   * macrotask: writers whose previous append just resolved are still re-queuing through a few
   * promise continuations, and catching them halves the syncs. Otherwise a microtask is enough.
   */
  private gather(): Promise<void> {
    if (this.options.sync === 'always') return new Promise((resolve) => setImmediate(resolve));
    return Promise.resolve();
  }

  /** Writes groups until nothing is pending: each group is one write (and one fdatasync). */
  private async run(): Promise<void> {
    const queue = this.admission.queue;
    try {
      while (true) {
        await this.gather();
        const pending = queue.appends;
        if (pending.length === 0 || this.lifecycle.failure !== undefined) break;
        let groupBytes = 0;
        let count = 0;
        while (count < pending.length) {
          const size = (pending[count] as PendingAppend).bytes.length;
          if (count > 0 && groupBytes + size > this.options.maxGroupBytes) break;
          groupBytes += size;
          count++;
        }
        const group = pending.splice(0, count);
        try {
          await this.writeGroup(group, groupBytes);
        } catch (error) {
          await this.handleWriteFailure(group, error);
        }
        queue.settled(groupBytes);
      }
    } finally {
      // Cleared in the same job that saw nothing pending (no await in between), so an append that
      // arrives right after starts a new writer instead of waiting on one that is finishing.
      this.runningValue = false;
    }
  }

  private async writeGroup(group: PendingAppend[], groupBytes: number): Promise<void> {
    const active = this.active;
    const options = this.options;
    const first = group[0] as PendingAppend;
    const last = group[group.length - 1] as PendingAppend;
    let segment = active.segment;
    let created: NewSegment | undefined;
    if (
      !segment ||
      !active.handle ||
      (active.writtenBytes > 0 && active.writtenBytes + groupBytes > options.segmentSizeBytes)
    ) {
      // Rotation closes the handle a background fdatasync may still be using.
      await this.backgroundSync;
      created = await active.rotate(first.result.firstSeqno);
      segment = created.segment;
    }
    const handle = active.handle;
    invariant(handle, 'no active segment to write to');
    invariant(
      segment.sizeBytes > 0 || segment.firstSeqno === first.result.firstSeqno,
      'first record of a segment must match its name',
    );
    const startOffset = active.writtenBytes;
    const buffers = group.map((append) => append.bytes);
    // The clock is read only while someone observes the log.
    const timed = this.observers.timed;
    const writeStartMs = timed ? performance.now() : 0;
    const dsync = options.sync === 'always' && options.syncMethod === 'dsync';
    try {
      // Unless the handle is O_DSYNC, the write only reaches the page cache: a small synchronous
      // write costs a few microseconds, far less than a threadpool round trip (a thread woken,
      // then the event loop woken back: about 50 us on the benchmark machine), and with
      // `syncMethod: 'fdatasync'` the group then takes one round trip, its fdatasync, instead of
      // two. Nothing is acknowledged before that fdatasync returns.
      // Large groups go through the threadpool: when the kernel throttles dirty pages, a big
      // write can block for hundreds of milliseconds, and it must not block the event loop.
      if (dsync || groupBytes > SYNCHRONOUS_WRITE_MAX_BYTES)
        await handle.writev(buffers, startOffset);
      else handle.writevSync(buffers, startOffset);
    } catch (error) {
      // A new segment whose name did not become durable fails the log, whatever the write did.
      if (created) await active.confirmNewSegment(created);
      throw new WriteFailure(error, startOffset, 'write');
    }
    active.writtenBytes = startOffset + groupBytes;
    const writeEndMs = timed ? performance.now() : 0;
    let syncEndMs = writeEndMs;
    // With O_DSYNC the write above was already the durable step.
    if (options.sync === 'always' && !dsync) {
      try {
        await handle.datasync();
      } catch (error) {
        throw new WriteFailure(error, startOffset, 'fdatasync');
      }
      if (timed) syncEndMs = performance.now();
    }
    // The new segment's name, fsynced while the group was written (see ActiveSegment.rotate).
    if (created) await active.confirmNewSegment(created);
    let offset = startOffset;
    for (const append of group) {
      maybeIndex(segment, append.result.firstSeqno, offset, options.indexIntervalBytes);
      segment.lastRecordOffset = offset;
      offset += append.bytes.length;
    }
    segment.sizeBytes = active.writtenBytes;
    segment.modifiedAtMs = options.now();
    active.committed = {
      lastSeqno: last.result.lastSeqno,
      chain: last.result.chain,
      checksum: last.result.checksum,
      epoch: last.epoch,
    };
    segment.lastSeqno = last.result.lastSeqno;
    segment.lastChain = last.result.chain;
    segment.lastChecksum = last.result.checksum;
    segment.lastEpoch = last.epoch;
    if (options.sync === 'always') active.durableSeqno = last.result.lastSeqno;
    else this.countWritten(groupBytes);
    if (timed)
      this.observe(
        group.length,
        first,
        last,
        groupBytes,
        segment.path,
        writeStartMs,
        writeEndMs,
        syncEndMs,
      );
    for (const append of group) append.resolve(append.result);
  }

  /** Reports a group commit (and its sync under `always`) to the observers. */
  private observe(
    records: number,
    first: PendingAppend,
    last: PendingAppend,
    groupBytes: number,
    path: string,
    writeStartMs: number,
    writeEndMs: number,
    syncEndMs: number,
  ): void {
    const options = this.options;
    const durable = options.sync === 'always';
    if (durable) {
      const dsync = options.syncMethod === 'dsync';
      this.observers.synced(
        'group-commit',
        dsync ? 'dsync-write' : 'fdatasync',
        path,
        dsync ? writeEndMs - writeStartMs : syncEndMs - writeEndMs,
      );
    }
    this.observers.groupCommitted(
      records,
      first.result.firstSeqno,
      last.result.lastSeqno,
      groupBytes,
      writeEndMs - writeStartMs,
      syncEndMs - writeEndMs,
      durable,
    );
  }

  private async handleWriteFailure(group: PendingAppend[], error: unknown): Promise<void> {
    const active = this.active;
    const failure =
      error instanceof WriteFailure ? error : new WriteFailure(error, active.writtenBytes, 'write');
    const stored = ioError(failure.operation, active.path, failure.cause);
    const rejected = [...group, ...this.admission.queue.takeAll()];
    if (stored.code === 'NO_SPACE' && failure.operation === 'write' && active.handle) {
      // Refuse the write but keep the log usable: continue from the last committed record (every
      // later accepted append chained from the refused one, so it goes too) and cut the partial
      // bytes before anything else is written. If the cut fails, the log fails stop.
      this.admission.rewind(
        active.committed,
        active.segment?.firstSeqno ?? this.options.firstSeqno,
      );
      try {
        this.refusalListener?.(this.admission.nextSeqno);
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
        await active.handle.truncate(failure.startOffset);
        await this.observers.datasync(active.handle, 'truncate', active.path);
      } catch (truncateError) {
        this.failStop(
          ioError('truncate after ENOSPC', active.path, truncateError),
          'cutting a refused write from the log failed',
        );
      }
      return;
    }
    const failed = this.failStop(stored, failureReason(failure.operation));
    for (const append of rejected) append.reject(failed);
  }

  private runIntervalSync(): void {
    if (this.lifecycle.status !== 'open' || this.runningValue) return;
    this.startBackgroundSync('interval');
  }

  /** Starts a background fdatasync once `syncEveryBytes` were written since the last one. */
  private countWritten(groupBytes: number): void {
    const every = this.options.syncEveryBytes;
    if (every === 0) return;
    this.bytesSinceSync += groupBytes;
    if (this.bytesSinceSync >= every && this.lifecycle.status === 'open') {
      this.startBackgroundSync('written-bytes');
    }
  }

  /**
   * One fdatasync of what is committed, not awaited by any append. A failure fail-stops the log
   * inside `sync`; it is not reported again here.
   */
  private startBackgroundSync(reason: 'interval' | 'written-bytes'): void {
    if (this.backgroundSync) return;
    this.bytesSinceSync = 0;
    this.backgroundSync = this.active
      .sync(reason)
      .catch(() => undefined)
      .finally(() => {
        this.backgroundSync = undefined;
      });
  }
}
