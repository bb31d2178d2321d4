import { StrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';

/** Error codes the HTTP API answers with: the store's codes plus the few that only HTTP has. */
export type HttpErrorCode = StrataErrorCode | 'UNAUTHENTICATED' | 'METHOD_NOT_ALLOWED';

/**
 * The one place that maps error codes to HTTP statuses (DESIGN.md "HTTP API"). `TIMEOUT` (a
 * `minSeqno` wait that ran out) answers 503: the node is up but behind, and retrying is right;
 * 503 keeps the API within the statuses DESIGN.md lists.
 */
export const STATUS_BY_CODE: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  HISTORY_TRUNCATED: 410,
  KEY_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  NOT_LEADER: 421,
  OUT_OF_SEQUENCE: 409,
  STALE_EPOCH: 409,
  DIVERGED: 409,
  CORRUPTION: 500,
  INTERNAL: 500,
  UNSUPPORTED_FORMAT: 500,
  IO_ERROR: 503,
  NO_SPACE: 503,
  CLOSED: 503,
  // A node never opens its store read-only; should one ever refuse a write, it is unavailable for writes.
  READ_ONLY: 503,
  LOCKED: 503,
  TIMEOUT: 503,
  REPLICATION_BACKLOG: 503,
};

/** Extra fields of an error body that clients act on (copied from the error's details). */
const PUBLIC_DETAILS = ['firstSeqno', 'oldestReadableSeqno', 'leaderUrl', 'limitBytes'] as const;

/** The JSON body of an error answer: `{"error":{"code","message",...}}`. */
export interface ErrorBody {
  readonly error: {
    readonly code: HttpErrorCode;
    readonly message: string;
    readonly [field: string]: unknown;
  };
}

/** An error the HTTP layer raises itself (auth, routing); carries its code. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What an error becomes on the wire. */
export interface HttpErrorAnswer {
  readonly statusCode: number;
  readonly body: ErrorBody;
}

/** Fastify's own errors (body parsing, limits) carry `code` and `statusCode`. */
interface FrameworkError {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly message?: unknown;
}

/**
 * Turns anything thrown by a route into its status and JSON body. `tooLargeCode` is what an
 * over-limit body means on this route (`VALUE_TOO_LARGE` for a PUT, `BATCH_TOO_LARGE` for a batch).
 */
export function toHttpError(
  error: unknown,
  tooLargeCode: HttpErrorCode = 'VALUE_TOO_LARGE',
): HttpErrorAnswer {
  if (error instanceof StrataError) {
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    for (const field of PUBLIC_DETAILS) {
      const value = (error.details as Record<string, unknown> | undefined)?.[field];
      if (value !== undefined) body[field] = value;
    }
    return answer(error.code, body);
  }
  if (error instanceof HttpError) return answer(error.code, { message: error.message });
  const framework = (error ?? {}) as FrameworkError;
  const message = typeof framework.message === 'string' ? framework.message : String(error);
  const code = typeof framework.code === 'string' ? framework.code : '';
  const status = typeof framework.statusCode === 'number' ? framework.statusCode : 500;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return answer(tooLargeCode, { message: `request body is too large: ${message}` });
  }
  if (status === 404) return answer('NOT_FOUND', { message });
  if (status === 405) return answer('METHOD_NOT_ALLOWED', { message });
  if (status >= 400 && status < 500) return answer('INVALID_ARGUMENT', { message });
  return answer('INTERNAL', { message: 'internal error' });
}

function answer(code: HttpErrorCode, fields: Record<string, unknown>): HttpErrorAnswer {
  return {
    statusCode: STATUS_BY_CODE[code] ?? 500,
    body: { error: { ...fields, code, message: String(fields.message) } },
  };
}

/** A StrataError `INVALID_ARGUMENT` (the code most input checks raise). */
export function invalidArgument(message: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', message);
}
