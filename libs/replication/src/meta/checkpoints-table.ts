import { invariant } from '@strata/core';
import type Database from 'better-sqlite3';
import type { CheckpointInput, CheckpointKind, CheckpointRecord } from './meta-records.js';
import { transactionImmediate } from './sqlite-transaction.js';
import { checkCount, checkOneOf, checkText } from './validation.js';

/** How many checkpoints `meta.sqlite` keeps; older ones are dropped as new ones are recorded. */
export const MAX_RECORDED_CHECKPOINTS = 100;

const CHECKPOINT_KINDS: readonly CheckpointKind[] = ['taken', 'installed'];

interface CheckpointParameters {
  kind: CheckpointKind;
  seqno: number;
  location: string;
  sizeBytes: number;
  createdAtMs: number;
}

/** The `checkpoints` table: checkpoints taken or installed, the newest {@link MAX_RECORDED_CHECKPOINTS}. */
export class CheckpointsTable {
  private readonly insertAtomically: (parameters: CheckpointParameters) => number;

  constructor(
    db: Database.Database,
    private readonly now: () => number,
  ) {
    const insert = db.prepare<[CheckpointParameters], void>(
      `INSERT INTO checkpoints (kind, seqno, location, size_bytes, created_at_ms)
       VALUES (@kind, @seqno, @location, @sizeBytes, @createdAtMs)`,
    );
    const prune = db.prepare<[number], void>(
      `DELETE FROM checkpoints WHERE id <= (
         SELECT id FROM checkpoints ORDER BY id DESC LIMIT 1 OFFSET ?
       )`,
    );
    this.insertAtomically = transactionImmediate(db, (parameters: CheckpointParameters) => {
      const { lastInsertRowid } = insert.run(parameters);
      prune.run(MAX_RECORDED_CHECKPOINTS);
      invariant(typeof lastInsertRowid === 'number', 'checkpoint ids fit in a number');
      return lastInsertRowid;
    });
  }

  /** Records a checkpoint (with its id) and drops the oldest beyond the bound, in one transaction. */
  record(checkpoint: CheckpointInput): CheckpointRecord {
    const parameters: CheckpointParameters = {
      kind: checkOneOf('kind', checkpoint.kind, CHECKPOINT_KINDS),
      seqno: checkCount('seqno', checkpoint.seqno),
      location: checkText('location', checkpoint.location),
      sizeBytes: checkCount('sizeBytes', checkpoint.sizeBytes),
      createdAtMs: checkCount('createdAtMs', checkpoint.createdAtMs ?? this.now()),
    };
    return {
      id: this.insertAtomically(parameters),
      kind: parameters.kind,
      seqno: parameters.seqno,
      location: parameters.location,
      sizeBytes: parameters.sizeBytes,
      createdAtMs: parameters.createdAtMs,
    };
  }
}
