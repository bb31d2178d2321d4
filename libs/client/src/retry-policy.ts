import { StrataClientError } from './client-error.js';

/**
 * What the transport does after a failed attempt:
 * - `redirect`: a `NOT_LEADER` that names the leader: nothing was written; send it there now.
 * - `retry`: the same node may answer later (`REPLICATION_BACKLOG`, `REQUEST_TIMEOUT`): pause, again.
 * - `elsewhere`: pause, then another node (the node is down, behind or closing).
 * - `find-leader`: a write with no leader known: pause, ask the nodes who leads, then again.
 * - `wait-seqno`: a read at a seqno the node has not applied (`FUTURE_SEQNO`): wait for it there.
 * - `unknown`: a write that may have been made: not sent again, `OUTCOME_UNKNOWN`.
 * - `throw`: a final answer (`CONFLICT`, `NOT_FOUND`, `INVALID_ARGUMENT`...).
 */
export type RetryDecision =
  'redirect' | 'retry' | 'elsewhere' | 'find-leader' | 'wait-seqno' | 'unknown' | 'throw';

/** What the policy needs to know about a request. */
export interface AttemptKind {
  /** A read (any node may serve it, every read may be repeated) or a write (leader only). */
  readonly kind: 'read' | 'write';
  /** For a write: sending it twice is fine (the caller said so): never `unknown`. */
  readonly idempotent: boolean;
}

/** Error codes of a network failure that happened before the request could leave. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Write refusals that say nothing was written, so the write may go anywhere again. */
const REFUSED_BEFORE_WRITING = new Set(['REPLICATION_BACKLOG', 'REQUEST_TIMEOUT']);

/** Final answers a write gets even though the status is 5xx (nothing was written). */
const FINAL_WRITE_REFUSALS = new Set(['NO_SPACE', 'READ_ONLY']);

/** The decision after a node answered with `error` (a status and, usually, a server code). */
export function decideAfterAnswer(error: StrataClientError, request: AttemptKind): RetryDecision {
  const { code, status = 0 } = error;
  if (code === 'NOT_LEADER') {
    // Nothing was written (a leader that steps down while a write waits for its quorum answers
    // OUTCOME_UNKNOWN instead): send it to the leader named, or find one.
    if (typeof error.details.leaderUrl === 'string') return 'redirect';
    return request.kind === 'read' ? 'elsewhere' : 'find-leader';
  }
  if (REFUSED_BEFORE_WRITING.has(code)) return 'retry';
  if (request.kind === 'read') {
    if (code === 'FUTURE_SEQNO') return 'wait-seqno';
    return status >= 500 ? 'elsewhere' : 'throw';
  }
  if (status < 500 || FINAL_WRITE_REFUSALS.has(code)) return 'throw';
  // TIMEOUT (the quorum did not acknowledge in time), OUTCOME_UNKNOWN, CLOSED, IO_ERROR,
  // INTERNAL...: the write may have been made.
  return request.idempotent ? 'elsewhere' : 'unknown';
}

/** The decision after an attempt failed without an answer (`error` is what fetch threw). */
export function decideAfterNetworkError(error: unknown, request: AttemptKind): RetryDecision {
  if (wasNotSent(error)) return request.kind === 'write' ? 'find-leader' : 'elsewhere';
  if (request.kind === 'read' || request.idempotent) return 'elsewhere';
  return 'unknown';
}

/** True when a fetch failure happened before any byte of the request could reach a node. */
export function wasNotSent(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === null || typeof next !== 'object' || seen.has(next)) continue;
    seen.add(next);
    const code = (next as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    pending.push((next as { cause?: unknown }).cause);
    if (next instanceof AggregateError) pending.push(...(next.errors as unknown[]));
  }
  return false;
}

/** A one-line description of a network failure (the codes along its cause chain). */
export function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let next: unknown = error;
  for (let depth = 0; depth < 4 && next !== null && typeof next === 'object'; depth++) {
    const { message, code } = next as { message?: unknown; code?: unknown };
    parts.push(
      `${typeof message === 'string' ? message : 'error'}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    next = (next as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(error);
}

/** The `OUTCOME_UNKNOWN` error of a write whose attempt ended with `cause`. */
export function outcomeUnknown(cause: unknown, node: string): StrataClientError {
  const reason =
    cause instanceof StrataClientError
      ? `${node} answered ${cause.code}: ${cause.message}`
      : `the request to ${node} failed after it was sent: ${describeNetworkError(cause)}`;
  return new StrataClientError(
    'OUTCOME_UNKNOWN',
    `the write may or may not have been made (not sent again): ${reason}`,
    {
      node,
      cause,
      status: cause instanceof StrataClientError ? cause.status : undefined,
      details: cause instanceof StrataClientError ? { serverCode: cause.code } : {},
    },
  );
}
