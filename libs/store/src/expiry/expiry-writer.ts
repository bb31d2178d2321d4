import { isStrataError } from '@strata/core';
import type { Lifecycle } from '@strata/core';
import { ValueKind, expiresAtMsOf } from '@strata/engine';
import type { ExpiringEntry, Tree } from '@strata/engine';
import { LogOp } from '@strata/wal';
import type { LogEntry } from '@strata/wal';
import type { Conflict, WriteConditions } from '../write/conditions.js';
import type { Deadline } from './deadline-heap.js';
import type { DeadlineIndex } from './deadline-index.js';

/** Deletes written per expiry batch (one log record each). */
const EXPIRY_BATCH_ENTRIES = 256;
/**
 * The longest the writer sleeps before looking again, so a wall clock stepped forward is noticed
 * within this (a timer measures elapsed time, not the wall clock the deadlines are in).
 */
const MAX_SLEEP_MS = 1_000;
/** Pause after an expiry write failed for a reason other than the store closing or failing. */
const RETRY_AFTER_MS = 1_000;

/** Writes a batch of entries under conditions (the store's write path). */
export type ConditionalWrite = (
  entries: LogEntry[],
  conditions: WriteConditions,
) => Promise<{ firstSeqno: number; lastSeqno: number }>;

/** What the writer reports after each expiry batch it wrote. */
export interface ExpiryWritten {
  readonly keys: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
}

/**
 * Writes the expiry events of keys whose time to live ended: for each due deadline of the
 * {@link DeadlineIndex}, a delete marked `expired`, so the change feed, the event log and
 * followers see the expiry as an event with its own seqno. Reads never wait for it (an expired
 * value is hidden by the engine as soon as the clock passes its deadline); the event follows
 * within about a second, or as soon as the write path accepts it.
 *
 * Each delete is conditional on the key's version still being the expiring put (`ignoreExpiry`:
 * its raw version, since an expired key otherwise reads as version 0), so a key written again
 * meanwhile is left alone, and two writers could never expire a key twice. Only the node that
 * takes writes runs it (a follower receives the leader's expiry events): {@link setEnabled}.
 */
export class ExpiryWriter {
  private enabled: boolean;
  private timer: NodeJS.Timeout | undefined;
  private armedAtMs: number | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly index: DeadlineIndex,
    private readonly tree: Tree,
    private readonly write: ConditionalWrite,
    private readonly clock: () => number,
    private readonly lifecycle: Lifecycle,
    enabled: boolean,
    private readonly onWritten: (written: ExpiryWritten) => void,
  ) {
    this.enabled = enabled;
  }

  /** Whether this store writes expiry events (the standalone node and a leader do). */
  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Starts or stops writing expiry events. */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (enabled) this.schedule();
    else this.cancel();
  }

  /** A deadline was added to the index: look earlier if it is before the armed check. */
  noteDeadline(expiresAtMs: number): void {
    if (!this.enabled || this.running !== undefined) return;
    if (this.armedAtMs === undefined || expiresAtMs < this.armedAtMs) this.schedule();
  }

  /** Stops for good (close): resolves once a batch being written has settled. */
  async stop(): Promise<void> {
    this.enabled = false;
    this.cancel();
    await this.running;
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAtMs = undefined;
  }

  private schedule(delayOverrideMs?: number): void {
    if (!this.enabled || this.running !== undefined || this.lifecycle.status !== 'open') return;
    const next = this.index.nextCheckAtMs();
    if (next === undefined && delayOverrideMs === undefined) {
      this.cancel();
      return;
    }
    const target = next ?? Number.POSITIVE_INFINITY;
    if (this.timer !== undefined && this.armedAtMs !== undefined && this.armedAtMs <= target) {
      return;
    }
    this.cancel();
    const delayMs = delayOverrideMs ?? Math.min(Math.max(target - this.clock(), 0), MAX_SLEEP_MS);
    this.armedAtMs = target;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedAtMs = undefined;
      let retryMs: number | undefined;
      this.running = this.run()
        .catch(() => {
          retryMs = RETRY_AFTER_MS;
        })
        .finally(() => {
          this.running = undefined;
          this.schedule(retryMs);
        });
    }, delayMs);
    // An armed expiry check must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  /** Writes the expiry events of everything due, a batch at a time. */
  private async run(): Promise<void> {
    for (;;) {
      if (!this.enabled || this.lifecycle.status !== 'open') return;
      const nowMs = this.clock();
      if (this.index.needsRebuild(nowMs)) {
        await this.index.rebuild(this.tree.expiringEntries(), nowMs, (entry) =>
          this.isCurrent(entry),
        );
      }
      const due = this.index.takeDue(nowMs, EXPIRY_BATCH_ENTRIES);
      if (due.length === 0) return;
      // One batch per turn of the event loop: expiring a backlog must not starve other work.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        await this.expire(due);
      } catch (error) {
        // Closing or failed: the next leader (or the next open) finds these deadlines again.
        if (this.lifecycle.status !== 'open') return;
        for (const deadline of due)
          this.index.add(deadline.key, deadline.seqno, deadline.expiresAtMs);
        throw error;
      }
    }
  }

  /** True when the newest version of the key, as stored (expired or not), is this expiring put. */
  private async isCurrent(deadline: ExpiringEntry): Promise<boolean> {
    const entry = await this.tree.getInternalEntry(deadline.key, false);
    return (
      entry !== undefined &&
      entry.kind === ValueKind.Expiring &&
      entry.seqno === deadline.seqno &&
      expiresAtMsOf(entry) === deadline.expiresAtMs
    );
  }

  /** Deletes the keys of `due` whose current version is still the expiring put. */
  private async expire(due: readonly Deadline[]): Promise<void> {
    let current: Deadline[] = [];
    for (const deadline of due) {
      if (
        (await this.isCurrent(deadline)) &&
        !current.some((other) => other.key.equals(deadline.key))
      ) {
        current.push(deadline);
      }
    }
    while (current.length > 0) {
      const entries: LogEntry[] = current.map((deadline) => ({
        op: LogOp.Delete,
        key: deadline.key,
        value: EMPTY,
        expired: true,
      }));
      const conditions: WriteConditions = {
        keys: current.map((deadline) => deadline.key),
        ifSeqnos: current.map((deadline) => deadline.seqno),
        prefixes: [],
        noWritesAfter: [],
        ignoreExpiry: true,
      };
      try {
        const result = await this.write(entries, conditions);
        this.onWritten({
          keys: entries.length,
          firstSeqno: result.firstSeqno,
          lastSeqno: result.lastSeqno,
        });
        return;
      } catch (error) {
        if (!isStrataError(error, 'CONFLICT')) throw error;
        // Written again since the check above: leave those keys alone, expire the rest.
        const conflicts =
          (error.details as { conflicts?: Conflict[] } | undefined)?.conflicts ?? [];
        const before = current.length;
        current = current.filter(
          (deadline) =>
            !conflicts.some(
              (conflict) => conflict.kind === 'key' && conflict.key.equals(deadline.key),
            ),
        );
        if (current.length === before) throw error;
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);
