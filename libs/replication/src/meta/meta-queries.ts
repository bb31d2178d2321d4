import { invariant } from '@strata/core';
import type Database from 'better-sqlite3';
import type {
  CheckpointKind,
  CheckpointRecord,
  MetaSnapshot,
  MetaTerm,
  PeerRecord,
  PeerRole,
  StreamPosition,
} from './meta-records.js';
import { readSchemaVersion } from './migrations.js';

/** How many checkpoints a {@link MetaSnapshot} lists. */
export const SNAPSHOT_CHECKPOINTS = 10;

interface NodeRow {
  node_id: string;
  cluster: string;
  created_at_ms: number;
}

interface TermRow {
  epoch: number;
  leader_id: string | null;
  leader_url: string | null;
  updated_at_ms: number;
}

interface PeerRow {
  node_id: string;
  url: string;
  role: PeerRole;
  epoch: number;
  applied_seqno: number;
  durable_seqno: number;
  last_contact_ms: number;
}

interface StreamPositionRow {
  stream_sequence: number;
  first_seqno: number;
  last_seqno: number;
}

interface CheckpointRow {
  id: number;
  kind: CheckpointKind;
  seqno: number;
  location: string;
  size_bytes: number;
  created_at_ms: number;
}

/** The node's identity as stored. */
export interface NodeIdentity {
  readonly nodeId: string;
  readonly cluster: string;
  readonly createdAtMs: number;
}

/**
 * The reads of `meta.sqlite`, prepared once per connection. Shared by the read-write handle and
 * the read-only snapshot of `strata inspect`, so both show the same thing.
 */
export class MetaQueries {
  private readonly selectNode: Database.Statement<[], NodeRow>;
  private readonly selectTerm: Database.Statement<[], TermRow>;
  private readonly selectPeers: Database.Statement<[], PeerRow>;
  private readonly selectCheckpoints: Database.Statement<[number], CheckpointRow>;
  private readonly selectPositionAtOrBefore: Database.Statement<[number], StreamPositionRow>;
  private readonly selectLastPosition: Database.Statement<[], StreamPositionRow>;
  private readonly countPositions: Database.Statement<[], number>;
  private readonly readSnapshot: () => MetaSnapshot | undefined;

  constructor(private readonly db: Database.Database) {
    this.selectNode = db.prepare('SELECT node_id, cluster, created_at_ms FROM node');
    this.selectTerm = db.prepare('SELECT epoch, leader_id, leader_url, updated_at_ms FROM term');
    this.selectPeers = db.prepare(
      `SELECT node_id, url, role, epoch, applied_seqno, durable_seqno, last_contact_ms
       FROM peers ORDER BY node_id`,
    );
    this.selectCheckpoints = db.prepare(
      `SELECT id, kind, seqno, location, size_bytes, created_at_ms
       FROM checkpoints ORDER BY id DESC LIMIT ?`,
    );
    this.selectPositionAtOrBefore = db.prepare(
      `SELECT stream_sequence, first_seqno, last_seqno FROM stream_positions
       WHERE first_seqno <= ? ORDER BY first_seqno DESC, stream_sequence DESC LIMIT 1`,
    );
    this.selectLastPosition = db.prepare(
      `SELECT stream_sequence, first_seqno, last_seqno FROM stream_positions
       ORDER BY stream_sequence DESC LIMIT 1`,
    );
    this.countPositions = db.prepare<[], number>('SELECT count(*) FROM stream_positions').pluck();
    // One read transaction, so the parts agree with each other while a writer goes on.
    const inTransaction = db.transaction(() => this.readSnapshotParts());
    this.readSnapshot = () => inTransaction.deferred();
  }

  /** Undefined until the node's identity was written (a new file). */
  identity(): NodeIdentity | undefined {
    const row = this.selectNode.get();
    return row && { nodeId: row.node_id, cluster: row.cluster, createdAtMs: row.created_at_ms };
  }

  term(): MetaTerm {
    const row = this.selectTerm.get();
    invariant(row !== undefined, 'the term row is written with the node identity');
    return {
      epoch: row.epoch,
      leaderId: row.leader_id ?? undefined,
      leaderUrl: row.leader_url ?? undefined,
      updatedAtMs: row.updated_at_ms,
    };
  }

  peers(): PeerRecord[] {
    return this.selectPeers.all().map((row) => ({
      nodeId: row.node_id,
      url: row.url,
      role: row.role,
      epoch: row.epoch,
      appliedSeqno: row.applied_seqno,
      durableSeqno: row.durable_seqno,
      lastContactMs: row.last_contact_ms,
    }));
  }

  checkpoints(limit: number): CheckpointRecord[] {
    return this.selectCheckpoints.all(limit).map((row) => ({
      id: row.id,
      kind: row.kind,
      seqno: row.seqno,
      location: row.location,
      sizeBytes: row.size_bytes,
      createdAtMs: row.created_at_ms,
    }));
  }

  streamPositionAtOrBefore(seqno: number): StreamPosition | undefined {
    const row = this.selectPositionAtOrBefore.get(seqno);
    return row && toStreamPosition(row);
  }

  lastStreamPosition(): StreamPosition | undefined {
    const row = this.selectLastPosition.get();
    return row && toStreamPosition(row);
  }

  streamPositionCount(): number {
    const count = this.countPositions.get();
    invariant(typeof count === 'number', 'count(*) yields a number');
    return count;
  }

  /** Undefined when the node's identity was never written. */
  snapshot(): MetaSnapshot | undefined {
    return this.readSnapshot();
  }

  private readSnapshotParts(): MetaSnapshot | undefined {
    const identity = this.identity();
    if (identity === undefined) return undefined;
    const last = this.lastStreamPosition();
    return {
      nodeId: identity.nodeId,
      cluster: identity.cluster,
      schemaVersion: readSchemaVersion(this.db),
      createdAtMs: identity.createdAtMs,
      term: this.term(),
      peers: this.peers(),
      checkpoints: this.checkpoints(SNAPSHOT_CHECKPOINTS),
      streamPositions: {
        count: this.streamPositionCount(),
        ...(last === undefined ? {} : { last }),
      },
    };
  }
}

function toStreamPosition(row: StreamPositionRow): StreamPosition {
  return {
    streamSequence: row.stream_sequence,
    firstSeqno: row.first_seqno,
    lastSeqno: row.last_seqno,
  };
}
