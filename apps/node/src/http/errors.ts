import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import { StrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';
import type { Conflict } from '@strata/store';
import { conflictBody } from './write-conditions.js';

/**
 * Error codes the HTTP API answers with: the store's codes plus the few that only HTTP has.
 * `BODY_TOO_LARGE` is a body over the limit of a route that takes no value or batch (those answer
 * `VALUE_TOO_LARGE` and `BATCH_TOO_LARGE`); `HEADERS_TOO_LARGE`, `REQUEST_TIMEOUT` and
 * `EXPECTATION_FAILED` (an `Expect` other than `100-continue`) are decided before any route runs.
 */
export type HttpErrorCode =
  | StrataErrorCode
  | 'UNAUTHENTICATED'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'EXPECTATION_FAILED';

/**
 * The one place that maps error codes to HTTP statuses (docs/API.md lists them). `TIMEOUT` (a
 * `minSeqno` wait that ran out) answers 503: the node is up but behind, and retrying is right;
 * 503 keeps the API within the statuses the API has always used.
 */
export const STATUS_BY_CODE: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  FUTURE_SEQNO: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  HISTORY_TRUNCATED: 410,
  KEY_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  NOT_LEADER: 421,
  CONFLICT: 409,
  OUT_OF_SEQUENCE: 409,
  STALE_EPOCH: 409,
  DIVERGED: 409,
  CORRUPTION: 500,
  INTERNAL: 500,
  UNSUPPORTED_FORMAT: 500,
  IO_ERROR: 503,
  NO_SPACE: 503,
  CLOSED: 503,
  // A read the request's own abort stopped (the client closed it): the answer has no reader; 499
  // is the status proxies log for a client that closed its request.
  ABORTED: 499,
  // A node never opens its store read-only; should one ever refuse a write, it is unavailable for writes.
  READ_ONLY: 503,
  LOCKED: 503,
  TIMEOUT: 503,
  REPLICATION_BACKLOG: 503,
  OUTCOME_UNKNOWN: 503,
};

/** Extra fields of an error body that clients act on (copied from the error's details). */
const PUBLIC_DETAILS = [
  'firstSeqno',
  'oldestReadableSeqno',
  'leaderUrl',
  'limitBytes',
  'requestedSeqno',
  'lastSeqno',
  'seqno',
] as const;

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

/** The error fastify raises for a body over the route's limit (declared or counted). */
const BODY_TOO_LARGE_ERROR = 'FST_ERR_CTP_BODY_TOO_LARGE';

/** True for the error a body over its route's limit raises (declared length or bytes counted). */
export function isBodyTooLargeError(error: unknown): boolean {
  return (error as FrameworkError | undefined)?.code === BODY_TOO_LARGE_ERROR;
}

/**
 * Turns anything thrown by a route into its status and JSON body. `tooLargeCode` is what an
 * over-limit body means on this route (`VALUE_TOO_LARGE` for a PUT, `BATCH_TOO_LARGE` for a batch,
 * `BODY_TOO_LARGE` elsewhere); `limitBytes`, when given, is that route's limit and goes into the
 * body of such an answer.
 */
export function toHttpError(
  error: unknown,
  tooLargeCode: HttpErrorCode = 'BODY_TOO_LARGE',
  limitBytes?: number,
): HttpErrorAnswer {
  if (error instanceof StrataError) {
    const body: Record<string, unknown> = { code: error.code, message: error.message };
    for (const field of PUBLIC_DETAILS) {
      const value = (error.details as Record<string, unknown> | undefined)?.[field];
      if (value !== undefined) body[field] = value;
    }
    const conflicts = (error.details as { conflicts?: readonly Conflict[] } | undefined)?.conflicts;
    if (error.code === 'CONFLICT' && Array.isArray(conflicts)) {
      body.conflicts = conflicts.map(conflictBody);
    }
    return answer(error.code, body);
  }
  if (error instanceof HttpError) return answer(error.code, { message: error.message });
  const framework = (error ?? {}) as FrameworkError;
  const message = typeof framework.message === 'string' ? framework.message : String(error);
  const code = typeof framework.code === 'string' ? framework.code : '';
  const status = typeof framework.statusCode === 'number' ? framework.statusCode : 500;
  if (code === BODY_TOO_LARGE_ERROR || status === 413) {
    if (limitBytes === undefined) {
      return answer(tooLargeCode, { message: `the request body is too large: ${message}` });
    }
    return answer(tooLargeCode, {
      message: `the request body is over this route's limit of ${limitBytes} bytes`,
      limitBytes,
    });
  }
  if (status === 404) return answer('NOT_FOUND', { message });
  if (status === 405) return answer('METHOD_NOT_ALLOWED', { message });
  if (status >= 400 && status < 500) return answer('INVALID_ARGUMENT', { message });
  return answer('INTERNAL', { message: 'internal error' });
}

