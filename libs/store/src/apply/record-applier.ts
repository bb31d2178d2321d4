import { StrataError } from '@strata/core';
import type { Tree } from '@strata/engine';
import { LogOp } from '@strata/wal';
import type { EntryVisitor, ReplicatedRecordSummary } from '@strata/wal';

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

  constructor(
    private readonly tree: Tree,
    private readonly skipThroughSeqno: number,
  ) {}

  /** Inserts or removes one entry; an epoch start changes no key. */
  entry(
    op: number,
    index: number,
    record: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
  ): void {
    const seqno = this.firstSeqno + index;
    if (seqno <= this.skipThroughSeqno) return;
    if (op === LogOp.Put) {
      this.tree.insertFrom(record, keyStart, keyLength, valueStart, valueLength, seqno);
    } else if (op === LogOp.Delete) {
      this.tree.removeFrom(record, keyStart, keyLength, seqno);
    } else if (op !== LogOp.EpochStart) {
      throw new StrataError(
        'UNSUPPORTED_FORMAT',
        `log entry ${seqno} is a range delete, which this version cannot apply`,
      );
    }
  }
}

/**
 * The check a replicated record passes before the log admits it: range deletes are in the log
 * format, but this engine has no range tombstones.
 *
 * @throws StrataError `INVALID_ARGUMENT` when the record holds a range delete.
 */
export function refuseRangeDeletes(record: ReplicatedRecordSummary): void {
  if (record.rangeDeletes > 0) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'range deletes are not supported by this store version',
    );
  }
}
