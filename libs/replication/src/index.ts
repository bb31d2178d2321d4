/**
 * @strata/replication: a Strata cluster over NATS JetStream. The leader publishes its log
 * records to the cluster's stream; followers apply them byte for byte; a lease in a JetStream KV
 * bucket elects the leader and epochs fence the old one; a follower too far behind bootstraps
 * from a checkpoint of the leader; each node keeps its cluster metadata in SQLite.
 *
 * @packageDocumentation
 */
export { clusterNames, logMessageId, parseLogMessageId, LOG_HEADERS } from './names.js';
export type { ClusterNames } from './names.js';
export type { ReplicationLogger } from './logger.js';
export { silentLogger } from './logger.js';
export { splitLogMessage } from './wire/log-message.js';
export type { FramedRecord } from './wire/log-message.js';
export { StreamIndex } from './stream-index.js';
export type { LocateResult, LogMessagePlace, StreamTail } from './stream-index.js';
export { ensureLogStream } from './stream-setup.js';
export type { StreamLimits } from './stream-setup.js';
export { LogPublisher } from './leader/log-publisher.js';
export type { LogPublisherOptions, PublisherStats } from './leader/log-publisher.js';
export { LogFollower } from './follower/log-follower.js';
export type { FollowerStats, FollowerStop, LogFollowerOptions } from './follower/log-follower.js';
export {
  ClusterMeta,
  DEFAULT_MAX_STREAM_POSITIONS,
  MAX_RECORDED_CHECKPOINTS,
  DEFAULT_META_BUSY_TIMEOUT_MS,
} from './meta/cluster-meta.js';
export type {
  ClusterMetaOptions,
  ReadMetaSnapshotOptions,
  MetaSqliteSettings,
} from './meta/cluster-meta.js';
export { PEER_ROLES } from './meta/meta-records.js';
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
export { META_SCHEMA_VERSION, META_MIGRATIONS } from './meta/migrations.js';
export type { MetaMigration } from './meta/migrations.js';
export * from './bootstrap/index.js';
export { ReplicationNode } from './replication-node.js';
export { DEFAULT_MAX_UNREPLICATED_BYTES, DEFAULT_MAX_UNREPLICATED_ENTRIES } from './settings.js';
export type { BacklogReading } from './leader/replication-backlog.js';
export type { ReplicationNodeOptions, RoleSetting } from './node/node-options.js';
export type { ReplicationStatus } from './status/replication-status.js';
export { LeaderLease } from './leadership/leader-lease.js';
export type { LeaseHolder, LeaseState } from './leadership/leader-lease.js';
export { QuorumTracker } from './leader/quorum-tracker.js';
export type { NodeRole, NodeStatus } from './status/node-status.js';
