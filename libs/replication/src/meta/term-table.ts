import { StrataError } from '@strata/core';
import type Database from 'better-sqlite3';
import type { MetaQueries } from './meta-queries.js';
import type { TermUpdate } from './meta-records.js';
import { transactionImmediate } from './sqlite-transaction.js';
import { checkCount, checkId, checkText } from './validation.js';

/** The `term` table (one row): the epoch and leader as last recorded. */
export class TermTable {
  private readonly update: Database.Statement<[number, string | null, string | null, number], void>;
  private readonly recordAtomically: (update: TermUpdate) => void;

  constructor(
    db: Database.Database,
    private readonly path: string,
    private readonly queries: MetaQueries,
    private readonly now: () => number,
  ) {
    this.update = db.prepare(
      'UPDATE term SET epoch = ?, leader_id = ?, leader_url = ?, updated_at_ms = ?',
    );
    this.recordAtomically = transactionImmediate(db, (update: TermUpdate) => this.apply(update));
  }

  /** See `ClusterMeta.recordTerm`: read, compare and write in one immediate transaction. */
  record(update: TermUpdate): void {
    this.recordAtomically(update);
  }

  private apply(update: TermUpdate): void {
    const epoch = checkCount('epoch', update.epoch);
    const leaderId = update.leaderId === undefined ? null : checkId('leaderId', update.leaderId);
    const leaderUrl =
      update.leaderUrl === undefined ? null : checkText('leaderUrl', update.leaderUrl);
    if (leaderId === null && leaderUrl !== null) {
      throw new StrataError('INVALID_ARGUMENT', 'leaderUrl was given without leaderId', {
        details: { epoch, leaderUrl },
      });
    }
    const stored = this.queries.term();
    if (epoch < stored.epoch) {
      throw new StrataError(
        'STALE_EPOCH',
        `epoch ${epoch} is lower than the recorded epoch ${stored.epoch}`,
        { details: { epoch, storedEpoch: stored.epoch, file: this.path } },
      );
    }
    if (
      epoch === stored.epoch &&
      leaderId === (stored.leaderId ?? null) &&
      leaderUrl === (stored.leaderUrl ?? null)
    ) {
      return;
    }
    this.update.run(epoch, leaderId, leaderUrl, this.now());
  }
}
