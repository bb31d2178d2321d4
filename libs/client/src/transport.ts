import { abortedError, fullJitterDelayMs, pause } from './backoff.js';
import { StrataClientError, errorFromAnswer } from './client-error.js';
import { normalizeNodeUrl } from './client-options.js';
import type { ResolvedOptions } from './client-options.js';
import { NodePool } from './node-pool.js';
import {
  decideAfterAnswer,
  decideAfterNetworkError,
  describeNetworkError,
  outcomeUnknown,
} from './retry-policy.js';
import type { RetryDecision } from './retry-policy.js';

/** The least time left for an attempt worth making: closer to the deadline, the call ends. */
const MIN_ATTEMPT_MS = 50;

/** One call of the HTTP API, as the transport sends (and may resend) it. */
export interface RequestSpec {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The path, already percent-encoded (`/v1/kv/a%2Fb`). */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A read goes to the read node and may always be repeated; a write goes to the leader. */
  readonly kind: 'read' | 'write';
  /** For a write: may be sent again when an attempt's outcome is unknown. */
  readonly idempotent?: boolean;
  /** For a read: the node must have applied this seqno first (the transport waits for it). */
  readonly waitSeqno?: number;
  /** Only this node (no failover to others; retries stay on it). */
  readonly node?: string;
  readonly signal?: AbortSignal | undefined;
}

/** A successful (2xx) answer, body read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  /** The node that answered. */
  readonly node: string;
}

/** A failed attempt: what went wrong and what to do about it. */
interface Failure {
  readonly error: unknown;
  readonly decision: RetryDecision;
}

/**
 * Sends requests to the right node and retries them: writes go to the leader (found by asking
 * `/v1/status`, and by following `NOT_LEADER` answers that name it), reads to the read node, and
 * a failed attempt is retried (with full-jitter backoff, within the deadline) only when that is
 * safe: a write is sent again only if no node could have made it, or if the caller marked it
 * idempotent; otherwise it ends as `OUTCOME_UNKNOWN`.
 */
export class Transport {
  readonly pool: NodePool;

  constructor(private readonly options: ResolvedOptions) {
    this.pool = new NodePool(options.nodes);
  }

  /** Sends `spec` until it succeeds or fails for good; throws a {@link StrataClientError}. */
  async request(spec: RequestSpec): Promise<Answer> {
    const deadline = Date.now() + this.options.deadlineMs;
    const kind = { kind: spec.kind, idempotent: spec.idempotent ?? false };
    let retries = 0;
    let redirects = 0;
    /** The last answer a node gave (reported at the deadline rather than an attempt cut short). */
    let answered: StrataClientError | undefined;
    let waitSeqno = spec.waitSeqno ?? 0;
    // A write with no leader known asks who leads first: a write sent to a node that turns out
    // not to know either could not be sent again (see retry-policy.ts).
    let findLeader = spec.kind === 'write' && spec.node === undefined && !this.pool.leader;
    for (;;) {
      if (spec.signal?.aborted) throw abortedError(spec.signal);
      let node: string;
      let failure: Failure;
      try {
        if (findLeader) await this.findLeader(deadline, spec.signal);
        findLeader = false;
        node = spec.node ?? (spec.kind === 'write' ? this.pool.writeNode() : this.pool.readNode());
      } catch (error) {
        throw this.deadlineError(error, retries);
      }
      try {
        if (waitSeqno > this.pool.appliedSeqno(node)) {
          await this.waitForSeqno(node, waitSeqno, deadline, spec.signal);
        }
        const answer = await this.attempt(node, spec, deadline);
        if (answer.status < 300) {
          if (spec.kind === 'write' && spec.node === undefined) this.pool.setLeader(node);
          if (waitSeqno > 0) this.pool.noteApplied(node, waitSeqno);
          return answer;
        }
        const error = errorFromAnswer(answer.status, answer.body, node);
        failure = { error, decision: decideAfterAnswer(error, kind) };
      } catch (error) {
        if (spec.signal?.aborted) throw abortedError(spec.signal);
        if (error instanceof StrataClientError) {
          failure = { error, decision: decideAfterAnswer(error, kind) };
        } else {
          failure = { error, decision: decideAfterNetworkError(error, kind) };
        }
      }
      const { error, decision } = failure;
      if (error instanceof StrataClientError) answered = error;
      if (decision === 'throw') throw error;
      if (decision === 'unknown') throw outcomeUnknown(error, node);
      if (decision === 'redirect' && spec.node === undefined) {
        this.pool.setLeader(String((error as StrataClientError).details.leaderUrl));
        // Nothing was written and the answer named where to go: sent there at once (after a
        // few redirects in a row, leadership is moving: then with the usual pause).
        if (redirects++ < 3) continue;
      }
      if (decision === 'wait-seqno') {
        // Waited for only if some node was seen to have it (a write's seqno, a range's `at`):
        // a seqno beyond anything known is the caller's mistake, answered as the node did.
        const requested = Number((error as StrataClientError).details.requestedSeqno);
        if (!Number.isSafeInteger(requested) || requested > this.pool.highestAppliedSeqno()) {
          throw error;
        }
        waitSeqno = Math.max(waitSeqno, requested);
      }
      if (spec.node === undefined && (decision === 'elsewhere' || decision === 'find-leader')) {
        if (spec.kind === 'write') this.pool.writeFailed(node);
        else this.pool.readFailed(node);
        findLeader = spec.kind === 'write';
      }
      // At the deadline the call reports this failure, unless it is an attempt that timed out
      // after a node had answered: then that answer says more (a node behind: TIMEOUT...).
      const report = isTimeout(error) && answered !== undefined ? answered : error;
      await this.backOff(retries++, deadline, spec.signal, report);
    }
  }

