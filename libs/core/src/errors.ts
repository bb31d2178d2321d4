/**
 * The stable error codes of Strata. Callers branch on `code`, never on message text; a code, once
 * published, keeps its meaning.
 *
 * - `INVALID_ARGUMENT`: malformed input (empty batch, key not bytes, unknown op, bad option).
 * - `KEY_TOO_LARGE` / `VALUE_TOO_LARGE` / `BATCH_TOO_LARGE`: a size limit was exceeded.
 * - `OUT_OF_SEQUENCE`: a batch does not start at the next seqno (gap or repeat).
 * - `STALE_EPOCH`: a batch carries an epoch lower than one already seen.
 * - `DIVERGED`: a record's chained checksum does not continue this log (histories differ).
 * - `CORRUPTION`: stored bytes fail a checksum or structural check; details name file and offset.
 * - `IO_ERROR`: a read, write or fsync failed; writes stay refused until the component is reopened.
 * - `NO_SPACE`: the device is full; the write was refused and nothing acknowledged was lost.
 * - `CLOSED`: the component is closing or closed.
 * - `ABORTED`: the caller's `AbortSignal` stopped the call before it finished (a range read: nothing
 *   changed; `cause` holds the signal's reason).
 * - `READ_ONLY`: a write was attempted on something opened read-only.
 * - `HISTORY_TRUNCATED`: the requested seqno is below the retained history.
 * - `FUTURE_SEQNO`: a read `at` a seqno this node has not applied yet; its answer would not be
 *   repeatable. Wait for the seqno (`minSeqno`) or read at or below the last applied seqno.
 * - `CONFLICT`: a conditional write's check failed (a key's version, or a write under a prefix);
 *   nothing was written. `details.conflicts` lists each failed check.
 * - `REPLICATION_BACKLOG`: a cluster leader holds too much that a quorum does not have yet; the
 *   write was refused (not acknowledged), retry once the followers catch up.
 * - `OUTCOME_UNKNOWN`: a write was taken (it is durable on the node that answered) but that node
 *   stopped leading, or closed, before a quorum confirmed it: it may survive (a new leader has it)
 *   or be cut back. `details.seqno` is the seqno it took; read the key or its history to learn
 *   which. (`NOT_LEADER`, by contrast, always means nothing was written.)
 * - `NOT_FOUND`, `NOT_LEADER`, `LOCKED`, `UNSUPPORTED_FORMAT`, `TIMEOUT`: as named.
 * - `INTERNAL`: an invariant of Strata itself was violated (a bug); the component fails stop.
 */
export type StrataErrorCode = (typeof STRATA_ERROR_CODES)[number];

/**
 * Every {@link StrataErrorCode}, as a list a receiver checks a code against when it comes over the
 * wire (a NATS reply, an HTTP error body): the type only holds for codes this build produced.
 */
export const STRATA_ERROR_CODES = [
  'INVALID_ARGUMENT',
  'KEY_TOO_LARGE',
  'VALUE_TOO_LARGE',
  'BATCH_TOO_LARGE',
  'OUT_OF_SEQUENCE',
  'STALE_EPOCH',
  'DIVERGED',
  'CORRUPTION',
  'IO_ERROR',
  'NO_SPACE',
  'CLOSED',
  'ABORTED',
  'READ_ONLY',
  'HISTORY_TRUNCATED',
  'CONFLICT',
  'FUTURE_SEQNO',
  'NOT_FOUND',
  'NOT_LEADER',
  'LOCKED',
  'UNSUPPORTED_FORMAT',
  'TIMEOUT',
  'REPLICATION_BACKLOG',
  'OUTCOME_UNKNOWN',
  'INTERNAL',
] as const;

const KNOWN_CODES: ReadonlySet<string> = new Set(STRATA_ERROR_CODES);

/** True when `value` is one of {@link STRATA_ERROR_CODES} (a received code can be trusted as one). */
export function isStrataErrorCode(value: unknown): value is StrataErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/** Structured context attached to an error: file and offset for corruption, seqnos for ordering. */
export interface StrataErrorDetails {
  /** File the error concerns (corruption, I/O). */
  readonly file?: string;
  /** Byte offset inside `file` where the problem starts. */
  readonly offset?: number;
  /** Any further machine-readable context (expected vs actual seqno, limits...). */
  readonly [key: string]: unknown;
}

/** Options of {@link StrataError}: the underlying error and structured details. */
export interface StrataErrorOptions {
  readonly cause?: unknown;
  readonly details?: StrataErrorDetails;
}

/**
 * The one error class of Strata. Every failure a caller can act on is a `StrataError` with a
 * stable {@link StrataErrorCode}; the original error, if any, is kept as `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await wal.append(batch);
 * } catch (error) {
 *   if (isStrataError(error, 'OUT_OF_SEQUENCE')) console.log(error.details.expectedSeqno);
 *   else throw error;
 * }
 * ```
 */
export class StrataError extends Error {
  /** The stable code; see {@link StrataErrorCode}. */
  readonly code: StrataErrorCode;
  /** Structured context; always an object, possibly empty. */
  readonly details: StrataErrorDetails;

  constructor(code: StrataErrorCode, message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StrataError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `error` is a {@link StrataError}, optionally with the given code. */
export function isStrataError(error: unknown, code?: StrataErrorCode): error is StrataError {
  return error instanceof StrataError && (code === undefined || error.code === code);
}

/** A `CORRUPTION` error naming the file and byte offset of the bad data. */
export function corruptionError(
  file: string,
  offset: number,
  reason: string,
  extra: StrataErrorDetails = {},
): StrataError {
  return new StrataError('CORRUPTION', `corruption in ${file} at offset ${offset}: ${reason}`, {
    details: { ...extra, file, offset },
  });
}

/**
 * Maps an error thrown by the file system to a StrataError: ENOSPC becomes `NO_SPACE`, everything
 * else `IO_ERROR`. StrataErrors pass through unchanged.
 */
export function ioError(operation: string, file: string, cause: unknown): StrataError {
  if (cause instanceof StrataError) return cause;
  const errno = (cause as { code?: unknown } | null)?.code;
  const code: StrataErrorCode = errno === 'ENOSPC' ? 'NO_SPACE' : 'IO_ERROR';
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StrataError(code, `${operation} failed on ${file}: ${reason}`, {
    cause,
    details: { file, operation, errno: typeof errno === 'string' ? errno : undefined },
  });
}
