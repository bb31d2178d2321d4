import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { StrataError } from '@strata/core';
import { Store, dataDirectory } from '@strata/store';
import type { StoreOptions } from '@strata/store';
import type { SyncMode } from '@strata/wal';
import { isLoopbackHost } from './http/auth.js';
import { DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES } from './http/context.js';
import type { HttpApiOptions } from './http/context.js';
import { createHttpServer } from './http/server.js';
import { InstrumentedFileSystem } from './metrics/instrumented-file-system.js';
import { NodeMetrics } from './metrics/node-metrics.js';

/** Options of {@link startNode}: where to keep data, where to listen, and the API's limits. */
export interface NodeOptions extends Omit<HttpApiOptions, 'nodeId' | 'metrics' | 'logger'> {
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
  /** Memtable size that triggers a flush. Default: the store's (64 MiB). */
  readonly memtableSizeBytes?: number;
  /** Further store options (the node sets the file system, limits and sync itself). */
  readonly storeOptions?: StoreOptions;
  /** Default: pino at `info` on stdout. */
  readonly logger?: Logger;
}

/** A running node: its store, HTTP server and address. */
export interface StrataNode {
  readonly store: Store;
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
  const store = await Store.open(directory, {
    ...options.storeOptions,
    fileSystem: new InstrumentedFileSystem(directory, metrics),
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes,
    ...(options.sync ? { sync: options.sync } : {}),
    ...(options.memtableSizeBytes ? { memtableSizeBytes: options.memtableSizeBytes } : {}),
  });
  metrics.attach(store, dataDirectory(directory).treeDirectory);
  let app: FastifyInstance;
  try {
    app = createHttpServer(store, {
      ...options,
      nodeId: options.nodeId ?? hostname(),
      token,
      maxValueBytes,
      logger,
      metrics,
    });
    await app.listen({ host, port });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    store,
    app,
    metrics,
    url: `http://${urlHost}:${boundPort}`,
    dataDirectory: directory,
    close() {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await store.close();
        }
      })();
      return closing;
    },
  };
}