  /**
   * Asks the nodes, in turn from the next write node, who leads (`/v1/status`), pausing between
   * rounds, until one says it does (role `leader`, or `standalone`) or the deadline passes (then
   * `NOT_LEADER` or `UNAVAILABLE`). A follower's `leaderUrl` is asked next: the node is taken
   * only on its own word, never on another's (which may be out of date).
   */
  async findLeader(deadline: number, signal?: AbortSignal): Promise<string> {
    let rounds = 0;
    let lastError: unknown;
    for (;;) {
      const nodes = this.pool.nodes;
      const start = Math.max(0, nodes.indexOf(this.pool.writeNode()));
      const asked = new Set<string>();
      const queue = nodes.map((_, offset) => nodes[(start + offset) % nodes.length]!);
      while (queue.length > 0) {
        const node = queue.shift()!;
        if (asked.has(node)) continue;
        asked.add(node);
        try {
          const status = await this.nodeRole(node, deadline, signal);
          if (status.role === 'leader' || status.role === 'standalone') {
            this.pool.setLeader(node);
            return node;
          }
          if (status.leaderUrl !== undefined) queue.unshift(normalizeNodeUrl(status.leaderUrl));
          lastError = new StrataClientError('NOT_LEADER', `${node} is not the leader`, {
            node,
            status: 421,
          });
        } catch (error) {
          if (signal?.aborted) throw abortedError(signal);
          lastError = error;
        }
      }
      await this.backOff(rounds++, deadline, signal, lastError);
    }
  }

