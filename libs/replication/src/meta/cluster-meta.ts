import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { StrataError, invariant } from '@strata/core';
import Database from 'better-sqlite3';
import { clusterNames } from '../names.js';
import { MetaQueries } from './meta-queries.js';
import type { NodeIdentity } from './meta-queries.js';
import { PEER_ROLES } from './meta-records.js';
import type {
  CheckpointInput,
  CheckpointKind,
  CheckpointRecord,
  MetaSnapshot,
  MetaTerm,
  PeerRecord,
  PeerRole,
  StreamPosition,
  TermUpdate,
} from './meta-records.js';
import {
  META_SCHEMA_VERSION,
  checkSchemaVersionKnown,
  migrateMetaSchema,
  readSchemaVersion,
} from './migrations.js';
import { sqliteError } from './sqlite-errors.js';
import { checkCount, checkId, checkOneOf, checkText } from './validation.js';

/** Default bound of the stream-position table (`maxStreamPositions`). */
export const DEFAULT_MAX_STREAM_POSITIONS = 10_000;

/** How many checkpoints `meta.sqlite` keeps; older ones are dropped as new ones are recorded. */
export const MAX_RECORDED_CHECKPOINTS = 100;

/** Default time a statement waits for a lock held by another connection. */
export const DEFAULT_META_BUSY_TIMEOUT_MS = 5_000;

const CHECKPOINT_KINDS: readonly CheckpointKind[] = ['taken', 'installed'];

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

interface PeerParameters {
  nodeId: string;
  url: string;
  role: PeerRole;
  epoch: number;
  appliedSeqno: number;
  durableSeqno: number;
  lastContactMs: number;
}

interface CheckpointParameters {
  kind: CheckpointKind;
  seqno: number;
  location: string;
  sizeBytes: number;
  createdAtMs: number;
}

