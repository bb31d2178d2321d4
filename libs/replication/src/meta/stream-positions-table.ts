import type Database from 'better-sqlite3';
import type { StreamPosition } from './meta-records.js';
import { withRelaxedDurability } from './sqlite-transaction.js';
import { checkCount } from './validation.js';

/** Default bound of the stream-position table (`maxStreamPositions`). */
export const DEFAULT_MAX_STREAM_POSITIONS = 10_000;

/**
 * The `stream_positions` table: which seqnos the stream message at a stream sequence carries, so
 * a restarting follower resumes without a binary search. Bounded: the oldest rows are pruned
 * every {@link streamPositionPruneInterval} recorded positions.
 */
export class StreamPositionsTable {
  /**
   * Pruning runs after this many recorded positions, so the table holds fewer than
   * `maxStreamPositions + pruneInterval` rows.
   */
  readonly pruneInterval: number;
  private sincePrune = 0;
  private readonly insertRow: Database.Statement<[number, number, number], void>;
  private readonly pruneRows: Database.Statement<[number], void>;
  private readonly deleteFrom: Database.Statement<[number], void>;
  private readonly deleteAll: Database.Statement<[], void>;

  constructor(
    private readonly db: Database.Database,
    private readonly maxPositions: number,
  ) {
    this.pruneInterval = Math.max(1, Math.min(1_000, Math.ceil(maxPositions / 10)));
    // REPLACE: a follower that re-reads a message after a restart records the same position again.
    this.insertRow = db.prepare(
      'INSERT OR REPLACE INTO stream_positions (stream_sequence, first_seqno, last_seqno) VALUES (?, ?, ?)',
    );
    // Keeps the newest `?` rows by stream sequence; with fewer rows the subquery is NULL and
    // nothing is deleted.
    this.pruneRows = db.prepare(
      `DELETE FROM stream_positions WHERE stream_sequence <= (
         SELECT stream_sequence FROM stream_positions ORDER BY stream_sequence DESC LIMIT 1 OFFSET ?
       )`,
    );
    this.deleteFrom = db.prepare('DELETE FROM stream_positions WHERE last_seqno >= ?');
    this.deleteAll = db.prepare('DELETE FROM stream_positions');
  }

  /** Records a position (an observation: no fsync of its own), pruning every interval. */
  record(position: StreamPosition): void {
    const streamSequence = checkCount('streamSequence', position.streamSequence, 1);
    const firstSeqno = checkCount('firstSeqno', position.firstSeqno);
    const lastSeqno = checkCount('lastSeqno', position.lastSeqno, firstSeqno);
    withRelaxedDurability(this.db, () => {
      this.insertRow.run(streamSequence, firstSeqno, lastSeqno);
      this.sincePrune++;
      if (this.sincePrune >= this.pruneInterval) {
        this.prune();
        this.sincePrune = 0;
      }
    });
  }

  /** Keeps only the newest `maxPositions` rows. */
  prune(): void {
    this.pruneRows.run(this.maxPositions);
  }

  /** Drops every position whose message reaches `seqno` or beyond. */
  forgetFrom(seqno: number): void {
    this.deleteFrom.run(checkCount('seqno', seqno));
  }

  /** Drops every position. */
  clear(): void {
    this.deleteAll.run();
  }
}
