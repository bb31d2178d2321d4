import type { Store } from '@strata/store';
import type { LogFollower } from '../follower/log-follower.js';
import type { LogPublisher } from '../leader/log-publisher.js';
import { QuorumTracker } from '../leader/quorum-tracker.js';
import { ReplicationBacklog } from '../leader/replication-backlog.js';
import type { LeaderLease, LeaseHolder } from '../leadership/leader-lease.js';
import type { ReplicationLogger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { clusterNames } from '../names.js';
import type { ClusterNames } from '../names.js';
import {
  DEFAULT_CLUSTER_SIZE,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_UNREPLICATED_BYTES,
  DEFAULT_MAX_UNREPLICATED_ENTRIES,
  LEASE_STEP_DOWN_FRACTION,
} from '../settings.js';
import type { NodeRole, NodeStatus } from '../status/node-status.js';
import type { StreamIndex } from '../stream-index.js';
import { errorMessage } from '../timing.js';
import type { ReplicationNodeOptions } from './node-options.js';

/**
 * What the parts of one replication node share: its settings and NATS handles, and the state
 * they move between them (the store, the role, the publisher or follower, the lease revision,
 * the peers, the counters). One object passed to each part's functions, so the role loop,
 * stream placement, cut-back, bootstrap, hand-over and peer status each live in their own file
 * while every role change still runs one at a time through {@link enqueue}.
 */
export class NodeState {
  /** The store (replaced after a cut-back or a bootstrap). */
  store: Store;
  role: NodeRole = 'follower';
  publisher: LogPublisher | undefined;
  follower: LogFollower | undefined;
  /** Revision of the lease this node holds; undefined when it holds none. */
  leaseRevision: number | undefined;
  /** When the last successful renewal (or take-over) of the lease was sent (`Date.now()`). */
  leaseRenewedAtMs = 0;
  knownLeader: LeaseHolder | undefined;
  readonly peers = new Map<string, NodeStatus>();
  readonly quorum: QuorumTracker;
  readonly backlog: ReplicationBacklog;
  readonly names: ClusterNames;
  readonly logger: ReplicationLogger;
  readonly maxMessageBytes: number;
  /** The tail of the chain of role changes: each runs after the one before it settled. */
  transition: Promise<void> = Promise.resolve();
  closed = false;
  handingOff = false;
  statusScheduled = false;
  streamLastSeqno = 0;
  droppedEntries = 0;
  bootstraps = 0;
  lastPositionRecordMs = 0;

  constructor(
    readonly options: ReplicationNodeOptions,
    readonly lease: LeaderLease,
    readonly index: StreamIndex,
    store: Store,
  ) {
    this.store = store;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.names = clusterNames(options.cluster);
    this.logger = options.logger ?? silentLogger;
    this.quorum = new QuorumTracker(
      options.clusterSize ?? DEFAULT_CLUSTER_SIZE,
      () => this.store.durableSeqno,
    );
    this.backlog = new ReplicationBacklog({
      maxEntries: options.maxUnreplicatedEntries ?? DEFAULT_MAX_UNREPLICATED_ENTRIES,
      maxBytes: options.maxUnreplicatedBytes ?? DEFAULT_MAX_UNREPLICATED_BYTES,
    });
  }

  /** This node as a lease holder, in its store's epoch. */
  selfHolder(): LeaseHolder {
    return { nodeId: this.options.nodeId, url: this.options.url, epoch: this.store.epoch };
  }

  /** The leader as this node knows it: itself while it leads. */
  currentLeader(): LeaseHolder | undefined {
    return this.role === 'leader' ? this.selfHolder() : this.knownLeader;
  }

  /**
   * Milliseconds since the lease was last renewed when that is more than the share of its time
   * to live a leader may use ({@link LEASE_STEP_DOWN_FRACTION}), else undefined: past it another
   * node may soon hold the lease, so this one must take no more writes even before a hung
   * renewal fails and it steps down.
   */
  leaseStaleForMs(nowMs = Date.now()): number | undefined {
    const sinceMs = nowMs - this.leaseRenewedAtMs;
    return sinceMs > this.lease.ttlMs * LEASE_STEP_DOWN_FRACTION ? sinceMs : undefined;
  }

  /** Runs `work` after every role change before it; a failure is logged for the chain. */
  enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.transition.then(work);
    this.transition = next.catch((error: unknown) =>
      this.logger.error({ err: errorMessage(error) }, 'role change failed'),
    );
    return next;
  }
}
