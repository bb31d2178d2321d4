import { StrataClientError } from './client-error.js';

/**
 * How the client retries: exponential backoff with full jitter (each pause is uniform in
 * `[0, min(maxDelayMs, baseDelayMs * 2^attempt)]`), until `deadlineMs` after the call started.
 */
export interface RetryOptions {
  /** Longest a call may take, all attempts and pauses included. Default 30,000 ms. */
  readonly deadlineMs?: number;
  /** The backoff's first ceiling. Default 50 ms. */
  readonly baseDelayMs?: number;
  /** The largest ceiling of a pause. Default 1,000 ms. */
  readonly maxDelayMs?: number;
}

/** Settings of a {@link StrataClient}. */
export interface StrataClientOptions {
  /**
   * Base URLs of the cluster's nodes (`http://10.0.0.1:7070`), or of the one standalone node.
   * Reads go to the first node that answers, in this order; writes go to the leader, found by
   * following `NOT_LEADER` answers (it need not be in this list).
   */
  readonly nodes: readonly string[];
  /** Sent as `Authorization: Bearer <token>` (nodes started with `strata serve --token`). */
  readonly token?: string;
  /** Longest one HTTP attempt may take (connect, answer and body). Default 10,000 ms. */
  readonly timeoutMs?: number;
  /** Backoff and deadline of retried calls. */
  readonly retry?: RetryOptions;
  /**
   * Read your writes (default true): every read waits, on whichever node serves it, until that
   * node has applied the last seqno this client wrote (`minSeqno`).
   */
  readonly readYourWrites?: boolean;
  /**
   * Longest a node is asked to wait for a seqno it has not applied yet (`minSeqno`'s `timeoutMs`;
   * the node caps it with its `--max-wait-ms`) before the read moves to another node.
   * Default 2,000 ms.
   */
  readonly seqnoWaitMs?: number;
}

/** {@link StrataClientOptions} with every default filled in and the node URLs normalized. */
export interface ResolvedOptions {
  readonly nodes: readonly string[];
  readonly token: string | undefined;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly readYourWrites: boolean;
  readonly seqnoWaitMs: number;
}

/** Checks `options` and fills in the defaults (`INVALID_ARGUMENT` on a bad value). */
export function resolveOptions(options: StrataClientOptions): ResolvedOptions {
  if (!Array.isArray(options.nodes) || options.nodes.length === 0) {
    throw new StrataClientError('INVALID_ARGUMENT', 'nodes must list at least one node URL');
  }
  const nodes = options.nodes.map(normalizeNodeUrl);
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const chosen = value ?? fallback;
    if (!Number.isFinite(chosen) || chosen < 0) {
      throw new StrataClientError('INVALID_ARGUMENT', `${name} must be a number >= 0`);
    }
    return chosen;
  };
  return {
    nodes: [...new Set(nodes)],
    token: options.token,
    timeoutMs: positive('timeoutMs', options.timeoutMs, 10_000),
    deadlineMs: positive('retry.deadlineMs', options.retry?.deadlineMs, 30_000),
    baseDelayMs: positive('retry.baseDelayMs', options.retry?.baseDelayMs, 50),
    maxDelayMs: positive('retry.maxDelayMs', options.retry?.maxDelayMs, 1_000),
    readYourWrites: options.readYourWrites ?? true,
    seqnoWaitMs: positive('seqnoWaitMs', options.seqnoWaitMs, 2_000),
  };
}

/** `http://host:port/` -> `http://host:port` (a base path, if any, is kept). */
export function normalizeNodeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new StrataClientError('INVALID_ARGUMENT', `not a node URL: ${url}`, { cause: error });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new StrataClientError('INVALID_ARGUMENT', `a node URL is http(s): ${url}`);
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}
