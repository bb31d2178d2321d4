import { StrataError } from '@strata/core';
import type { Store } from '@strata/store';
import type { Subscription } from 'nats';
import { recoverInterruptedBootstrap } from './bootstrap/bootstrap-swap.js';
import { servedCheckpointArchive } from './node/serve-checkpoint.js';
import { followOrLog } from './node/stream-placement.js';
import { requestHandOver, serveHandOver } from './node/hand-over.js';
import { LeaderLease } from './leadership/leader-lease.js';
import type { LeaseHolder } from './leadership/leader-lease.js';
import { tick } from './node/role-loop.js';
import { silentLogger } from './logger.js';
import { clusterNames } from './names.js';
import type { ReplicationNodeOptions } from './node/node-options.js';
import { NodeState } from './node/node-state.js';
import {
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_QUORUM_TIMEOUT_MS,
  DEFAULT_STATUS_INTERVAL_MS,
  LEASE_ROUNDS_PER_TTL,
  MAX_RECORD_BYTES,
  MESSAGE_HEADER_ROOM_BYTES,
} from './settings.js';
import type { NodeRole } from './status/node-status.js';
import { subscribeStatus } from './status/node-status.js';
import { onPeerStatus, sendStatus } from './node/peer-status.js';
import { replicationStatus } from './node/replication-status.js';
import type { ReplicationStatus } from './node/replication-status.js';
import { StreamIndex } from './stream-index.js';
import { ensureLeaseReplicas, ensureLogStream, existingReplicas } from './stream-setup.js';
import { describeNatsDeployment } from './nats-deployment.js';
import { chooseStreamReplicas } from './stream-replicas.js';

/**
 * One node of a Strata cluster: owns the store while replication runs, follows the stream or
 * leads it, and moves between the two. Leadership is a lease in JetStream KV; a new leader opens
 * a new epoch with an epoch-start record, which fences the old leader's publishes. A node whose
 * log conflicts with the stream cuts its unreplicated tail back to the common prefix; one the
 * stream cannot serve bootstraps from the leader's checkpoint.
 *
 * @example
 * ```ts
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const meta = ClusterMeta.open('./data/meta.sqlite', { cluster: 'demo', nodeId: 'n1' });
 * const node = await ReplicationNode.start({
 *   nats: nc, cluster: 'demo', nodeId: 'n1', url: 'http://127.0.0.1:7070',
 *   dataDirectory: './data', role: 'auto', meta, openStore: () => Store.open('./data'),
 * });
 * node.assertLeader(); // throws NOT_LEADER (details.leaderUrl) on a follower
 * ```
 */
