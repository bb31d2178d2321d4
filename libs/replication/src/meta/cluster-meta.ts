import { existsSync } from 'node:fs';
import { StrataError, invariant } from '@strata/core';
import Database from 'better-sqlite3';
import { clusterNames } from '../names.js';
import { MetaQueries } from './meta-queries.js';
import type { NodeIdentity } from './meta-queries.js';
import type {
  CheckpointInput,
  CheckpointRecord,
  MetaSnapshot,
  MetaTerm,
  PeerRecord,
  StreamPosition,
  TermUpdate,
} from './meta-records.js';
import {
  META_SCHEMA_VERSION,
  checkSchemaVersionKnown,
  migrateMetaSchema,
  readSchemaVersion,
} from './migrations.js';
import { CheckpointsTable, MAX_RECORDED_CHECKPOINTS } from './checkpoints-table.js';
import { establishIdentity } from './node-identity.js';
import { PeersTable } from './peers-table.js';
import { sqliteError } from './sqlite-errors.js';
import { closeQuietly } from './sqlite-transaction.js';
import { DEFAULT_MAX_STREAM_POSITIONS, StreamPositionsTable } from './stream-positions-table.js';
import { TermTable } from './term-table.js';
import { checkCount, checkId } from './validation.js';

/** Default time a statement waits for a lock held by another connection. */
export const DEFAULT_META_BUSY_TIMEOUT_MS = 5_000;

/** Options of {@link ClusterMeta.open}. */
export interface ClusterMetaOptions {
  /**
   * This node's id. Omitted: the stored one, or a new random UUID for a new file. Given, it must
   * match the stored one.
   */
  readonly nodeId?: string;
  /** The cluster this data directory belongs to (1-64 of `A-Z a-z 0-9 _ -`). */
  readonly cluster: string;
  /** Clock for `updatedAtMs`, `createdAtMs` (ms since the Unix epoch). Default `Date.now`. */
  readonly nowMs?: () => number;
  /** Bound of the stream-position table. Default {@link DEFAULT_MAX_STREAM_POSITIONS}. */
  readonly maxStreamPositions?: number;
  /** Default {@link DEFAULT_META_BUSY_TIMEOUT_MS}. */
  readonly busyTimeoutMs?: number;
}

/** Options of {@link ClusterMeta.readSnapshot}. */
export interface ReadMetaSnapshotOptions {
  /** Default {@link DEFAULT_META_BUSY_TIMEOUT_MS}. */
  readonly busyTimeoutMs?: number;
}

/** What {@link ClusterMeta.sqliteSettings} reads back. */
export interface MetaSqliteSettings {
  /** `wal` once open. */
  readonly journalMode: string;
  /** `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA; 2 between calls. */
  readonly synchronous: number;
  readonly busyTimeoutMs: number;
  /** `PRAGMA user_version`. */
  readonly schemaVersion: number;
}

/**
 * One node's cluster metadata in `<data>/meta.sqlite` (docs/ARCHITECTURE.md, "The replicated write path"): its
 * node id and cluster, the current epoch and leader, the known peers and their progress, the map
 * from stream sequence to seqnos a follower resumes with, and the checkpoints taken or installed.
 *
 * The file is in WAL mode with `synchronous=FULL`: a term, an identity, a checkpoint or a
 * forgotten stream position is on disk when the call returns. Peer progress and new stream
 * positions are observations refreshed all the time, so they are written with
 * `synchronous=NORMAL` (no fsync of their own; the next full commit makes them durable): a power
 * failure may lose the latest few, never corrupt the file, and a process crash loses none.
 *
 * Calls are synchronous (better-sqlite3); all fail with a {@link StrataError}.
 *
 * @example
 * ```ts
 * const meta = ClusterMeta.open(join(dataDir, 'meta.sqlite'), { cluster: 'demo' });
 * meta.recordTerm({ epoch: 3, leaderId: 'n1', leaderUrl: 'http://10.0.0.1:7070' });
 * meta.recordStreamPosition({ streamSequence: 41, firstSeqno: 1200, lastSeqno: 1263 });
 * meta.streamPositionAtOrBefore(1250); // { streamSequence: 41, firstSeqno: 1200, lastSeqno: 1263 }
 * meta.snapshot().term.epoch; // 3
 * meta.close();
 * ```
 */
export class ClusterMeta {
  /** This node's id, the same on every open of this file. */
  readonly nodeId: string;
  /** The cluster this data directory belongs to. */
  readonly cluster: string;
  /** When this file got its identity (ms since the Unix epoch). */
  readonly createdAtMs: number;
  /** At most this many stream positions are kept after a prune. */
  readonly maxStreamPositions: number;
  /**
   * Pruning runs after this many recorded positions, so the table holds fewer than
   * `maxStreamPositions + streamPositionPruneInterval` rows.
   */
  readonly streamPositionPruneInterval: number;

  private closed = false;
  private readonly queries: MetaQueries;
  private readonly termTable: TermTable;
  private readonly peersTable: PeersTable;
  private readonly positions: StreamPositionsTable;
  private readonly checkpointsTable: CheckpointsTable;

