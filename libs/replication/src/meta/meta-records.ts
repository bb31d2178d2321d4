/** What a node is in the cluster, as last seen by this node. */
export type PeerRole = 'leader' | 'follower' | 'candidate' | 'unknown';

/** Every {@link PeerRole}, for validation and option lists. */
export const PEER_ROLES: readonly PeerRole[] = ['leader', 'follower', 'candidate', 'unknown'];

/** A known node of the cluster and its progress, as this node last heard it. */
export interface PeerRecord {
  readonly nodeId: string;
  /** Base URL of the peer's HTTP API. */
  readonly url: string;
  readonly role: PeerRole;
  /** Highest epoch the peer reported. */
  readonly epoch: number;
  /** Last seqno in the peer's memtable. */
  readonly appliedSeqno: number;
  /** Last seqno fsynced in the peer's own WAL (what quorum acks count). */
  readonly durableSeqno: number;
  /** When this node last heard from the peer (ms since the Unix epoch). */
  readonly lastContactMs: number;
}

/** The epoch and its leader as this node knows them. */
export interface MetaTerm {
  /** 0 until the node has seen a leader's epoch. */
  readonly epoch: number;
  /** Undefined when no leader of this epoch is known. */
  readonly leaderId: string | undefined;
  readonly leaderUrl: string | undefined;
  /** When the term last changed (ms since the Unix epoch). */
  readonly updatedAtMs: number;
}

/** Argument of `ClusterMeta.recordTerm`: the term as the caller now knows it, in full. */
export interface TermUpdate {
  readonly epoch: number;
  /** Omitted: the leader of `epoch` is not known (any stored leader is cleared). */
  readonly leaderId?: string;
  /** Only with `leaderId`. */
  readonly leaderUrl?: string;
}

/** Which seqnos one log message of the stream carries: the map a follower resumes with. */
export interface StreamPosition {
  /** JetStream sequence of the message (from 1). */
  readonly streamSequence: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
}

/** `taken`: this node wrote a checkpoint; `installed`: it bootstrapped from one. */
export type CheckpointKind = 'taken' | 'installed';

/** Argument of `ClusterMeta.recordCheckpoint`. */
export interface CheckpointInput {
  readonly kind: CheckpointKind;
  /** The checkpoint holds every write up to this seqno. */
  readonly seqno: number;
  /** Where the checkpoint is: a directory, or a URL it was fetched from. */
  readonly location: string;
  readonly sizeBytes: number;
  /** Default: now. */
  readonly createdAtMs?: number;
}

/** A recorded checkpoint. */
export interface CheckpointRecord {
  /** Increases with every checkpoint recorded; newest is highest. */
  readonly id: number;
  readonly kind: CheckpointKind;
  readonly seqno: number;
  readonly location: string;
  readonly sizeBytes: number;
  readonly createdAtMs: number;
}

/**
 * Everything `meta.sqlite` holds, as a plain JSON-serialisable object: what `/v1/status` and
 * `strata inspect` show.
 */
export interface MetaSnapshot {
  readonly nodeId: string;
  readonly cluster: string;
  /** `PRAGMA user_version` of the file. */
  readonly schemaVersion: number;
  /** When this data directory joined the cluster (ms since the Unix epoch). */
  readonly createdAtMs: number;
  readonly term: MetaTerm;
  /** Ordered by node id. */
  readonly peers: readonly PeerRecord[];
  /** The most recent ones, newest first. */
  readonly checkpoints: readonly CheckpointRecord[];
  readonly streamPositions: {
    readonly count: number;
    /** The position with the highest stream sequence; absent when none is recorded. */
    readonly last?: StreamPosition;
  };
}