/**
 * One node's cluster metadata in `<data>/meta.sqlite` (DESIGN.md, "Replication over NATS"): its
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
  private positionsSincePrune = 0;
  private readonly queries: MetaQueries;
  private readonly updateTerm: Database.Statement<
    [number, string | null, string | null, number],
    void
  >;
  private readonly upsertPeerRow: Database.Statement<[PeerParameters], void>;
  private readonly deletePeer: Database.Statement<[string], void>;
  private readonly insertPosition: Database.Statement<[number, number, number], void>;
  private readonly prunePositions: Database.Statement<[number], void>;
  private readonly deletePositionsFrom: Database.Statement<[number], void>;
  private readonly deleteAllPositions: Database.Statement<[], void>;
  private readonly insertCheckpoint: Database.Statement<[CheckpointParameters], void>;
  private readonly pruneCheckpoints: Database.Statement<[number], void>;
  private readonly recordTermAtomically: (update: TermUpdate) => void;
  private readonly insertCheckpointAtomically: (parameters: CheckpointParameters) => number;

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
    this.streamPositionPruneInterval = Math.max(
      1,
      Math.min(1_000, Math.ceil(maxStreamPositions / 10)),
    );
    this.queries = new MetaQueries(db);
    this.updateTerm = db.prepare(
      'UPDATE term SET epoch = ?, leader_id = ?, leader_url = ?, updated_at_ms = ?',
    );
    this.upsertPeerRow = db.prepare(
      `INSERT INTO peers
         (node_id, url, role, epoch, applied_seqno, durable_seqno, last_contact_ms)
       VALUES
         (@nodeId, @url, @role, @epoch, @appliedSeqno, @durableSeqno, @lastContactMs)
       ON CONFLICT (node_id) DO UPDATE SET
         url = excluded.url, role = excluded.role, epoch = excluded.epoch,
         applied_seqno = excluded.applied_seqno, durable_seqno = excluded.durable_seqno,
         last_contact_ms = excluded.last_contact_ms`,
    );
    this.deletePeer = db.prepare('DELETE FROM peers WHERE node_id = ?');
    // REPLACE: a follower that re-reads a message after a restart records the same position again.
    this.insertPosition = db.prepare(
      'INSERT OR REPLACE INTO stream_positions (stream_sequence, first_seqno, last_seqno) VALUES (?, ?, ?)',
    );
    // Keeps the newest `?` rows by stream sequence; with fewer rows the subquery is NULL and
    // nothing is deleted.
    this.prunePositions = db.prepare(
      `DELETE FROM stream_positions WHERE stream_sequence <= (
         SELECT stream_sequence FROM stream_positions ORDER BY stream_sequence DESC LIMIT 1 OFFSET ?
       )`,
    );
    this.deletePositionsFrom = db.prepare('DELETE FROM stream_positions WHERE last_seqno >= ?');
    this.deleteAllPositions = db.prepare('DELETE FROM stream_positions');
    this.insertCheckpoint = db.prepare(
      `INSERT INTO checkpoints (kind, seqno, location, size_bytes, created_at_ms)
       VALUES (@kind, @seqno, @location, @sizeBytes, @createdAtMs)`,
    );
    this.pruneCheckpoints = db.prepare(
      `DELETE FROM checkpoints WHERE id <= (
         SELECT id FROM checkpoints ORDER BY id DESC LIMIT 1 OFFSET ?
       )`,
    );
    this.recordTermAtomically = transactionImmediate(db, (update: TermUpdate) =>
      this.applyTerm(update),
    );
    this.insertCheckpointAtomically = transactionImmediate(
      db,
      (parameters: CheckpointParameters) => {
        const { lastInsertRowid } = this.insertCheckpoint.run(parameters);
        this.pruneCheckpoints.run(MAX_RECORDED_CHECKPOINTS);
        invariant(typeof lastInsertRowid === 'number', 'checkpoint ids fit in a number');
        return lastInsertRowid;
      },
    );
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
      meta.prunePositions.run(maxStreamPositions);
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
    this.guard('recordTerm', () => this.recordTermAtomically(term));
  }

  /** Adds or replaces what is known about a peer. */
  upsertPeer(peer: PeerRecord): void {
    this.guard('upsertPeer', () => {
      const parameters: PeerParameters = {
        nodeId: checkId('nodeId', peer.nodeId),
        url: checkText('url', peer.url),
        role: checkOneOf('role', peer.role, PEER_ROLES),
        epoch: checkCount('epoch', peer.epoch),
        appliedSeqno: checkCount('appliedSeqno', peer.appliedSeqno),
        durableSeqno: checkCount('durableSeqno', peer.durableSeqno),
        lastContactMs: checkCount('lastContactMs', peer.lastContactMs),
      };
      this.withRelaxedDurability(() => this.upsertPeerRow.run(parameters));
    });
  }

  /** Known peers, ordered by node id. */
  peers(): PeerRecord[] {
    return this.guard('peers', () => this.queries.peers());
  }

  /** Drops a peer (it left the cluster); an unknown id is ignored. */
  forgetPeer(nodeId: string): void {
    this.guard('forgetPeer', () => {
      this.deletePeer.run(checkId('nodeId', nodeId));
    });
  }

  /**
   * Records which seqnos the stream message at `streamSequence` carries. Meant for every applied
   * message, so it is cheap: prepared statements, no fsync of its own (see the class comment), and
   * the oldest rows are pruned only every {@link streamPositionPruneInterval} calls.
   */
  recordStreamPosition(position: StreamPosition): void {
    this.guard('recordStreamPosition', () => {
      const streamSequence = checkCount('streamSequence', position.streamSequence, 1);
      const firstSeqno = checkCount('firstSeqno', position.firstSeqno);
      const lastSeqno = checkCount('lastSeqno', position.lastSeqno, firstSeqno);
      this.withRelaxedDurability(() => {
        this.insertPosition.run(streamSequence, firstSeqno, lastSeqno);
        this.positionsSincePrune++;
        if (this.positionsSincePrune >= this.streamPositionPruneInterval) {
          this.prunePositions.run(this.maxStreamPositions);
          this.positionsSincePrune = 0;
        }
      });
    });
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
    this.guard('forgetStreamPositionsFrom', () => {
      this.deletePositionsFrom.run(checkCount('seqno', seqno));
    });
  }

  /** Drops every stream position: the stream was recreated and its sequences mean nothing now. */
  clearStreamPositions(): void {
    this.guard('clearStreamPositions', () => {
      this.deleteAllPositions.run();
    });
  }

  /** Records a checkpoint; only the newest {@link MAX_RECORDED_CHECKPOINTS} are kept. */
  recordCheckpoint(checkpoint: CheckpointInput): CheckpointRecord {
    return this.guard('recordCheckpoint', () => {
      const parameters: CheckpointParameters = {
        kind: checkOneOf('kind', checkpoint.kind, CHECKPOINT_KINDS),
        seqno: checkCount('seqno', checkpoint.seqno),
        location: checkText('location', checkpoint.location),
        sizeBytes: checkCount('sizeBytes', checkpoint.sizeBytes),
        createdAtMs: checkCount('createdAtMs', checkpoint.createdAtMs ?? this.now()),
      };
      return {
        id: this.insertCheckpointAtomically(parameters),
        kind: parameters.kind,
        seqno: parameters.seqno,
        location: parameters.location,
        sizeBytes: parameters.sizeBytes,
        createdAtMs: parameters.createdAtMs,
      };
    });
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

  /**
   * Runs `write` with `synchronous=NORMAL`, then restores FULL. The setting is per connection and
   * applies per transaction, so writes around it keep their fsync, and their fsync of the WAL
   * makes the relaxed writes before them durable too.
   */
  private withRelaxedDurability<T>(write: () => T): T {
    this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return write();
    } finally {
      this.db.exec('PRAGMA synchronous = FULL');
    }
  }

  /** Runs inside the immediate transaction of {@link recordTerm}. */
  private applyTerm(update: TermUpdate): void {
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
    this.updateTerm.run(epoch, leaderId, leaderUrl, this.now());
  }

  private now(): number {
    return checkCount('nowMs()', this.nowMs());
  }
}

