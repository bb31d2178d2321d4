import type { Logger } from 'pino';
import type { Store } from '@strata/store';
import type { NodeMetrics } from '../metrics/node-metrics.js';

/** Settings of the HTTP API (the CLI fills them from flags; embedders pass them directly). */
export interface HttpApiOptions {
  /** Reported by `/v1/status`. */
  readonly nodeId: string;
  /** When set, every route but `/healthz` needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Largest value (PUT body); bigger bodies are refused while streaming. Default 16 MiB. */
  readonly maxValueBytes?: number;
  /** Largest POST /v1/batch body. Default 64 MiB. */
  readonly maxBatchBytes?: number;
  /** Time to receive a whole request (slow clients get 408). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Time to receive the request headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Longest a `minSeqno` read waits (also the default wait). Default 5 s. */
  readonly maxWaitMs?: number;
  /** Most items one range page returns. Default 10,000 (default page size 1,000). */
  readonly maxRangeLimit?: number;
  /**
   * Browser origins (`https://app.example.com`, or `*`) allowed to call the API from a page (CORS:
   * preflights are answered, and answers carry `Access-Control-Allow-Origin` and expose `ETag`,
   * `X-Seqno`, `X-Expires-At-Ms` and `Location`). Default: none, so browsers refuse cross-origin
   * calls. The bearer token is still needed: CORS decides which pages may ask, not who may.
   */
  readonly corsOrigins?: readonly string[];
  readonly logger?: Logger;
  readonly metrics?: NodeMetrics;
  /** Replication, when the node is part of a cluster. */
  readonly cluster?: ClusterHooks;
}

/** How writes are acknowledged in a cluster: after the local fsync, or once a majority has them. */
export type AckMode = 'leader' | 'quorum';

/**
 * What the HTTP API needs from replication (structural: the node passes its ReplicationNode
 * through an adapter; a standalone node passes none).
 */
export interface ClusterHooks {
  /**
   * Throws unless this node takes writes now: NOT_LEADER (with details.leaderUrl) on a follower,
   * REPLICATION_BACKLOG on a leader that holds its limit of writes a quorum does not have.
   */
  assertAcceptsWrites(): void;
  /**
   * Resolves when a write up to `seqno`, taken in term `epoch`, is acknowledged under `acks`
   * (TIMEOUT otherwise; OUTCOME_UNKNOWN when this node no longer leads that term).
   */
  acknowledge(seqno: number, epoch: number, acks: AckMode): Promise<void>;
  readonly defaultAcks: AckMode;
  /** Replication's part of `/v1/status`. */
  status(): Record<string, unknown>;
  /** A checkpoint of this node as an archive stream (for a bootstrapping follower). */
  checkpointArchive(signal: AbortSignal): AsyncIterable<Buffer>;
  /** Hands leadership to this node (`strata promote`). */
  promote(): Promise<{ epoch: number }>;
}

/** What every route handler needs. */
export interface RouteContext {
  /** The store now (a cluster node may replace it after a cut-back or a bootstrap). */
  readonly store: Store;
  readonly cluster: ClusterHooks | undefined;
  readonly options: Required<
    Omit<HttpApiOptions, 'token' | 'logger' | 'metrics' | 'cluster' | 'corsOrigins'>
  > & {
    readonly token: string | undefined;
  };
  readonly metrics: NodeMetrics | undefined;
  /** Open event streams, aborted when the server closes. */
  readonly streams: Set<AbortController>;
  readonly startedAtMs: number;
}

/** Byte sizes the API uses by default. */
export const MIB = 1024 * 1024;
export const DEFAULT_MAX_VALUE_BYTES = 16 * MIB;
export const DEFAULT_MAX_BATCH_BYTES = 64 * MIB;
/** Keys are at most 64 KiB: the limit every layer shares, defined once in @strata/core. */
export { MAX_KEY_BYTES } from '@strata/core';
