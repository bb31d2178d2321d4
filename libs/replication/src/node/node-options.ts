import type { NatsConnection } from 'nats';
import type { Store } from '@strata/store';
import type { ReplicationLogger } from '../logger.js';
import type { ClusterMeta } from '../meta/cluster-meta.js';
import type { StreamReplicas } from '../stream-replicas.js';

/** How a node takes part in leadership. */
export type RoleSetting = 'leader' | 'follower' | 'auto';

/** Settings of `ReplicationNode.start`; the defaults are in settings.ts. */
export interface ReplicationNodeOptions {
  /** A connected NATS client (the node owns connecting and closing it). */
  readonly nats: NatsConnection;
  readonly cluster: string;
  /** This node's id and the HTTP URL other nodes and clients reach it at. */
  readonly nodeId: string;
  readonly url: string;
  readonly dataDirectory: string;
  /**
   * `leader`: takes the lease as soon as it is free; `follower`: never campaigns (but can be
   * promoted); `auto`: campaigns when the lease is free and it has caught up.
   */
  readonly role: RoleSetting;
  /** Opens the store in `dataDirectory` (called again after a cut-back or a bootstrap). */
  readonly openStore: () => Promise<Store>;
  readonly meta: ClusterMeta;
  /** Nodes in the cluster, for `acks=quorum`. Default 3. */
  readonly clusterSize?: number;
  /** Lease time to live; renewed every third of it. Default 3 s. */
  readonly leaseTtlMs?: number;
  /** Steady status interval. Default 1 s. */
  readonly statusIntervalMs?: number;
  /** Records are packed into messages up to this size. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Publishes in flight, at most. Default 64. */
  readonly maxInFlightMessages?: number;
  /**
   * Replicas of the log stream and the lease bucket (JetStream Raft groups of 1, 3 or 5 servers).
   * Default: 3 when the NATS deployment shows at least 3 JetStream servers, else 1, and never
   * fewer than the stream has already. An existing stream with another count is changed; a count
   * JetStream cannot place fails the start with INVALID_ARGUMENT.
   */
  readonly streamReplicas?: StreamReplicas;
  /** Stream limits: the stream drops older messages beyond these (followers then bootstrap). */
  readonly streamMaxBytes?: number;
  readonly streamMaxAgeMs?: number;
  /** How long an `acks=quorum` write waits for a majority. Default 10 s. */
  readonly quorumTimeoutMs?: number;
  /**
   * Log entries the leader may hold beyond what a quorum has durable; past it writes are refused
   * with `REPLICATION_BACKLOG`. Default `DEFAULT_MAX_UNREPLICATED_ENTRIES`
   * (settings.ts).
   */
  readonly maxUnreplicatedEntries?: number;
  /** The same bound in log record bytes. Default `DEFAULT_MAX_UNREPLICATED_BYTES` (settings.ts). */
  readonly maxUnreplicatedBytes?: number;
  /** Bearer token of the leader's HTTP API (checkpoint download). */
  readonly token?: string;
  readonly logger?: ReplicationLogger;
}