/**
 * What an error the HTTP parser raises (in the `clientError` event, before or outside any route)
 * becomes: headers over the size limit 431 `HEADERS_TOO_LARGE`, a request not received in time 408
 * `REQUEST_TIMEOUT`, anything else malformed 400 `INVALID_ARGUMENT`.
 */
export function clientErrorAnswer(error: Error & { code?: string }): HttpErrorAnswer {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return answer('HEADERS_TOO_LARGE', {
      message: 'the request line and headers are over the size limit (a key is at most 64 KiB)',
    });
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return answer('REQUEST_TIMEOUT', { message: 'the request was not received in time' });
  }
  return answer('INVALID_ARGUMENT', {
    message: `malformed HTTP request (${error.code ?? 'parse error'})`,
  });
}

/**
 * A whole HTTP/1.1 response carrying `answer`, with `Connection: close`, as bytes: for the
 * answers written straight to a socket, where no `ServerResponse` exists (parser errors).
 */
export function rawHttpAnswer(answerToSend: HttpErrorAnswer): Buffer {
  const body = Buffer.from(JSON.stringify(answerToSend.body));
  const reason = STATUS_CODES[answerToSend.statusCode] ?? 'Error';
  const head =
    `HTTP/1.1 ${answerToSend.statusCode} ${reason}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${body.length}\r\n` +
    'Connection: close\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function answer(code: HttpErrorCode, fields: Record<string, unknown>): HttpErrorAnswer {
  return {
    statusCode: STATUS_BY_CODE[code] ?? 500,
    body: { error: { ...fields, code, message: String(fields.message) } },
  };
}

/**
 * The `Location` header of a 421 `NOT_LEADER` answer that names the leader: the same request
 * (`pathAndQuery`, as the client sent it) on the leader's URL; undefined for any other answer.
 * A node names the leader only when it refuses a write at admission, before anything is written,
 * so a client may send the same request there, conditional or not. A 421 without it (no leader
 * known yet, or a leader that stepped down while the write waited for its quorum) says nothing
 * about whether the write was made.
 */
export function notLeaderLocation(body: ErrorBody, pathAndQuery: string): string | undefined {
  const leaderUrl = body.error.leaderUrl;
  if (body.error.code !== 'NOT_LEADER' || typeof leaderUrl !== 'string' || leaderUrl === '') {
    return undefined;
  }
  return `${leaderUrl.replace(/\/+$/, '')}${pathAndQuery}`;
}

/**
 * A whole typed answer written to a `ServerResponse` no route handles (decided by Node before
 * fastify sees the request), closing the connection after it.
 */
export function writeTypedAnswer(response: ServerResponse, answerToSend: HttpErrorAnswer): void {
  const body = JSON.stringify(answerToSend.body);
  response.writeHead(answerToSend.statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}

/** The answer for a request whose `Expect` header Strata cannot meet (anything but `100-continue`). */
export function expectationFailed(expect: string | undefined): HttpErrorAnswer {
  return answer('EXPECTATION_FAILED', {
    message: `Expect: ${expect ?? ''} cannot be met; only 100-continue is supported`,
  });
}

/** A StrataError `INVALID_ARGUMENT` (the code most input checks raise). */
export function invalidArgument(message: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', message);
}
