import { StrataError } from '@strata/core';
import { ValueKind, expiresAtMsOf } from '@strata/engine';
import type { Tree } from '@strata/engine';
import { visitEntries } from '@strata/wal';
import type { Wal } from '@strata/wal';
import type { RecentRecords } from '../change-feed/recent-records.js';
import type { CommitNotifier } from '../commit-notifier.js';
import { ConditionState } from './conditions.js';
import type { Conflict, WriteConditions } from './conditions.js';
import type { UnpublishedBatches } from './unpublished-batches.js';

/**
 * Decides conditional writes at the store's single point of order. A check must see every write
 * ordered before it: those applied (the tree), those committed while the check was reading (the
 * recent records), and those the log admitted but the store has not published (durable or still
 * in their group commit). Reading the tree takes I/O, so a check runs in two phases:
 *
 * 1. {@link prepare} (async): versions from the tree as of the applied seqno A0, and for prefix
 *    checks the writes after `noWritesAfter` up to A0 from the log (the recent records in memory
 *    first).
 * 2. {@link decide} (sync, in the same step that takes the write's seqnos): the records applied
 *    since A0, then the unpublished batches. Nothing can slip in between: JavaScript runs the
 *    decision and the append without yielding.
 *
 * A conditional write pays for its own checks; unconditional writes pay nothing here.
 */
export class ConditionCheck {
  constructor(
    private readonly tree: Tree,
    private readonly wal: Wal,
    private readonly notifier: CommitNotifier,
    private readonly recent: RecentRecords,
    private readonly unpublished: UnpublishedBatches,
    private readonly clock: () => number,
  ) {}

  /**
   * Phase 1: what the tree and the committed log say, as of the applied seqno.
   *
   * @throws StrataError `HISTORY_TRUNCATED` when a prefix check starts below the retained log.
   */
  async prepare(conditions: WriteConditions): Promise<ConditionState> {
    const state = new ConditionState(conditions);
    const readSeqno = this.notifier.applied;
    let scanFrom = readSeqno + 1;
    for (const noWritesAfter of conditions.noWritesAfter) {
      scanFrom = Math.min(scanFrom, noWritesAfter + 1);
    }
    if (scanFrom <= readSeqno) {
      if (scanFrom < this.wal.firstSeqno) {
        throw new StrataError(
          'HISTORY_TRUNCATED',
          `a prefix check after seqno ${scanFrom - 1} needs the log from ${scanFrom}; it starts at ${this.wal.firstSeqno}`,
          { details: { requestedSeqno: scanFrom, firstSeqno: this.wal.firstSeqno } },
        );
      }
      await this.scanCommitted(state, scanFrom, readSeqno);
    }
    const readBound = readSeqno + 1;
    for (let index = 0; index < conditions.keys.length; index++) {
      const entry = await this.tree.getInternalEntry(
        conditions.keys[index] as Buffer,
        true,
        readBound,
      );
      const present = entry !== undefined && entry.kind !== ValueKind.Tombstone;
      state.versions[index] = present ? entry.seqno : 0;
      state.deadlines[index] = present ? expiresAtMsOf(entry) : 0;
    }
    state.countAbove(readSeqno);
    state.preparedAt = readSeqno;
    return state;
  }

  /**
   * Phase 2, synchronous: adds the writes applied since {@link prepare} and those admitted but
   * unpublished, and gives the verdict.
   *
   * @returns `undefined` when the recent records no longer hold what was applied meanwhile (the
   * caller prepares again), else the failed checks (empty: the write may go ahead).
   */
  decide(state: ConditionState): Conflict[] | undefined {
    const applied = this.notifier.applied;
    let next = state.preparedAt + 1;
    while (next <= applied) {
      const record = this.recent.find(next);
      if (record === undefined || record.firstSeqno > next) return undefined;
      state.recordFirstSeqno = record.firstSeqno;
      visitEntries(record.bytes, state);
      next = record.lastSeqno + 1;
    }
    state.countAbove(applied);
    this.unpublished.forEach((firstSeqno, entries) => state.batch(firstSeqno, entries));
    return state.conflicts(this.clock());
  }

  /** Feeds `state` the committed writes from `fromSeqno` to `toSeqno`, in seqno order. */
  private async scanCommitted(
    state: ConditionState,
    fromSeqno: number,
    toSeqno: number,
  ): Promise<void> {
    state.countAbove(fromSeqno - 1);
    let next = fromSeqno;
    while (next <= toSeqno) {
      const record = this.recent.find(next);
      if (record !== undefined) {
        state.recordFirstSeqno = record.firstSeqno;
        visitEntries(record.bytes, state);
        next = record.lastSeqno + 1;
        continue;
      }
      const before = next;
      for await (const logRecord of this.wal.readRecords({ fromSeqno: next, toSeqno })) {
        if (logRecord.lastSeqno < next) continue;
        state.recordFirstSeqno = logRecord.firstSeqno;
        visitEntries(logRecord.bytes, state);
        next = logRecord.lastSeqno + 1;
        if (next > toSeqno || this.recent.find(next) !== undefined) break;
      }
      if (next === before) {
        throw new StrataError(
          'INTERNAL',
          `the log holds no record at seqno ${next}, below the applied seqno ${toSeqno}`,
        );
      }
    }
  }
}
