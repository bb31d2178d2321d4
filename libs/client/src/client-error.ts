/**
 * Codes a Strata node answers with (`{"error":{"code",...}}`); see the HTTP API reference for
 * the status of each.
 */
export type ServerErrorCode =
  | 'INVALID_ARGUMENT'
  | 'FUTURE_SEQNO'
  | 'UNAUTHENTICATED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'CONFLICT'
  | 'OUT_OF_SEQUENCE'
  | 'STALE_EPOCH'
  | 'DIVERGED'
  | 'HISTORY_TRUNCATED'
  | 'KEY_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'BODY_TOO_LARGE'
  | 'NOT_LEADER'
  | 'HEADERS_TOO_LARGE'
  | 'CORRUPTION'
  | 'INTERNAL'
  | 'UNSUPPORTED_FORMAT'
  | 'IO_ERROR'
  | 'NO_SPACE'
  | 'CLOSED'
  | 'READ_ONLY'
  | 'LOCKED'
  | 'TIMEOUT'
  | 'REPLICATION_BACKLOG'
  | 'OUTCOME_UNKNOWN';

/**
 * Codes only the client raises:
 * - `OUTCOME_UNKNOWN`: a write that may or may not have been made (the connection broke or timed
 *   out after it was sent, or the node answered a failure that does not say nothing was written:
 *   a quorum `TIMEOUT`, the server's own `OUTCOME_UNKNOWN` (its leader stepped down while the
 *   write waited for its quorum), `CLOSED`...). It was not sent again;
 *   `cause` holds what happened. Read the key (or its history) to learn the outcome.
 * - `UNAVAILABLE`: no node could be reached within the retry deadline (`cause`: the last failure).
 * - `ABORTED`: the caller's `signal` aborted the call (a write may or may not have been made).
 * - `BAD_RESPONSE`: an answer that is not what the Strata API sends (not JSON, missing fields).
 * A watch whose node's history differs from the events it already delivered raises the server
 * code `DIVERGED`.
 */
export type ClientOnlyErrorCode = 'OUTCOME_UNKNOWN' | 'UNAVAILABLE' | 'ABORTED' | 'BAD_RESPONSE';

/**
 * The `code` of a {@link StrataClientError}: a server code, a client-only code, or (from a newer
 * server) a code this client does not know yet.
 */
export type StrataClientErrorCode =
  ServerErrorCode | ClientOnlyErrorCode | (string & Record<never, never>);

/** One failed check of a conditional write (409 `CONFLICT`), keys and prefixes as bytes. */
export interface ConflictDetail {
  /** The key whose `ifSeqno` failed (absent for a prefix check). */
  readonly key?: Buffer;
  /** The prefix whose `noWritesAfter` check failed (absent for a key). */
  readonly prefix?: Buffer;
  /** The version (or for a prefix, the seqno) the write required. */
  readonly expectedSeqno: number;
  /** The key's version now, or the seqno of the prefix's last write. */
  readonly actualSeqno: number;
}

/** What a {@link StrataClientError} is made of. */
export interface StrataClientErrorInit {
  /** HTTP status of the answer, when there was one. */
  readonly status?: number | undefined;
  /** Extra fields of the server's error body (`leaderUrl`, `lastSeqno`, ...) or of the client. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The error behind this one (a network failure, the server's answer behind `OUTCOME_UNKNOWN`). */
  readonly cause?: unknown;
  /** Base URL of the node that answered (or was being asked). */
  readonly node?: string | undefined;
  /** For `CONFLICT`: every failed check. */
  readonly conflicts?: readonly ConflictDetail[] | undefined;
}

/**
 * The one error class the client throws. `code` is stable: the server's code when a node answered
 * with one (`CONFLICT`, `NOT_FOUND`, `HISTORY_TRUNCATED`...), else a client-only code
 * ({@link ClientOnlyErrorCode}). Branch on `code`, never on `message`.
 *
 * @example
 * ```ts
 * try {
 *   await client.put('doc', 'v2', { ifSeqno: 4 });
 * } catch (error) {
 *   if (error instanceof StrataClientError && error.code === 'CONFLICT') {
 *     console.log(error.conflicts); // [{ key: <Buffer 64 6f 63>, expectedSeqno: 4, actualSeqno: 5 }]
 *   } else throw error;
 * }
 * ```
 */
export class StrataClientError extends Error {
  /** The stable code: the server's, or a client-only one. */
  readonly code: StrataClientErrorCode;
  /** HTTP status of the node's answer; undefined when no answer came. */
  readonly status: number | undefined;
  /** The server's extra fields (`leaderUrl`, `lastSeqno`, `requestedSeqno`...) or the client's. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Base URL of the node that answered or was being asked, when one was. */
  readonly node: string | undefined;
  /** For `CONFLICT`: every failed check (an empty list otherwise). */
  readonly conflicts: readonly ConflictDetail[];

  constructor(code: StrataClientErrorCode, message: string, init: StrataClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'StrataClientError';
    this.code = code;
    this.status = init.status;
    this.details = init.details ?? {};
    this.node = init.node;
    this.conflicts = init.conflicts ?? [];
  }
}

/** True when `error` is a {@link StrataClientError}, optionally with one of `codes`. */
export function isStrataClientError(
  error: unknown,
  ...codes: StrataClientErrorCode[]
): error is StrataClientError {
  return error instanceof StrataClientError && (codes.length === 0 || codes.includes(error.code));
}

/**
 * The error an error answer stands for: `{"error":{"code","message",...}}` becomes a
 * {@link StrataClientError} with that code and the other fields as `details`; a body that is not
 * that shape is `BAD_RESPONSE` (keeping the status and the start of the text).
 */
export function errorFromAnswer(status: number, body: Buffer, node: string): StrataClientError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: unknown } | undefined)?.error;
  if (
    error === null ||
    typeof error !== 'object' ||
    typeof (error as { code?: unknown }).code !== 'string'
  ) {
    return new StrataClientError(
      'BAD_RESPONSE',
      `${node} answered ${status} without a Strata error body: ${body.toString('utf8').slice(0, 200)}`,
      { status, node },
    );
  }
  const { code, message, conflicts, ...details } = error as Record<string, unknown>;
  return new StrataClientError(
    code as string,
    typeof message === 'string' ? message : String(code),
    { status, node, details, conflicts: parseConflicts(conflicts) },
  );
}

function parseConflicts(raw: unknown): ConflictDetail[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  return raw.map((entry: Record<string, unknown>) => {
    const bytes = (text: unknown): Buffer | undefined =>
      typeof text !== 'string'
        ? undefined
        : Buffer.from(text, entry.encoding === 'base64' ? 'base64' : 'utf8');
    const key = bytes(entry.key);
    const prefix = bytes(entry.prefix);
    return {
      ...(key === undefined ? {} : { key }),
      ...(prefix === undefined ? {} : { prefix }),
      expectedSeqno: Number(entry.expectedSeqno),
      actualSeqno: Number(entry.actualSeqno),
    };
  });
}
