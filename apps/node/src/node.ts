import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { NatsConnection } from 'nats';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { StrataError } from '@strata/core';
import { Store, dataDirectory } from '@strata/store';
import { ClusterMeta, ReplicationNode } from '@strata/replication';
import type { RoleSetting, StreamReplicas } from '@strata/replication';
import type { StoreOptions } from '@strata/store';
import type { SyncMode } from '@strata/wal';
import { isLoopbackHost } from './http/auth.js';
import { DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES } from './http/context.js';
import type { AckMode, ClusterHooks, HttpApiOptions } from './http/context.js';
import { createHttpServer } from './http/server.js';
import { removeStaleBackupScratch } from './backup/stale-scratch.js';
import { NODE_VERSION } from './http/status-routes.js';
import { NodeMetrics } from './metrics/node-metrics.js';
import { logStoreEvents } from './metrics/store-event-log.js';
import { DEFAULT_NATS_WAIT_MS, connectToNatsAtStartup } from './nats-at-startup.js';
import { StartupLogCheck } from './startup-log-check.js';

/** Options of {@link startNode}: where to keep data, where to listen, and the API's limits. */
export interface NodeOptions extends Omit<
  HttpApiOptions,
  'nodeId' | 'metrics' | 'logger' | 'cluster'
> {
  /** Data directory. Default `./data`. */
  readonly dataDirectory?: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 7070 (0 picks a free port). */
  readonly port?: number;
  /** Default: the host name. */
  readonly nodeId?: string;
  /** Listen on a non-loopback address without a token. Default false (refused). */
  readonly insecure?: boolean;
  /** Default `always`. */
  readonly sync?: SyncMode;
  /** Memtable size that triggers a flush. Default: the store's (a quarter of its memory budget). */
  readonly memtableSizeBytes?: number;
  /** Further store options (the node sets the file system, limits and sync itself). */
  readonly storeOptions?: StoreOptions;
  /** Default: pino at `info` on stdout. */
  readonly logger?: Logger;
  /** Join a cluster over NATS JetStream. Default: standalone. */
  readonly cluster?: ClusterOptions;
}

/** How a node takes part in a cluster (`strata serve --nats --cluster --role`). */
export interface ClusterOptions {
  /** NATS server URL(s), comma-separated. */
  readonly natsUrl: string;
  /**
   * How long startup retries an unreachable NATS (with backoff) before failing with `IO_ERROR`
   * naming the URL and the cause. Default 30 s.
   */
  readonly natsWaitMs?: number;
  /** Cluster name (stream `STRATA_<name>`). */
  readonly name: string;
  readonly role: RoleSetting;
  /** The URL other nodes and redirected clients use. Default `http://<host>:<port>`. */
  readonly advertiseUrl?: string;
  /** Nodes in the cluster, for `acks=quorum`. Default 3. */
  readonly size?: number;
  /**
   * Default acknowledgement of writes. Default `quorum`: a write is answered once a majority of
   * the cluster has it fsynced, so it survives the leader's death. `leader` answers after the
   * leader's own fsync: such a write may be lost if this leader dies before its followers have it.
   */
  readonly acks?: AckMode;
  /** Entries a leader may hold beyond its quorum before refusing writes (REPLICATION_BACKLOG). */
  readonly maxUnreplicatedEntries?: number;
  /** The same bound in log bytes. */
  readonly maxUnreplicatedBytes?: number;
  /** Lease time to live. Default 3 s. */
  readonly leaseTtlMs?: number;
  /** Stream limits (older messages are dropped; followers behind them bootstrap). */
  readonly streamMaxBytes?: number;
  readonly streamMaxAgeMs?: number;
  /**
   * Replicas of the log stream and the lease bucket (1, 3 or 5). Default: 3 when the NATS
   * deployment has at least 3 JetStream servers, else 1 (logged at startup with the reason).
   */
  readonly streamReplicas?: StreamReplicas;
  /** Largest replication message. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** How long an `acks=quorum` write waits. Default 10 s. */
  readonly quorumTimeoutMs?: number;
}

