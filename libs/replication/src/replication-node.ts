import { join } from 'node:path';
import { StrataError, isStrataError } from '@strata/core';
import { Store } from '@strata/store';
import { decodeRecord } from '@strata/wal';
import type { NatsConnection, Subscription } from 'nats';
import { StringCodec } from 'nats';
import { checkpointArchive } from './bootstrap/archive-writer.js';
import { ARCHIVE_PREAMBLE_BYTES } from './bootstrap/archive-format.js';
import { fetchCheckpoint } from './bootstrap/fetch-checkpoint.js';
import { installCheckpoint } from './bootstrap/install-checkpoint.js';
import { recoverInterruptedBootstrap } from './bootstrap/bootstrap-swap.js';
import { LogFollower } from './follower/log-follower.js';
import type { FollowerStop } from './follower/log-follower.js';
import { LogPublisher } from './leader/log-publisher.js';
import { QuorumTracker } from './leader/quorum-tracker.js';
import { ReplicationBacklog } from './leader/replication-backlog.js';
import type { BacklogReading } from './leader/replication-backlog.js';
import { LeaderLease } from './leadership/leader-lease.js';
import type { LeaseHolder } from './leadership/leader-lease.js';
import type { ReplicationLogger } from './logger.js';
import { silentLogger } from './logger.js';
import { errorMessage } from './timing.js';
import type { ClusterMeta } from './meta/cluster-meta.js';
import { clusterNames } from './names.js';
import type { ClusterNames } from './names.js';
import { publishStatus, subscribeStatus } from './status/node-status.js';
import type { NodeRole, NodeStatus } from './status/node-status.js';
import { StreamIndex } from './stream-index.js';
import { ensureLogStream } from './stream-setup.js';

/** How a node takes part in leadership. */
export type RoleSetting = 'leader' | 'follower' | 'auto';

/** Settings of {@link ReplicationNode.start}. */
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
  /** Stream limits: the stream drops older messages beyond these (followers then bootstrap). */
  readonly streamMaxBytes?: number;
  readonly streamMaxAgeMs?: number;
  /** How long an `acks=quorum` write waits for a majority. Default 10 s. */
  readonly quorumTimeoutMs?: number;
  /**
   * Log entries the leader may hold beyond what a quorum has durable; past it writes are refused
   * with `REPLICATION_BACKLOG`. Default {@link DEFAULT_MAX_UNREPLICATED_ENTRIES}.
   */
  readonly maxUnreplicatedEntries?: number;
  /** The same bound in log record bytes. Default {@link DEFAULT_MAX_UNREPLICATED_BYTES}. */
  readonly maxUnreplicatedBytes?: number;
  /** Bearer token of the leader's HTTP API (checkpoint download). */
  readonly token?: string;
  readonly logger?: ReplicationLogger;
}

/** What `/v1/status` shows about replication. */
export interface ReplicationStatus {
  readonly cluster: string;
  readonly role: NodeRole;
  readonly epoch: number;
  readonly leaderId: string | undefined;
  readonly leaderUrl: string | undefined;
  readonly publishedSeqno: number | undefined;
  readonly quorumSeqno: number | undefined;
  /** On the leader: what it holds beyond the quorum (lost if it died now). */
  readonly unreplicated: BacklogReading | undefined;
  readonly streamLastSeqno: number;
  readonly lagSeqnos: number;
  readonly follower:
    | {
        readonly streamSequence: number;
        readonly appliedMessages: number;
        readonly refusedMessages: number;
        readonly lastRefusal: string | undefined;
        readonly consumerRestarts: number;
      }
    | undefined;
  readonly peers: readonly NodeStatus[];
  readonly droppedEntries: number;
  readonly bootstraps: number;
}

const MIB = 1024 * 1024;

/**
 * Default bound on the entries a leader holds beyond its quorum: about ten seconds of a busy
 * node's single writes, far above the few milliseconds followers lag when healthy, so only a
 * leader cut off from its followers reaches it.
 */