  /** `node`'s role and the leader it names, from its `/v1/status`. */
  private async nodeRole(
    node: string,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<{ role: unknown; leaderUrl: string | undefined }> {
    const spec: RequestSpec = { method: 'GET', path: '/v1/status', kind: 'read', signal };
    const answer = await this.attempt(node, spec, deadline);
    if (answer.status !== 200) throw errorFromAnswer(answer.status, answer.body, node);
    const status = parseJson(answer.body, node) as { role?: unknown; leaderUrl?: unknown };
    const leaderUrl =
      typeof status.leaderUrl === 'string' && status.leaderUrl !== ''
        ? status.leaderUrl
        : undefined;
    return { role: status.role, leaderUrl };
  }

  /**
   * Waits until `node` has applied `seqno` (`GET /v1/kv/%00?minSeqno=`: the one route that waits;
   * any key does, found or not). A node that cannot within `seqnoWaitMs` answers `TIMEOUT`.
   */
  private async waitForSeqno(
    node: string,
    seqno: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const answer = await this.attempt(
      node,
      {
        method: 'GET',
        path: '/v1/kv/%00',
        query: { minSeqno: seqno },
        kind: 'read',
        signal,
      },
      deadline,
    );
    if (answer.status >= 300 && answer.status !== 404) {
      throw errorFromAnswer(answer.status, answer.body, node);
    }
    this.pool.noteApplied(node, seqno);
  }

  /**
   * One HTTP exchange with `node`, body read whole, bounded by `timeoutMs` and the deadline.
   * Resolves with any status; rejects with what fetch threw (or the caller's abort).
   */
  async attempt(node: string, spec: RequestSpec, deadline: number): Promise<Answer> {
    const timeoutMs = Math.max(1, Math.min(this.options.timeoutMs, deadline - Date.now()));
    const signals = [AbortSignal.timeout(timeoutMs), ...(spec.signal ? [spec.signal] : [])];
    let target = spec;
    if (spec.query?.minSeqno !== undefined) {
      // The node waits for the seqno at most this long, well within the attempt's own bound,
      // so a node that is behind answers TIMEOUT rather than the attempt timing out.
      const waitMs = Math.min(this.options.seqnoWaitMs, timeoutMs - MIN_ATTEMPT_MS);
      target = { ...spec, query: { ...spec.query, timeoutMs: Math.max(1, waitMs) } };
    }
    const response = await fetch(this.url(node, target), {
      method: spec.method,
      headers: this.headers(spec),
      body: spec.body,
      redirect: 'manual',
      signal: AbortSignal.any(signals),
    });
    const body = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body, node };
  }

  /** Opens a streaming GET on `node` (for `/v1/events`); the caller reads and ends the body. */
  async open(node: string, spec: RequestSpec, connectTimeoutMs: number): Promise<Response> {
    const timeout = AbortSignal.timeout(connectTimeoutMs);
    const controller = new AbortController();
    const onTimeout = (): void => controller.abort(timeout.reason);
    timeout.addEventListener('abort', onTimeout, { once: true });
    const signal = AbortSignal.any([controller.signal, ...(spec.signal ? [spec.signal] : [])]);
    try {
      return await fetch(this.url(node, spec), {
        method: spec.method,
        headers: this.headers(spec),
        signal,
      });
    } finally {
      // Only the wait for the answer's head is bounded; the stream itself may stay quiet for long.
      timeout.removeEventListener('abort', onTimeout);
    }
  }

  /** `node` + path + query string. */
  url(node: string, spec: Pick<RequestSpec, 'path' | 'query'>): string {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) query.set(name, String(value));
    }
    const text = query.toString();
    return `${node}${spec.path}${text === '' ? '' : `?${text}`}`;
  }

  private headers(spec: RequestSpec): Record<string, string> {
    return {
      ...(this.options.token === undefined
        ? {}
        : { authorization: `Bearer ${this.options.token}` }),
      ...spec.headers,
    };
  }

  /**
   * Pauses before retry number `retry` (full jitter), shortened so that one more attempt of at
   * least {@link MIN_ATTEMPT_MS} fits before the deadline; throws the deadline error (`lastError`,
   * or `UNAVAILABLE`) when none fits any more.
   */
  private async backOff(
    retry: number,
    deadline: number,
    signal: AbortSignal | undefined,
    lastError: unknown,
  ): Promise<void> {
    const room = deadline - Date.now() - MIN_ATTEMPT_MS;
    if (room <= 0) throw this.deadlineError(lastError, retry + 1);
    const delayMs = fullJitterDelayMs(retry, this.options.baseDelayMs, this.options.maxDelayMs);
    await pause(Math.min(delayMs, room), signal);
  }

  /** The error a call ends with when its deadline passed: the last one, or `UNAVAILABLE`. */
  private deadlineError(lastError: unknown, attempts: number): StrataClientError {
    if (lastError instanceof StrataClientError) return lastError;
    return new StrataClientError(
      'UNAVAILABLE',
      `no node answered within the deadline (${this.options.deadlineMs} ms, ${attempts} retries): ${describeNetworkError(lastError)}`,
      { cause: lastError, details: { attempts } },
    );
  }
}

/** An answer's JSON body (`BAD_RESPONSE` when it is not JSON). */
export function parseJson(body: Buffer, node: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new StrataClientError('BAD_RESPONSE', `${node} answered with a body that is not JSON`, {
      node,
      cause: error,
    });
  }
}

/** True for the error of an attempt that ran out of time (its own bound or the deadline's). */
function isTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === 'TimeoutError';
}
