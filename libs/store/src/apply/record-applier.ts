import { StrataError, invariant } from '@strata/core';
import type { Tree } from '@strata/engine';
import { LogOp } from '@strata/wal';
import type { EntryVisitor } from '@strata/wal';

/** Told of an applied put that expires: its key (a copy the listener may keep), seqno, deadline. */
export type DeadlineListener = (key: Buffer, seqno: number, expiresAtMs: number) => void;

/**
 * Applies log entries to the tree straight from the record bytes, without entry objects or views
 * (recovery replays the whole unflushed tail; followers apply every replicated record). Entries at
 * or below `skipThroughSeqno` are already in the tree.
 *
 * @example
 * ```ts
 * const applier = new RecordApplier(tree, flushedSeqno);
 * applier.firstSeqno = record.firstSeqno;
 * visitEntries(record.bytes, applier);
 * ```
 */
export class RecordApplier implements EntryVisitor {
  /** First seqno of the record being visited. */
  firstSeqno = 0;

  /**
   * @param onDeadline told of every applied put that expires (the key a copy); recovery passes
   * none, as the store lists the tree's expiring entries once it is open.
   */
  constructor(
    private readonly tree: Tree,
    private readonly skipThroughSeqno: number,
    private readonly onDeadline?: DeadlineListener,
  ) {}

  /** Inserts, removes or range-removes one entry; an epoch start changes no key. */
  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    expiresAtMs: number,
  ): void {
    const seqno = this.firstSeqno + index;
    if (seqno <= this.skipThroughSeqno) return;
    if (op === LogOp.Put) {
      this.tree.insertFrom(
        record,
        keyStart,
        keyLength,
        valueStart,
        valueLength,
        seqno,
        expiresAtMs,
      );
      if (expiresAtMs !== 0 && this.onDeadline !== undefined) {
        const key = Buffer.from(record.subarray(keyStart, keyStart + keyLength));
        this.onDeadline(key, seqno, expiresAtMs);
      }
    } else if (op === LogOp.Delete) {
      this.tree.removeFrom(record, keyStart, keyLength, seqno);
    } else if (op === LogOp.DeleteRange) {
      // A range delete's key is its start, its value the exclusive end.
      this.tree.removeRangeFrom(record, keyStart, keyLength, valueStart, valueLength, seqno);
    } else if (op === LogOp.EpochStart) {
      // Told apart from an empty-key entry by its op alone: the decoder refuses an epoch start
      // with a key or value, and an empty key under any other op is an ordinary key.
      invariant(keyLength === 0 && valueLength === 0, 'epoch start with a key or value');
    } else {
      throw new StrataError('UNSUPPORTED_FORMAT', `log entry ${seqno} has unknown op ${op}`);
    }
  }
}
