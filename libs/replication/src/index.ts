/**
 * @strata/replication: a Strata cluster over NATS JetStream. The leader publishes its log
 * records to the cluster's stream; followers apply them byte for byte; a lease in a JetStream KV
 * bucket elects the leader and epochs fence the old one; a follower too far behind bootstraps
 * from a checkpoint of the leader; each node keeps its cluster metadata in SQLite.
 *
 * The surface is what embedding a cluster node takes ({@link ReplicationNode} with its options
 * and status, {@link ClusterMeta}), plus the publisher, follower and stream index that the
 * replication benchmark drives without a node. Everything else is internal.
 *
 * @packageDocumentation
 */

// A cluster node.
export { ReplicationNode } from './replication-node.js';
export type { ReplicationNodeOptions, RoleSetting } from './node/node-options.js';
export type { ReplicationStatus } from './node/replication-status.js';
export type { NodeRole, NodeStatus } from './status/node-status.js';
export type { LeaseHolder } from './leadership/leader-lease.js';
export type { BacklogReading } from './leader/replication-backlog.js';
export type { ReplicationLogger } from './logger.js';
export { silentLogger } from './logger.js';
export { DEFAULT_MAX_UNREPLICATED_BYTES, DEFAULT_MAX_UNREPLICATED_ENTRIES } from './settings.js';
export { connectToNats, natsServerList } from './nats-connection.js';

// The checkpoint archive a bootstrapping follower installs: the node's backup and restore
// commands build on it (make, read, verify and install one).
export {
  ArchiveEncoder,
  archivePathProblem,
  checkpointArchive,
  installCheckpoint,
  readCheckpointArchive,
} from './bootstrap/index.js';
export type {
  ArchiveSink,
  ArchiveSummary,
  CheckpointArchiveOptions,
  InstalledCheckpoint,
} from './bootstrap/index.js';

// Its metadata (meta.sqlite), also read offline by `strata inspect`.
export { ClusterMeta } from './meta/cluster-meta.js';
export type {
  ClusterMetaOptions,
  ReadMetaSnapshotOptions,
  MetaSqliteSettings,
} from './meta/cluster-meta.js';
export type {
  PeerRole,
  PeerRecord,
  MetaTerm,
  TermUpdate,
  StreamPosition,
  CheckpointKind,
  CheckpointInput,
  CheckpointRecord,
  MetaSnapshot,
} from './meta/meta-records.js';

// The parts the replication benchmark runs without a node.
export { clusterNames } from './names.js';
export type { ClusterNames } from './names.js';
export { ensureLogStream } from './stream-setup.js';
export type { StreamLimits } from './stream-setup.js';
export { STREAM_REPLICA_CHOICES, chooseStreamReplicas } from './stream-replicas.js';
export type { ReplicaChoice, StreamReplicas } from './stream-replicas.js';
export { describeNatsDeployment } from './nats-deployment.js';
export type { NatsDeployment } from './nats-deployment.js';
export { StreamIndex } from './stream-index.js';
export type { StreamIndexOptions } from './stream-index.js';
export { LogPublisher } from './leader/log-publisher.js';
export type { LogPublisherOptions, PublisherStats } from './leader/log-publisher.js';
export { LogFollower } from './follower/log-follower.js';
export type { FollowerStats, FollowerStop, LogFollowerOptions } from './follower/log-follower.js';