/** A running node: its store, HTTP server and address. */
export interface StrataNode {
  /** The store now (a cluster node replaces it after a cut-back or a bootstrap). */
  readonly store: Store;
  /** Replication, when the node is part of a cluster. */
  readonly replication: ReplicationNode | undefined;
  readonly app: FastifyInstance;
  readonly metrics: NodeMetrics;
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly dataDirectory: string;
  /** Stops accepting, lets in-flight requests finish, ends event streams, closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the store in the data directory and serves it over HTTP. Refuses (INVALID_ARGUMENT) to
 * listen on a non-loopback address without a token unless `insecure`; fails with `LOCKED` when
 * another process holds the data directory.
 *
 * @example
 * ```ts
 * const node = await startNode({ dataDirectory: './data', port: 7070 });
 * console.log(node.url);
 * await node.close();
 * ```
 */
export async function startNode(options: NodeOptions = {}): Promise<StrataNode> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 7070;
  const token = options.token ?? undefined;
  if (!isLoopbackHost(host) && token === undefined && options.insecure !== true) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `refusing to listen on ${host} (not a loopback address) without a token: pass --token (or set STRATA_TOKEN), or --insecure to serve without authentication`,
    );
  }
  const directory = resolve(options.dataDirectory ?? './data');
  const logger = options.logger ?? pino({ level: 'info' });
  const metrics = new NodeMetrics();
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  const storeOptions: StoreOptions = {
    ...options.storeOptions,
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes,
    ...(options.sync ? { sync: options.sync } : {}),
    ...(options.memtableSizeBytes ? { memtableSizeBytes: options.memtableSizeBytes } : {}),
    // In a cluster only the leader writes expiry events (replication enables them as it leads).
    ...(options.cluster ? { expiryWrites: false } : {}),
  };
  // Every store this node opens (a cluster node reopens after a cut-back or a bootstrap) gets its
  // recovery findings logged, its trusted log segments checked in the background, its events
  // followed by the metrics and its flushes and compactions logged.
  const logChecks: StartupLogCheck[] = [];
  let stopEventLog: (() => void) | undefined;
  let recovery: { recoveredSeqno: number; recoveryMs: number } | undefined;
  const openStore = async (): Promise<Store> => {
    const started = performance.now();
    const opened = await Store.open(directory, storeOptions);
    if (recovery === undefined) await removeStaleBackupScratch(opened.directory.root, logger);
    recovery ??= {
      recoveredSeqno: opened.stats().lastSeqno,
      recoveryMs: Math.round(performance.now() - started),
    };
    metrics.attach(opened);
    stopEventLog?.();
    stopEventLog = logStoreEvents(opened, logger);
    logChecks.push(StartupLogCheck.start(opened, logger));
    return opened;
  };
  let standalone: Store | undefined;
  let cluster: Awaited<ReturnType<typeof joinCluster>> | undefined;
  let nodeId = options.nodeId ?? hostname();
  if (options.cluster) {
    cluster = await joinCluster(options.cluster, {
      directory,
      host,
      port,
      nodeId: options.nodeId,
      token,
      logger,
      openStore,
    });
    nodeId = cluster.meta.nodeId;
    const replication = cluster.replication;
    metrics.attachReplication(() => replication.status());
  } else {
    standalone = await openStore();
  }
  const currentStore = (): Store => (cluster ? cluster.replication.store : (standalone as Store));
  let app: FastifyInstance;
  try {
    const { cluster: _clusterOptions, ...apiOptions } = options;
    app = createHttpServer(currentStore, {
      ...apiOptions,
      nodeId,
      token,
      maxValueBytes,
      logger,
      metrics,
      ...(cluster ? { cluster: cluster.hooks } : {}),
    });
    // Fastify logs a line of its own per address; the node's startup line below says it all.
    const httpLogLevel = app.log.level;
    app.log.level = 'warn';
    try {
      await app.listen({ host, port });
    } finally {
      app.log.level = httpLogLevel;
    }
  } catch (error) {
    await cluster?.close().catch(() => undefined);
    await standalone?.close().catch(() => undefined);
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const url = `http://${urlHost}:${boundPort}`;
  logStartup(logger, {
    url,
    nodeId,
    dataDirectory: directory,
    sync: options.sync ?? 'always',
    acks: options.cluster ? (options.cluster.acks ?? 'quorum') : null,
    cluster: options.cluster?.name ?? null,
    role: cluster ? cluster.replication.role : 'standalone',
    recoveredSeqno: recovery?.recoveredSeqno ?? currentStore().stats().lastSeqno,
    recoveryMs: recovery?.recoveryMs ?? 0,
    tokenRequired: token !== undefined,
  });
  let closing: Promise<void> | undefined;
  return {
    get store() {
      return currentStore();
    },
    replication: cluster?.replication,
    app,
    metrics,
    url,
    dataDirectory: directory,
    close() {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await Promise.all(logChecks.map((check) => check.stop()));
          if (cluster) await cluster.close();
          else await standalone?.close();
          stopEventLog?.();
        }
      })();
      return closing;
    },
  };
}