export const DEFAULT_MAX_UNREPLICATED_ENTRIES = 100_000;
/** Default bound in bytes: one largest batch (64 MiB) fits, a second does not. */
export const DEFAULT_MAX_UNREPLICATED_BYTES = 64 * MIB;
/** Largest record a follower assembles: above the node's largest batch (64 MiB) plus framing. */
const MAX_RECORD_BYTES = 80 * MIB;
const codec = StringCodec();

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
  private storeValue: Store;
  private roleValue: NodeRole = 'follower';
  private publisher: LogPublisher | undefined;
  private follower: LogFollower | undefined;
  private leaseRevision: number | undefined;
  private leaseRenewedAtMs = 0;
  private knownLeader: LeaseHolder | undefined;
  private readonly peers = new Map<string, NodeStatus>();
  private readonly quorum: QuorumTracker;
  private readonly backlog: ReplicationBacklog;
  private readonly names: ClusterNames;
  private readonly logger: ReplicationLogger;
  private readonly subscriptions: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private transition: Promise<void> = Promise.resolve();
  private closed = false;
  private handingOff = false;
  private statusScheduled = false;
  private streamLastSeqno = 0;
  private droppedEntries = 0;
  private bootstraps = 0;
  private lastPositionRecordMs = 0;
  private readonly maxMessageBytes: number;

  private constructor(
    private readonly options: ReplicationNodeOptions,
    private readonly lease: LeaderLease,
    private readonly index: StreamIndex,
    store: Store,
  ) {
    this.storeValue = store;
    this.maxMessageBytes = options.maxMessageBytes ?? MIB;
    this.names = clusterNames(options.cluster);
    this.logger = options.logger ?? silentLogger;
    this.quorum = new QuorumTracker(options.clusterSize ?? 3, () => this.storeValue.durableSeqno);
    this.backlog = new ReplicationBacklog({
      maxEntries: options.maxUnreplicatedEntries ?? DEFAULT_MAX_UNREPLICATED_ENTRIES,
      maxBytes: options.maxUnreplicatedBytes ?? DEFAULT_MAX_UNREPLICATED_BYTES,
    });
  }

  /**
   * Finishes an interrupted bootstrap, opens the store, makes sure the stream and the lease
   * bucket exist, and starts following (or leading, when the lease says so).
   */
  static async start(options: ReplicationNodeOptions): Promise<ReplicationNode> {
    const names = clusterNames(options.cluster);
    // A message (data and headers) must fit the server's max_payload (1 MB by default).
    const serverMaxPayload = options.nats.info?.max_payload ?? MIB;
    const maxMessageBytes = Math.min(options.maxMessageBytes ?? MIB, serverMaxPayload - 16 * 1024);
    const jsm = await options.nats.jetstreamManager();
    await ensureLogStream(jsm, names, {
      maxMessageBytes,
      ...(options.streamMaxBytes !== undefined ? { maxBytes: options.streamMaxBytes } : {}),
      ...(options.streamMaxAgeMs !== undefined ? { maxAgeMs: options.streamMaxAgeMs } : {}),
    });
    const lease = await LeaderLease.open(
      options.nats.jetstream(),
      names,
      options.leaseTtlMs ?? 3_000,
    );
    const recovered = await recoverInterruptedBootstrap(options.dataDirectory);
    if (recovered !== 'none')
      (options.logger ?? silentLogger).warn({ recovered }, 'finished an interrupted bootstrap');
    const store = await options.openStore();
    const node = new ReplicationNode(
      { ...options, maxMessageBytes },
      lease,
      new StreamIndex(jsm, names, MAX_RECORD_BYTES, { logger: options.logger ?? silentLogger }),
      store,
    );
    await node.begin();
    return node;
  }

  /** The store (replaced after a cut-back or a bootstrap: do not keep it across awaits). */
  get store(): Store {
    return this.storeValue;
  }

  /** This node's current part. */
  get role(): NodeRole {
    return this.roleValue;
  }

  /** The leader as this node knows it. */
  get leader(): LeaseHolder | undefined {
    return this.roleValue === 'leader'
      ? { nodeId: this.options.nodeId, url: this.options.url, epoch: this.storeValue.epoch }
      : this.knownLeader;
  }

  /** Throws `NOT_LEADER` (details.leaderUrl when known) unless this node accepts writes now. */
  assertLeader(): void {
    if (this.roleValue === 'leader' && !this.handingOff && !this.closed) return;
    const leader = this.knownLeader;
    throw new StrataError(
      'NOT_LEADER',
      leader && leader.nodeId !== this.options.nodeId
        ? `this node is a ${this.roleValue}; the leader is ${leader.nodeId} at ${leader.url}`
        : `this node is a ${this.handingOff ? 'leader handing over' : this.roleValue}; no leader is known yet`,
      {
        details: {
          ...(leader && leader.nodeId !== this.options.nodeId
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
    const store = this.storeValue;
    this.backlog.assertRoom(store.lastSeqno, store.appliedLogBytes, this.quorum.quorumSeqno());
  }

  /** Resolves once a majority of the cluster has `seqno` durable (`TIMEOUT` otherwise). */
  waitForQuorum(seqno: number): Promise<void> {
    return this.quorum.waitFor(seqno, this.options.quorumTimeoutMs ?? 10_000);
  }

  /**
   * A checkpoint of this node as an archive stream (the route a bootstrapping follower reads);
   * a completed one is recorded in the metadata as taken.
   */
  async *checkpointArchive(signal?: AbortSignal): AsyncGenerator<Buffer> {
    let sizeBytes = 0;
    let seqno = 0;
    for await (const chunk of checkpointArchive(this.storeValue, {
      scratchDirectory: join(this.options.dataDirectory, 'checkpoints.tmp'),
      ...(signal ? { signal } : {}),
    })) {
      // The header's seqno follows the magic and version (bootstrap/archive-format.ts).
      if (sizeBytes === 0 && chunk.length >= ARCHIVE_PREAMBLE_BYTES + 8)
        seqno = Number(chunk.readBigUInt64LE(ARCHIVE_PREAMBLE_BYTES));
      sizeBytes += chunk.length;
      yield chunk;
    }
    try {
      this.options.meta.recordCheckpoint({ kind: 'taken', seqno, location: 'http', sizeBytes });
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, 'could not record the checkpoint');
    }
  }

  /** Replication's part of `/v1/status`. */
  status(): ReplicationStatus {
    const follower = this.follower?.stats();
    const leader = this.leader;
    return {
      cluster: this.options.cluster,
      role: this.roleValue,
      epoch: this.storeValue.epoch,
      leaderId: leader?.nodeId,
      leaderUrl: leader?.url,
      publishedSeqno: this.publisher?.stats().publishedSeqno,
      quorumSeqno: this.roleValue === 'leader' ? this.quorum.quorumSeqno() : undefined,
      unreplicated:
        this.roleValue === 'leader'
          ? this.backlog.reading(
              this.storeValue.lastSeqno,
              this.storeValue.appliedLogBytes,
              this.quorum.quorumSeqno(),
            )
          : undefined,
      streamLastSeqno: this.streamLastSeqno,
      lagSeqnos: Math.max(0, this.streamLastSeqno - this.storeValue.lastSeqno),
      follower: follower && {
        streamSequence: follower.streamSequence,
        appliedMessages: follower.appliedMessages,
        refusedMessages: follower.refusedMessages,
        lastRefusal: follower.lastRefusal,
        consumerRestarts: follower.consumerRestarts,
      },
      peers: [...this.peers.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
      droppedEntries: this.droppedEntries,
      bootstraps: this.bootstraps,
    };
  }

  /**
   * Asks the leader to hand leadership to this node (`strata promote`): the leader stops taking
   * writes, waits until this node has applied its whole log, writes the lease over to this node
   * and steps down; this node then opens a new epoch.
   */
  async promote(timeoutMs = 30_000): Promise<{ epoch: number }> {
    if (this.roleValue === 'leader') return { epoch: this.storeValue.epoch };
    const reply = await this.options.nats
      .request(
        this.names.handoffSubject,
        codec.encode(JSON.stringify({ nodeId: this.options.nodeId, url: this.options.url })),
        { timeout: timeoutMs },
      )
      .catch((error: unknown) => {
        throw new StrataError('TIMEOUT', `no leader answered the hand-over request`, {
          cause: error,
        });
      });
    const answer = JSON.parse(codec.decode(reply.data)) as {
      ok: boolean;
      error?: { code: string; message: string };
    };
    if (!answer.ok) {
      throw new StrataError(
        (answer.error?.code as 'TIMEOUT') ?? 'INTERNAL',
        `the leader refused the hand-over: ${answer.error?.message ?? 'unknown reason'}`,
      );
    }
    const deadline = Date.now() + timeoutMs;
    while ((this.roleValue as NodeRole) !== 'leader') {
      if (Date.now() > deadline)
        throw new StrataError('TIMEOUT', 'the lease was handed over but this node did not lead');
      await this.tick();
      await sleep(20);
    }
    return { epoch: this.storeValue.epoch };
  }

  /** Stops replication, gives the lease up if held, closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.transition.catch(() => undefined);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.quorum.abort(new StrataError('CLOSED', 'the node is closing'));
    await this.follower?.stop();
    await this.publisher?.stop();
    if (this.roleValue === 'leader' && this.leaseRevision !== undefined)
      await this.lease.release(this.leaseRevision).catch(() => undefined);
    await this.storeValue.close();
  }

  // ------------------------------------------------------------------ lifecycle

  private async begin(): Promise<void> {
    const statusSubject = this.names.statusSubjectPrefix;
    this.subscriptions.push(
      subscribeStatus(this.options.nats, statusSubject, (status) => this.onPeerStatus(status)),
    );
    this.subscriptions.push(
      this.options.nats.subscribe(this.names.handoffSubject, {
        callback: (_error, message) => {
          if (this.roleValue !== 'leader') return;
          void this.handOff(message.data).then(
            (answer) => message.respond(codec.encode(JSON.stringify(answer))),
            () => undefined,
          );
        },
      }),
    );
    const lease = await this.lease.read();
    this.knownLeader = lease?.holder;
    await this.followOrLog();
    // Restarted within its own lease (or handed it): lead again at once.
    await this.tick();
    const intervalMs = this.lease.ttlMs / 3;
    this.timers.push(
      setInterval(() => {
        void this.tick();
      }, intervalMs),
    );
    this.timers.push(setInterval(() => this.sendStatus(), this.options.statusIntervalMs ?? 1_000));
  }

  /** One round of the role loop: renew or campaign. Serialized with every role change. */
  private tick(): Promise<void> {
    const next = this.transition.then(async () => {
      if (this.closed) return;
      try {
        if (this.roleValue === 'leader') await this.renew();
        else {
          // Following failed before (the stream could not be read or placed against this log,
          // or a cut-back failed): try again, rather than stay neither following nor leading.
          if (this.follower === undefined && this.storeValue.status === 'open')
            await this.followOrLog();
          await this.campaign();
        }
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'lease round failed');
        if (
          this.roleValue === 'leader' &&
          Date.now() - this.leaseRenewedAtMs > this.lease.ttlMs * 0.8
        )
          await this.stepDown('the lease could not be renewed in time');
      }
    });
    this.transition = next.catch(() => undefined);
    return next;
  }

  private async renew(): Promise<void> {
    const holder = this.selfHolder();
    const revision = await this.lease.update(holder, this.leaseRevision ?? 0);
    if (revision === undefined) {
      await this.stepDown('another node holds the lease');
      return;
    }
    this.leaseRevision = revision;
    this.leaseRenewedAtMs = Date.now();
  }

  private async campaign(): Promise<void> {
    const lease = await this.lease.read();
    this.knownLeader = lease?.holder;
    if (lease && lease.holder.nodeId === this.options.nodeId) {
      // Handed to this node (promote), or its own lease from before a restart.
      await this.becomeLeader(lease.revision);
      return;
    }
    if (lease || this.options.role === 'follower') return;
    const tail = await this.index.tail();
    this.streamLastSeqno = tail.last?.lastSeqno ?? 0;
    if (this.storeValue.lastSeqno < this.streamLastSeqno) return; // not caught up yet
    const revision = await this.lease.acquire(this.selfHolder());
    if (revision === undefined) return;
    await this.becomeLeader(revision);
  }

  private async becomeLeader(revision: number): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
    const tail = await this.index.tail();
    const epoch =
      Math.max(this.storeValue.epoch, tail.last?.epoch ?? 0, this.options.meta.term().epoch) + 1;
    this.leaseRevision = revision;
    const renewed = await this.lease.update({ ...this.selfHolder(), epoch }, revision);
    if (renewed === undefined) {
      this.logger.warn({}, 'lost the lease while taking leadership');
      await this.followStream();
      return;
    }
    this.leaseRevision = renewed;
    this.leaseRenewedAtMs = Date.now();
    this.quorum.reset();
    this.backlog.reset(this.storeValue.lastSeqno, this.storeValue.appliedLogBytes);
    this.roleValue = 'leader';
    this.handingOff = false;
    this.knownLeader = { ...this.selfHolder(), epoch };
    this.recordTerm(epoch, this.options.nodeId, this.options.url);
    await this.storeValue.startEpoch(epoch);
    this.publisher = new LogPublisher(this.storeValue, this.options.nats.jetstream(), this.index, {
      names: this.names,
      epoch,
      maxMessageBytes: this.maxMessageBytes,
      maxInFlightMessages: this.options.maxInFlightMessages ?? 64,
      publishTimeoutMs: 5_000,
      logger: this.logger,
      onFenced: (reason, divergedAtSeqno) => {
        void this.enqueue(() => this.stepDown(reason, divergedAtSeqno));
      },
    });
    this.publisher.start();
    this.logger.info({ epoch, seqno: this.storeValue.lastSeqno }, 'leading');
    this.sendStatus();
  }

  /**
   * Stops leading and follows the stream. With `divergedAtSeqno` (the publisher found another
   * leader's record at that seqno in the stream) this node's records from there on were never
   * published: they are cut back first. Following without the cut would refuse the stream's
   * record forever, as one of a lower epoch than this node's own, and the node would win the
   * lease, be fenced and step down again in a loop (seen when two nodes raced for the first
   * lease: the deposed leader's epoch-start reached the stream after the new one had written
   * its own locally).
   */
  private async stepDown(reason: string, divergedAtSeqno?: number): Promise<void> {
    if (this.roleValue !== 'leader') return;
    this.logger.warn({ reason }, 'stepping down');
    this.roleValue = 'follower';
    this.handingOff = false;
    this.quorum.abort(new StrataError('NOT_LEADER', `this node stepped down: ${reason}`));
    await this.publisher?.stop();
    this.publisher = undefined;
    this.leaseRevision = undefined;
    if (divergedAtSeqno !== undefined) await this.cutBack(divergedAtSeqno, reason);
    await this.followStream();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.transition.then(work);
    this.transition = next.catch((error: unknown) =>
      this.logger.error({ err: errorMessage(error) }, 'role change failed'),
    );
    return next;
  }

  // ------------------------------------------------------------------ following

  /**
   * Places this node's log against the stream and starts the follower: from the message holding
   * its last seqno (the follower compares the overlap byte for byte), or bootstraps when the
   * stream no longer holds what it needs.
   */
  private async followStream(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const store = this.storeValue;
      const last = store.lastSeqno;
      const tail = await this.index.tail();
      this.streamLastSeqno = tail.last?.lastSeqno ?? 0;
      let start = 1;
      if (tail.last !== undefined) {
        if (last === 0 || last >= tail.last.lastSeqno) {
          start = last === 0 ? tail.firstStreamSequence : tail.last.streamSequence;
          if (last === 0) {
            const first = await this.index.locate(1);
            if (first.kind === 'before-stream') {
              await this.bootstrap(`the stream starts at seqno ${first.firstSeqno}`);
              continue;
            }
          }
        } else {
          const remembered = await this.rememberedPosition(last);
          const located =
            remembered !== undefined
              ? ({ kind: 'found', place: { streamSequence: remembered } } as const)
              : await this.index.locate(last);
          if (located.kind === 'found') start = located.place.streamSequence;
          else if (located.kind === 'before-stream') {
            const next = await this.index.locate(last + 1);
            if (next.kind === 'found' && next.place.firstSeqno === last + 1) {
              start = next.place.streamSequence;
            } else {
              await this.bootstrap(
                `the stream starts at seqno ${located.firstSeqno}, after this node's ${last}`,
              );
              continue;
            }
          }
        }
      } else {
        start = Math.max(1, tail.lastStreamSequence + 1);
      }
      this.startFollower(start);
      return;
    }
  }

  /**
   * {@link followStream}, logging a failure (`TIMEOUT` or `CORRUPTION` from the stream index,
   * a failed bootstrap) instead of throwing it: the role loop tries again on its next round.
   */
  private async followOrLog(): Promise<void> {
    try {
      await this.followStream();
    } catch (error) {
      if (this.closed) return;
      this.logger.warn(
        {
          err: errorMessage(error),
          ...(isStrataError(error) ? { code: error.code, details: error.details } : {}),
        },
        'cannot follow the stream; trying again on the next lease round',
      );
    }
  }

  /**
   * The stream sequence of the message holding `seqno` from the metadata's position table,
   * checked against the stream (a restart then needs no binary search).
   */
  private async rememberedPosition(seqno: number): Promise<number | undefined> {
    const position = this.options.meta.streamPositionAtOrBefore(seqno);
    if (position === undefined) return undefined;
    for (
      let sequence = position.streamSequence;
      sequence < position.streamSequence + 64;
      sequence++
    ) {
      let message;
      try {
        message = await this.index.message(sequence);
      } catch (error) {
        if (!isStrataError(error, 'CORRUPTION')) throw error;
        // Only a hint: the binary search places this node, and the follower refuses (and logs)
        // the damaged message when it gets there.
        this.logger.warn(
          { err: error.message, details: error.details },
          'a damaged message at the remembered stream position; locating by search',
        );
        return undefined;
      }
      if (message === undefined || message.place.firstSeqno > seqno) return undefined;
      if (message.place.lastSeqno >= seqno) return sequence;
    }
    return undefined;
  }

  private startFollower(streamSequence: number): void {
    const maxMessageBytes = this.maxMessageBytes;
    this.follower = new LogFollower(this.storeValue, this.options.nats.jetstream(), this.index, {
      names: this.names,
      maxMessageBytes: maxMessageBytes + 4096,
      maxRecordBytes: MAX_RECORD_BYTES,
      maxPendingRecords: 4096,
      // At most 64 MiB buffered with 1 MiB messages.
      maxBufferedMessages: 64,
      logger: this.logger,
      onApplied: (sequence, lastSeqno) => this.onApplied(sequence, lastSeqno),
      onStop: (reason) => {
        void this.enqueue(() => this.onFollowerStop(reason));
      },
    });
    this.follower.start(streamSequence);
  }

  private onApplied(streamSequence: number, lastSeqno: number): void {
    if (lastSeqno > this.streamLastSeqno) this.streamLastSeqno = lastSeqno;
    const now = Date.now();
    // The mapping only speeds up a restart: one row a second is plenty.
    if (now - this.lastPositionRecordMs >= 1_000) {
      this.lastPositionRecordMs = now;
      try {
        this.options.meta.recordStreamPosition({
          streamSequence,
          firstSeqno: lastSeqno,
          lastSeqno,
        });
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'could not record the stream position');
      }
    }
    this.scheduleStatus();
  }

  private async onFollowerStop(reason: FollowerStop): Promise<void> {
    if (this.closed || this.roleValue === 'leader') return;
    this.follower = undefined;
    if (reason.kind === 'store-failed') {
      this.logger.error({ err: reason.error.message }, 'the store failed; replication stopped');
      return;
    }
    if (reason.kind === 'behind-stream') {
      await this.bootstrap(`the stream no longer holds seqno ${this.storeValue.lastSeqno + 1}`);
    } else {
      await this.cutBack(reason.seqno, reason.reason);
    }
    await this.followStream();
  }

  /** Cuts this node's log back to the last record it shares with the stream. */
  private async cutBack(conflictSeqno: number, why: string): Promise<void> {
    let candidate = conflictSeqno - 1;
    let common: number | undefined;
    for (let steps = 0; candidate > 0 && steps < 10_000; steps++) {
      const located = await this.index.locate(candidate);
      if (located.kind !== 'found') break;
      const message = await this.index.message(located.place.streamSequence);
      const theirs = message?.records.find((record) => {
        const batch = decodeRecord(record);
        return batch.firstSeqno <= candidate && batch.lastSeqno >= candidate;
      });
      const mine = await this.storeValue.readRecord(candidate);
      if (theirs && mine && theirs.equals(mine)) {
        common = decodeRecord(mine).lastSeqno;
        break;
      }
      const starts = [theirs, mine]
        .filter((record) => record !== undefined)
        .map((record) => decodeRecord(record).firstSeqno);
      candidate = Math.min(candidate, ...starts) - 1;
    }
    if (candidate === 0) common = 0;
    if (common === undefined) {
      await this.bootstrap(`no common history with the stream found (${why})`);
      return;
    }
    const before = this.storeValue.lastSeqno;
    await this.storeValue.close({ flushMemtable: false });
    try {
      const { droppedEntries } = await Store.truncateLog(this.options.dataDirectory, common);
      this.droppedEntries += droppedEntries;
      this.options.meta.forgetStreamPositionsFrom(common + 1);
      this.logger.warn(
        { droppedEntries, fromSeqno: common + 1, toSeqno: before, reason: why },
        `dropped ${droppedEntries} log entries the leader does not have (seqnos ${common + 1}..${before})`,
      );
    } catch (error) {
      if (!isStrataError(error, 'DIVERGED')) throw error;
      this.storeValue = await this.options.openStore();
      await this.bootstrap(`the unreplicated tail is already flushed: ${error.message}`);
      return;
    }
    this.storeValue = await this.options.openStore();
  }

  /** Replaces this node's data with a checkpoint of the leader, then reopens the store. */
  private async bootstrap(why: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const lease = await this.lease.read();
      const leader = lease?.holder;
      if (leader && leader.nodeId !== this.options.nodeId) {
        this.logger.warn({ reason: why, leader: leader.url }, 'bootstrapping from the leader');
        const source = await fetchCheckpoint(leader.url, {
          ...(this.options.token ? { token: this.options.token } : {}),
        });
        const before = this.storeValue.lastSeqno;
        await this.storeValue.close({ flushMemtable: false });
        try {
          const installed = await installCheckpoint(source, this.options.dataDirectory);
          this.bootstraps++;
          this.options.meta.clearStreamPositions();
          this.options.meta.recordCheckpoint({
            kind: 'installed',
            seqno: installed.seqno,
            location: leader.url,
            sizeBytes: installed.sizeBytes,
          });
          this.logger.info(
            { seqno: installed.seqno, previousSeqno: before, sizeBytes: installed.sizeBytes },
            'installed a checkpoint of the leader',
          );
        } finally {
          this.storeValue = await this.options.openStore();
        }
        return;
      }
      if (Date.now() > deadline || this.closed)
        throw new StrataError('TIMEOUT', `cannot bootstrap (${why}): no leader to copy from`);
      await sleep(this.lease.ttlMs / 3);
    }
  }

  // ------------------------------------------------------------------ hand-over and status

  private async handOff(
    request: Uint8Array,
  ): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
    // After any role change in progress.
    return this.enqueue(() => Promise.resolve()).then(async () => {
      let target: { nodeId: string; url: string };
      try {
        target = JSON.parse(codec.decode(request)) as { nodeId: string; url: string };
      } catch {
        return { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'bad hand-over request' } };
      }
      if (this.roleValue !== 'leader' || this.leaseRevision === undefined)
        return { ok: false, error: { code: 'NOT_LEADER', message: 'not the leader' } };
      this.handingOff = true;
      const seqno = this.storeValue.lastSeqno;
      const deadline = Date.now() + 20_000;
      while ((this.peers.get(target.nodeId)?.appliedSeqno ?? 0) < seqno) {
        if (Date.now() > deadline || this.roleValue !== 'leader') {
          this.handingOff = false;
          return {
            ok: false,
            error: { code: 'TIMEOUT', message: `${target.nodeId} did not catch up to ${seqno}` },
          };
        }
        await sleep(20);
      }
      const epoch = this.storeValue.epoch;
      const revision = await this.lease.update(
        { nodeId: target.nodeId, url: target.url, epoch },
        this.leaseRevision,
      );
      if (revision === undefined) {
        this.handingOff = false;
        return { ok: false, error: { code: 'NOT_LEADER', message: 'the lease moved' } };
      }
      await this.enqueue(() => this.stepDown(`handed leadership to ${target.nodeId}`));
      return { ok: true };
    });
  }

  private onPeerStatus(status: NodeStatus): void {
    if (status.nodeId === this.options.nodeId) return;
    const previous = this.peers.get(status.nodeId);
    this.peers.set(status.nodeId, status);
    if (this.roleValue === 'leader' && status.epoch === this.storeValue.epoch)
      this.quorum.update(status.nodeId, status.durableSeqno);
    if (status.role === 'leader') {
      this.knownLeader = { nodeId: status.nodeId, url: status.url, epoch: status.epoch };
      this.recordTerm(status.epoch, status.nodeId, status.url);
      if (status.appliedSeqno > this.streamLastSeqno) this.streamLastSeqno = status.appliedSeqno;
    }
    if (!previous || status.atMs - previous.atMs >= 5_000 || previous.role !== status.role) {
      try {
        this.options.meta.upsertPeer({
          nodeId: status.nodeId,
          url: status.url,
          role: status.role,
          epoch: status.epoch,
          appliedSeqno: status.appliedSeqno,
          durableSeqno: status.durableSeqno,
          lastContactMs: status.atMs,
        });
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'could not record a peer');
      }
    }
  }

  /** Coalesces status messages after applies to one per event-loop turn. */
  private scheduleStatus(): void {
    if (this.statusScheduled) return;
    this.statusScheduled = true;
    setImmediate(() => {
      this.statusScheduled = false;
      this.sendStatus();
    });
  }

  private sendStatus(): void {
    if (this.closed) return;
    const store = this.storeValue;
    publishStatus(this.options.nats, this.names.statusSubjectPrefix, {
      nodeId: this.options.nodeId,
      url: this.options.url,
      role: this.roleValue,
      epoch: store.epoch,
      appliedSeqno: store.lastSeqno,
      durableSeqno: store.durableSeqno,
      lagSeqnos: Math.max(0, this.streamLastSeqno - store.lastSeqno),
      atMs: Date.now(),
    });
  }

  /** Keeps the term in the metadata when a newer one shows up. */
  private recordTerm(epoch: number, leaderId: string, leaderUrl: string): void {
    const term = this.options.meta.term();
    if (epoch < term.epoch || (epoch === term.epoch && term.leaderId === leaderId)) return;
    try {
      this.options.meta.recordTerm({ epoch, leaderId, leaderUrl });
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, 'could not record the term');
    }
  }

  private selfHolder(): LeaseHolder {
    return { nodeId: this.options.nodeId, url: this.options.url, epoch: this.storeValue.epoch };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