  private constructor(
    private readonly db: Database.Database,
    /** The file, as given to {@link ClusterMeta.open}. */
    readonly path: string,
    identity: NodeIdentity,
    private readonly nowMs: () => number,
    maxStreamPositions: number,
  ) {
    this.nodeId = identity.nodeId;
    this.cluster = identity.cluster;
    this.createdAtMs = identity.createdAtMs;
    this.maxStreamPositions = maxStreamPositions;
    this.queries = new MetaQueries(db);
    const now = (): number => this.now();
    this.termTable = new TermTable(db, path, this.queries, now);
    this.peersTable = new PeersTable(db);
    this.positions = new StreamPositionsTable(db, maxStreamPositions);
    this.streamPositionPruneInterval = this.positions.pruneInterval;
    this.checkpointsTable = new CheckpointsTable(db, now);
  }

  /**
   * Opens `path` (e.g. `<data>/meta.sqlite`), creating it if needed: WAL mode, `synchronous=FULL`,
   * a busy timeout, then the schema migrations by `PRAGMA user_version`, each in a transaction.
   *
   * @throws StrataError `INVALID_ARGUMENT` (bad option; the file belongs to another node id or
   * another cluster), `UNSUPPORTED_FORMAT` (written by a newer Strata; the file is not touched),
   * `CORRUPTION` (not a SQLite database, or a damaged one), `LOCKED`, `NO_SPACE`, `IO_ERROR`.
   */
  static open(path: string, options: ClusterMetaOptions): ClusterMeta {
    const cluster = clusterNames(options.cluster).cluster;
    const givenNodeId =
      options.nodeId === undefined ? undefined : checkId('nodeId', options.nodeId);
    const nowMs = options.nowMs ?? Date.now;
    const maxStreamPositions = checkCount(
      'maxStreamPositions',
      options.maxStreamPositions ?? DEFAULT_MAX_STREAM_POSITIONS,
      1,
    );
    const busyTimeoutMs = checkCount(
      'busyTimeoutMs',
      options.busyTimeoutMs ?? DEFAULT_META_BUSY_TIMEOUT_MS,
    );
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: busyTimeoutMs });
    } catch (error) {
      throw sqliteError('open', path, error);
    }
    try {
      // Before anything writes: a file from a newer Strata, or one that is not SQLite at all,
      // must stay exactly as it is.
      checkSchemaVersionKnown(readSchemaVersion(db), path);
      const journalMode = db.pragma('journal_mode = WAL', { simple: true });
      if (journalMode !== 'wal') {
        throw new StrataError(
          'IO_ERROR',
          `${path}: the file system does not support SQLite's WAL mode (journal_mode is ${String(journalMode)})`,
          { details: { file: path, journalMode } },
        );
      }
      db.pragma('synchronous = FULL');
      migrateMetaSchema(db, path);
      const identity = establishIdentity(db, path, cluster, givenNodeId, nowMs);
      const meta = new ClusterMeta(db, path, identity, nowMs, maxStreamPositions);
      // A lowered bound takes effect at once, not after the next prune interval.
      meta.positions.prune();
      return meta;
    } catch (error) {
      closeQuietly(db);
      throw sqliteError('open', path, error);
    }
  }

  /**
   * Reads `path` without writing to it, for `strata inspect` while a node may be running: opens
   * it read-only, takes one consistent snapshot, closes. Undefined when the file does not exist
   * or never got its identity.
   *
   * @throws StrataError `UNSUPPORTED_FORMAT` (a newer schema, or an older one that only a
   * read-write open migrates), `CORRUPTION`, `LOCKED`, `IO_ERROR`.
   */
  static readSnapshot(
    path: string,
    options: ReadMetaSnapshotOptions = {},
  ): MetaSnapshot | undefined {
    const busyTimeoutMs = checkCount(
      'busyTimeoutMs',
      options.busyTimeoutMs ?? DEFAULT_META_BUSY_TIMEOUT_MS,
    );
    if (!existsSync(path)) return undefined;
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    } catch (error) {
      // Removed between the check and the open.
      if (!existsSync(path)) return undefined;
      throw sqliteError('readSnapshot', path, error);
    }
    try {
      const version = readSchemaVersion(db);
      checkSchemaVersionKnown(version, path);
      // Created, but the first open did not get as far as the schema.
      if (version === 0) return undefined;
      if (version < META_SCHEMA_VERSION) {
        throw new StrataError(
          'UNSUPPORTED_FORMAT',
          `${path} has metadata schema version ${version}; open it read-write once to migrate it to ${META_SCHEMA_VERSION}`,
          { details: { file: path, version, supportedVersion: META_SCHEMA_VERSION } },
        );
      }
      return new MetaQueries(db).snapshot();
    } catch (error) {
      throw sqliteError('readSnapshot', path, error);
    } finally {
      closeQuietly(db);
    }
  }

  /** The epoch and leader as last recorded. */
  term(): MetaTerm {
    return this.guard('term', () => this.queries.term());
  }

  /**
   * Records the term as the caller now knows it, in full: an omitted leader means "not known"
   * and clears a stored one. A repeat of the stored term writes nothing, so callers may record
   * on every lease refresh.
   *
   * @throws StrataError `STALE_EPOCH` when `epoch` is lower than the stored one (the epoch only
   * grows), `INVALID_ARGUMENT` (bad epoch or id, a URL without a leader id).
   */
  recordTerm(term: TermUpdate): void {
    this.guard('recordTerm', () => this.termTable.record(term));
  }

  /** Adds or replaces what is known about a peer. */
  upsertPeer(peer: PeerRecord): void {
    this.guard('upsertPeer', () => this.peersTable.upsert(peer));
  }

  /** Known peers, ordered by node id. */
  peers(): PeerRecord[] {
    return this.guard('peers', () => this.queries.peers());
  }

  /** Drops a peer (it left the cluster); an unknown id is ignored. */
  forgetPeer(nodeId: string): void {
    this.guard('forgetPeer', () => this.peersTable.forget(nodeId));
  }

  /**
   * Records which seqnos the stream message at `streamSequence` carries. Meant for every applied
   * message, so it is cheap: prepared statements, no fsync of its own (see the class comment), and
   * the oldest rows are pruned only every {@link streamPositionPruneInterval} calls.
   */
  recordStreamPosition(position: StreamPosition): void {
    this.guard('recordStreamPosition', () => this.positions.record(position));
  }

  /**
   * The recorded message with the largest `firstSeqno <= seqno` (on a tie, the later stream
   * sequence): where to resume reading the stream to get `seqno` and what follows. Undefined when
   * no recorded message starts at or before `seqno`.
   */
  streamPositionAtOrBefore(seqno: number): StreamPosition | undefined {
    return this.guard('streamPositionAtOrBefore', () =>
      this.queries.streamPositionAtOrBefore(checkCount('seqno', seqno)),
    );
  }

  /**
   * After the log was cut back to below `seqno`: drops every position whose message reaches
   * `seqno` or beyond, since those seqnos will be written again with other contents.
   */
  forgetStreamPositionsFrom(seqno: number): void {
    this.guard('forgetStreamPositionsFrom', () => this.positions.forgetFrom(seqno));
  }

  /** Drops every stream position: the stream was recreated and its sequences mean nothing now. */
  clearStreamPositions(): void {
    this.guard('clearStreamPositions', () => this.positions.clear());
  }

  /** Records a checkpoint; only the newest {@link MAX_RECORDED_CHECKPOINTS} are kept. */
  recordCheckpoint(checkpoint: CheckpointInput): CheckpointRecord {
    return this.guard('recordCheckpoint', () => this.checkpointsTable.record(checkpoint));
  }

  /** Recorded checkpoints, newest first; at most `limit` (default: all kept). */
  checkpoints(limit = MAX_RECORDED_CHECKPOINTS): CheckpointRecord[] {
    return this.guard('checkpoints', () => this.queries.checkpoints(checkCount('limit', limit)));
  }

  /** Everything this file holds, as a plain JSON-serialisable object, read consistently. */
  snapshot(): MetaSnapshot {
    return this.guard('snapshot', () => {
      const snapshot = this.queries.snapshot();
      invariant(snapshot !== undefined, 'an open ClusterMeta has its identity');
      return snapshot;
    });
  }

  /**
   * The connection's durability settings, read back from SQLite (diagnostics and tests: a
   * connection in WAL mode silently falls back to `synchronous=NORMAL` unless FULL is set).
   */
  sqliteSettings(): MetaSqliteSettings {
    return this.guard('sqliteSettings', () => {
      const journalMode = this.db.pragma('journal_mode', { simple: true });
      const synchronous = this.db.pragma('synchronous', { simple: true });
      const busyTimeoutMs = this.db.pragma('busy_timeout', { simple: true });
      invariant(typeof journalMode === 'string', 'journal_mode is a string');
      invariant(typeof synchronous === 'number', 'synchronous is a number');
      invariant(typeof busyTimeoutMs === 'number', 'busy_timeout is a number');
      return {
        journalMode,
        synchronous,
        busyTimeoutMs,
        schemaVersion: readSchemaVersion(this.db),
      };
    });
  }

  /** Closes the file. Idempotent; every other method then fails with `CLOSED`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } catch (error) {
      throw sqliteError('close', this.path, error);
    }
  }

  /** Runs `action` on the open file; SQLite's errors become StrataErrors. */
  private guard<T>(operation: string, action: () => T): T {
    if (this.closed) {
      throw new StrataError('CLOSED', `cluster metadata ${this.path} is closed`, {
        details: { file: this.path, operation },
      });
    }
    try {
      return action();
    } catch (error) {
      throw sqliteError(operation, this.path, error);
    }
  }

  private now(): number {
    return checkCount('nowMs()', this.nowMs());
  }
}