/** Connects to NATS, opens the cluster metadata and starts replication. */
async function joinCluster(
  options: ClusterOptions,
  context: {
    readonly directory: string;
    readonly host: string;
    readonly port: number;
    readonly nodeId: string | undefined;
    readonly token: string | undefined;
    readonly logger: Logger;
    readonly openStore: () => Promise<Store>;
  },
): Promise<{
  meta: ClusterMeta;
  replication: ReplicationNode;
  hooks: ClusterHooks;
  close(): Promise<void>;
}> {
  if (context.port === 0 && options.advertiseUrl === undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      'a cluster node needs a fixed --listen port or an --advertise-url that other nodes can reach',
    );
  }
  const urlHost =
    context.host.includes(':') && !context.host.startsWith('[')
      ? `[${context.host}]`
      : context.host;
  const url = options.advertiseUrl ?? `http://${urlHost}:${context.port}`;
  const { mkdir } = await import('node:fs/promises');
  await mkdir(context.directory, { recursive: true });
  const meta = ClusterMeta.open(dataDirectory(context.directory).metaFile, {
    cluster: options.name,
    ...(context.nodeId !== undefined ? { nodeId: context.nodeId } : {}),
  });
  let nc: NatsConnection | undefined;
  try {
    nc = await connectToNatsAtStartup(options.natsUrl, `strata-${meta.nodeId}`, {
      waitMs: options.natsWaitMs ?? DEFAULT_NATS_WAIT_MS,
      logger: context.logger,
    });
    const logger = context.logger.child({ component: 'replication' });
    const replication = await ReplicationNode.start({
      nats: nc,
      cluster: options.name,
      nodeId: meta.nodeId,
      url,
      dataDirectory: context.directory,
      role: options.role,
      openStore: context.openStore,
      meta,
      logger,
      ...(options.size !== undefined ? { clusterSize: options.size } : {}),
      ...(options.leaseTtlMs !== undefined ? { leaseTtlMs: options.leaseTtlMs } : {}),
      ...(options.streamMaxBytes !== undefined ? { streamMaxBytes: options.streamMaxBytes } : {}),
      ...(options.streamMaxAgeMs !== undefined ? { streamMaxAgeMs: options.streamMaxAgeMs } : {}),
      ...(options.streamReplicas !== undefined ? { streamReplicas: options.streamReplicas } : {}),
      ...(options.maxMessageBytes !== undefined
        ? { maxMessageBytes: options.maxMessageBytes }
        : {}),
      ...(options.quorumTimeoutMs !== undefined
        ? { quorumTimeoutMs: options.quorumTimeoutMs }
        : {}),
      ...(options.maxUnreplicatedEntries !== undefined
        ? { maxUnreplicatedEntries: options.maxUnreplicatedEntries }
        : {}),
      ...(options.maxUnreplicatedBytes !== undefined
        ? { maxUnreplicatedBytes: options.maxUnreplicatedBytes }
        : {}),
      ...(context.token !== undefined ? { token: context.token } : {}),
    });
    const connection = nc;
    const hooks: ClusterHooks = {
      assertAcceptsWrites: () => replication.assertAcceptsWrites(),
      acknowledge: (seqno, epoch, acks) => replication.acknowledgeWrite(seqno, epoch, acks),
      defaultAcks: options.acks ?? 'quorum',
      status: () => ({ ...replication.status(), meta: meta.snapshot() }),
      checkpointArchive: (signal) => replication.checkpointArchive(signal),
      promote: () => replication.promote(),
    };
    return {
      meta,
      replication,
      hooks,
      async close() {
        try {
          await replication.close();
        } finally {
          meta.close();
          await connection.close().catch(() => undefined);
        }
      },
    };
  } catch (error) {
    await nc?.close().catch(() => undefined);
    meta.close();
    throw error;
  }
}

/** What the startup line says. */
interface StartupFacts {
  readonly url: string;
  readonly nodeId: string;
  readonly dataDirectory: string;
  readonly sync: SyncMode;
  /** The default write acknowledgement of a cluster node; `null` standalone. */
  readonly acks: AckMode | null;
  readonly cluster: string | null;
  readonly role: string;
  /** The last seqno the store held once opened (its log replayed). */
  readonly recoveredSeqno: number;
  /** How long opening the store took (recovery included). */
  readonly recoveryMs: number;
  readonly tokenRequired: boolean;
}

/**
 * The one startup line, once the node listens. It is written at info even when the log level is
 * higher (warn, error): supervisors and scripts wait for it (`listening on`); only `silent` drops
 * it.
 */
function logStartup(logger: Logger, facts: StartupFacts): void {
  const startupLogger =
    logger.isLevelEnabled('info') || logger.level === 'silent'
      ? logger
      : logger.child({}, { level: 'info' });
  startupLogger.info(
    { event: 'startup', version: NODE_VERSION, ...facts },
    `listening on ${facts.url} (strata ${NODE_VERSION}, data ${facts.dataDirectory}, ${facts.cluster === null ? 'standalone' : `cluster ${facts.cluster}, ${facts.role}, acks=${facts.acks}`}, sync=${facts.sync}, recovered seqno ${facts.recoveredSeqno} in ${facts.recoveryMs} ms)`,
  );
}