export class ReplicationNode {
  private readonly subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];

  private constructor(private readonly node: NodeState) {}

  /**
   * Finishes an interrupted bootstrap, opens the store, makes sure the stream and the lease
   * bucket exist, and starts following (or leading, when the lease says so).
   */
  static async start(options: ReplicationNodeOptions): Promise<ReplicationNode> {
    const names = clusterNames(options.cluster);
    // A message (data and headers) must fit the server's max_payload (1 MB by default).
    const serverMaxPayload = options.nats.info?.max_payload ?? DEFAULT_MAX_MESSAGE_BYTES;
    const maxMessageBytes = Math.min(
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      serverMaxPayload - MESSAGE_HEADER_ROOM_BYTES,
    );
    const jsm = await options.nats.jetstreamManager();
    const deployment = describeNatsDeployment(options.nats.info);
    const replicas = chooseStreamReplicas({
      requested: options.streamReplicas,
      deployment,
      existingReplicas: await existingReplicas(jsm, names.stream),
    });
    (options.logger ?? silentLogger).info(
      {
        streamReplicas: replicas.replicas,
        jetStreamServers: deployment.jetStreamServers,
        reason: replicas.reason,
      },
      `log stream and lease bucket: ${replicas.replicas} replica${replicas.replicas === 1 ? '' : 's'}`,
    );
    await ensureLogStream(
      jsm,
      names,
      {
        maxMessageBytes,
        ...(options.streamMaxBytes !== undefined ? { maxBytes: options.streamMaxBytes } : {}),
        ...(options.streamMaxAgeMs !== undefined ? { maxAgeMs: options.streamMaxAgeMs } : {}),
      },
      replicas.replicas,
    );
    const lease = await LeaderLease.open(
      options.nats.jetstream(),
      names,
      options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
      replicas.replicas,
    );
    await ensureLeaseReplicas(jsm, names, replicas.replicas);
    const recovered = await recoverInterruptedBootstrap(options.dataDirectory);
    if (recovered !== 'none')
      (options.logger ?? silentLogger).warn({ recovered }, 'finished an interrupted bootstrap');
    const store = await options.openStore();
    // Only a leader writes expiry events (role-loop enables them); a follower applies the leader's.
    store.setExpiryWrites(false);
    const node = new ReplicationNode(
      new NodeState(
        { ...options, maxMessageBytes },
        lease,
        new StreamIndex(jsm, names, MAX_RECORD_BYTES, { logger: options.logger ?? silentLogger }),
        store,
      ),
    );
    await node.begin();
    return node;
  }

  /** The store (replaced after a cut-back or a bootstrap: do not keep it across awaits). */
  get store(): Store {
    return this.node.store;
  }

  /** This node's current part. */
  get role(): NodeRole {
    return this.node.role;
  }

  /** The leader as this node knows it. */
  get leader(): LeaseHolder | undefined {
    return this.node.currentLeader();
  }

  /**
   * Throws `NOT_LEADER` (details.leaderUrl when known) unless this node accepts writes now: it
   * leads, is not handing over, and renewed its lease within the share of its time to live a
   * leader may use (a leader cut off from NATS stops taking writes within its lease, before its
   * hung renewal fails and it steps down).
   */
  assertLeader(): void {
    const node = this.node;
    if (node.role === 'leader' && !node.handingOff && !node.closed) {
      const staleForMs = node.leaseStaleForMs();
      if (staleForMs === undefined) return;
      throw new StrataError(
        'NOT_LEADER',
        `this leader's lease was last renewed ${staleForMs} ms ago (time to live ` +
          `${node.lease.ttlMs} ms): it takes no writes unless it renews the lease`,
        { details: {} },
      );
    }
    const leader = node.knownLeader;
    throw new StrataError(
      'NOT_LEADER',
      leader && leader.nodeId !== node.options.nodeId
        ? `this node is a ${node.role}; the leader is ${leader.nodeId} at ${leader.url}`
        : `this node is a ${node.handingOff ? 'leader handing over' : node.role}; no leader is known yet`,
      {
        details: {
          ...(leader && leader.nodeId !== node.options.nodeId
            ? { leaderId: leader.nodeId, leaderUrl: leader.url }
            : {}),
        },
      },
    );
  }

  /**
   * Throws unless this node may admit a write now: `NOT_LEADER` as {@link assertLeader}, and
   * `REPLICATION_BACKLOG` when it already holds its limit of entries or bytes that a quorum does
   * not have durable (whatever the write's ack mode: past the bound nothing more is taken in that
   * a failover could drop).
   */
  assertAcceptsWrites(): void {
    this.assertLeader();
    const { store, backlog, quorum } = this.node;
    backlog.assertRoom(store.lastSeqno, store.appliedLogBytes, quorum.quorumSeqno());
  }

  /**
   * Acknowledges a write this node took at `seqno` in term `epoch` (the epoch its store stamped
   * on it): at once under `leader` acks, once a majority has it durable under `quorum`; either way
   * only while this node still leads that term. A write taken in a term this node no longer leads
   * (it stepped down between admitting the write and taking its seqno, or while the write waited
   * for its quorum) may be cut back or may survive: `OUTCOME_UNKNOWN`, never an acknowledgement.
   *
   * @throws StrataError `OUTCOME_UNKNOWN` (details.seqno), `TIMEOUT` when the quorum does not
   * answer within `quorumTimeoutMs`.
   */
  async acknowledgeWrite(seqno: number, epoch: number, acks: 'leader' | 'quorum'): Promise<void> {
    this.assertLeadingTerm(seqno, epoch);
    if (acks === 'leader') return;
    await this.waitForQuorum(seqno);
    this.assertLeadingTerm(seqno, epoch);
  }

  private assertLeadingTerm(seqno: number, epoch: number): void {
    const node = this.node;
    if (node.role === 'leader' && !node.closed && node.store.epoch === epoch) return;
    throw new StrataError(
      'OUTCOME_UNKNOWN',
      `seqno ${seqno} was taken in epoch ${epoch}, which this node no longer leads (it is a ${node.role} in epoch ${node.store.epoch}): the write may survive or be cut back; read the key to learn which`,
      { details: { seqno, epoch } },
    );
  }

  /** Resolves once a majority of the cluster has `seqno` durable (`TIMEOUT` otherwise). */
  waitForQuorum(seqno: number): Promise<void> {
    return this.node.quorum.waitFor(
      seqno,
      this.node.options.quorumTimeoutMs ?? DEFAULT_QUORUM_TIMEOUT_MS,
    );
  }

  /**
   * A checkpoint of this node as an archive stream (the route a bootstrapping follower reads);
   * a completed one is recorded in the metadata as taken.
   */
  checkpointArchive(signal?: AbortSignal): AsyncGenerator<Buffer> {
    return servedCheckpointArchive(this.node, signal);
  }

  /** Replication's part of `/v1/status`. */
  status(): ReplicationStatus {
    return replicationStatus(this.node);
  }

  /**
   * Asks the leader to hand leadership to this node (`strata promote`): the leader stops taking
   * writes, waits until this node has applied its whole log, writes the lease over to this node
   * and steps down; this node then opens a new epoch.
   */
  promote(timeoutMs?: number): Promise<{ epoch: number }> {
    return requestHandOver(this.node, timeoutMs);
  }

  /** Stops replication, gives the lease up if held, closes the store. */
  async close(): Promise<void> {
    const node = this.node;
    if (node.closed) return;
    node.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await node.transition.catch(() => undefined);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    node.quorum.abort('the node is closing');
    await node.follower?.stop();
    await node.publisher?.stop();
    if (node.role === 'leader' && node.leaseRevision !== undefined)
      await node.lease.release(node.leaseRevision).catch(() => undefined);
    await node.store.close();
  }

  /**
   * Subscribes to peer status and hand-over requests, places this node against the stream, runs
   * a first lease round and starts the lease and status timers.
   */
  private async begin(): Promise<void> {
    const node = this.node;
    this.subscriptions.push(
      subscribeStatus(node.options.nats, node.names.statusSubjectPrefix, (status) =>
        onPeerStatus(node, status),
      ),
    );
    this.subscriptions.push(serveHandOver(node));
    const lease = await node.lease.read();
    node.knownLeader = lease?.holder;
    await followOrLog(node);
    // Restarted within its own lease (or handed it): lead again at once.
    await tick(node);
    const intervalMs = node.lease.ttlMs / LEASE_ROUNDS_PER_TTL;
    this.timers.push(
      setInterval(() => {
        void tick(node);
      }, intervalMs),
    );
    this.timers.push(
      setInterval(
        () => sendStatus(node),
        node.options.statusIntervalMs ?? DEFAULT_STATUS_INTERVAL_MS,
      ),
    );
  }
}
