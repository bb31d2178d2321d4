import type { GroupCommitEvent, LogSyncEvent, Wal } from '@strata/wal';

/** A memtable flush, registered in the tree (its segment is in level 0, the manifest written). */
export interface FlushEvent {
  /** Bytes of the segment file the flush wrote. */
  readonly segmentBytes: number;
  /**
   * Time the flush took: waiting for the log to be durable through the memtable, writing the
   * segment (in a worker thread) and registering it. Not the time it waited in the queue.
   */
  readonly durationMs: number;
}

/** One compaction step that changed the tree's levels (a merge, a move or a drop). */
export interface CompactionEvent {
  /** `merge` (inputs read, outputs written), `move` (to another level, no file touched) or `drop`. */
  readonly kind: 'merge' | 'move' | 'drop';
  /** Time the step took, its manifest write included. */
  readonly durationMs: number;
  /** Segments the step took out of the levels: a merge's inputs, or the dropped segments. */
  readonly inputSegments: number;
  /** Bytes of their files (read by a merge; a drop reads nothing). */
  readonly inputBytes: number;
  /** Segments the step wrote (a merge's outputs). */
  readonly outputSegments: number;
  /** Bytes of the segment files the step wrote. */
  readonly outputBytes: number;
}

/**
 * A write that waited for background work: flushes behind (`sealed-memtables`: the sealed
 * memtables are at `maxSealedMemtables`) or compaction behind (`level0-segments`: level 0 is at
 * `level0StopSegments`). One event per waiting write, once it may go on.
 */
export interface StallEvent {
  readonly cause: 'sealed-memtables' | 'level0-segments';
  /** How long the write waited. */
  readonly durationMs: number;
}

/** Expiry events the store wrote: one log record of deletes marked `expired`. */
export interface ExpiryEvent {
  /** Keys expired by the record. */
  readonly keys: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
}

/** The events a store reports, by name. */
export interface StoreEventMap {
  /** After each flush, once the tree's manifest lists the new segment. */
  readonly flush: FlushEvent;
  /** After each compaction step that changed the levels, once the manifest lists the result. */
  readonly compaction: CompactionEvent;
  /** After each group commit of the log: one write (and, under `sync: 'always'`, durable). */
  readonly groupCommit: GroupCommitEvent;
  /** After each successful sync of a log segment file (fdatasync, or an O_DSYNC group write). */
  readonly fsync: LogSyncEvent;
  /** After a write stalled on background work, when it goes on. */
  readonly stall: StallEvent;
  /** After the store wrote expiry events for keys whose time to live ended. */
  readonly expiry: ExpiryEvent;
}

/** The name of a store event. */
export type StoreEventName = keyof StoreEventMap;

/** A listener of the store event `E`. */
export type StoreEventListener<E extends StoreEventName> = (event: StoreEventMap[E]) => void;

/**
 * What the store reports about its background work, for metrics and logs: typed events instead
 * of watching its files. Listeners run synchronously where the work finished, so they must be
 * quick; one that throws does not disturb the store (its error is rethrown on a later turn, as an
 * uncaught exception, so a bug there is not hidden either).
 *
 * @example
 * ```ts
 * const stop = store.events.on('flush', ({ segmentBytes, durationMs }) => {
 *   flushedBytes.inc(segmentBytes);
 *   flushSeconds.observe(durationMs / 1000);
 * });
 * stop(); // removes the listener
 * ```
 */
export interface StoreEvents {
  /** Calls `listener` after each `name` event; returns a function that removes it. */
  on<E extends StoreEventName>(name: E, listener: StoreEventListener<E>): () => void;
  /** Removes `listener` (nothing happens when it is not registered). */
  off<E extends StoreEventName>(name: E, listener: StoreEventListener<E>): void;
}

/** The store's side of {@link StoreEvents}: the parts that do the work emit through it. */
export class StoreEventEmitter implements StoreEvents {
  private readonly listeners: { [E in StoreEventName]: StoreEventListener<E>[] } = {
    flush: [],
    compaction: [],
    groupCommit: [],
    fsync: [],
    stall: [],
    expiry: [],
  };

  /**
   * @param log the store's log: its group commits and syncs are forwarded as `groupCommit` and
   * `fsync`, and the log's hooks are set only while someone listens, so a store nobody observes
   * pays nothing per group commit (the log then reads no clock and makes no event object).
   */
  constructor(private readonly log?: Pick<Wal, 'onGroupCommit' | 'onSync'>) {}

  on<E extends StoreEventName>(name: E, listener: StoreEventListener<E>): () => void {
    this.listeners[name].push(listener);
    if (this.listeners[name].length === 1) this.followLog(name);
    return () => this.off(name, listener);
  }

  off<E extends StoreEventName>(name: E, listener: StoreEventListener<E>): void {
    const list = this.listeners[name];
    const index = list.indexOf(listener);
    if (index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.followLog(name);
  }

  /** Sets or clears the log hook behind `name` to match whether anyone listens. */
  private followLog(name: StoreEventName): void {
    const listening = this.listeners[name].length > 0;
    if (name === 'groupCommit') {
      this.log?.onGroupCommit(listening ? (event) => this.emit('groupCommit', event) : undefined);
    } else if (name === 'fsync') {
      this.log?.onSync(listening ? (event) => this.emit('fsync', event) : undefined);
    }
  }

  /** Calls the listeners of `name` in the order they were added. */
  emit<E extends StoreEventName>(name: E, event: StoreEventMap[E]): void {
    // A copy: a listener that removes itself must not make the next one be skipped.
    for (const listener of [...this.listeners[name]]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