/** `fn` as a better-sqlite3 transaction that takes the write lock at BEGIN. */
function transactionImmediate<A extends unknown[], R>(
  db: Database.Database,
  fn: (...args: A) => R,
): (...args: A) => R {
  const transaction = db.transaction(fn);
  // Taking the lock up front: a read-then-write deferred transaction could fail with
  // SQLITE_BUSY_SNAPSHOT instead of waiting out the busy timeout.
  return (...args: A) => transaction.immediate(...args);
}

/**
 * Reads the stored identity or writes a new one (with the initial term, epoch 0), in one
 * transaction. A data directory belongs to one node of one cluster: opening it as another is
 * refused rather than silently renaming the node or moving it between clusters.
 */
function establishIdentity(
  db: Database.Database,
  path: string,
  cluster: string,
  givenNodeId: string | undefined,
  nowMs: () => number,
): NodeIdentity {
  const queries = new MetaQueries(db);
  return transactionImmediate(db, (): NodeIdentity => {
    const stored = queries.identity();
    if (stored === undefined) {
      const identity: NodeIdentity = {
        nodeId: givenNodeId ?? randomUUID(),
        cluster,
        createdAtMs: checkCount('nowMs()', nowMs()),
      };
      db.prepare(
        'INSERT INTO node (singleton, node_id, cluster, created_at_ms) VALUES (1, ?, ?, ?)',
      ).run(identity.nodeId, identity.cluster, identity.createdAtMs);
      db.prepare(
        'INSERT INTO term (singleton, epoch, leader_id, leader_url, updated_at_ms) VALUES (1, 0, NULL, NULL, ?)',
      ).run(identity.createdAtMs);
      return identity;
    }
    if (stored.cluster !== cluster) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${path} belongs to cluster ${JSON.stringify(stored.cluster)}, not ${JSON.stringify(cluster)}`,
        { details: { file: path, storedCluster: stored.cluster, cluster } },
      );
    }
    if (givenNodeId !== undefined && givenNodeId !== stored.nodeId) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `${path} belongs to node ${JSON.stringify(stored.nodeId)}, not ${JSON.stringify(givenNodeId)}`,
        { details: { file: path, storedNodeId: stored.nodeId, nodeId: givenNodeId } },
      );
    }
    return stored;
  })();
}

function closeQuietly(db: Database.Database): void {
  try {
    db.close();
  } catch {
    // The error that led here is the one worth reporting.
  }
}
