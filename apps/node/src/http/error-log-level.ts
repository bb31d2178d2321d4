import type { HttpErrorCode } from './errors.js';

/** How the server logs a refused or failed request. */
export type ErrorLogLevel = 'error' | 'warn' | 'debug';

/**
 * The log level of an error answer, by its code. Only a fault of this node is an error, logged
 * with its stack: a bug (`INTERNAL`), stored data that failed a checksum (`CORRUPTION`), a data
 * directory this version cannot read. A failed disk (`IO_ERROR`, `NO_SPACE`) is a warning without
 * a stack: the store is fail-stop and refuses every write after it, each with the same cause.
 * Everything else is an answer the client caused or is meant to retry (4xx, and the 503s of a
 * node that is busy, behind, closing or not the leader: `TIMEOUT`, `REPLICATION_BACKLOG`,
 * `CLOSED`...): debug, like the request line itself; `strata_http_requests_total{status}`
 * counts them.
 */
export function errorLogLevel(code: HttpErrorCode): ErrorLogLevel {
  switch (code) {
    case 'INTERNAL':
    case 'CORRUPTION':
    case 'UNSUPPORTED_FORMAT':
      return 'error';
    case 'IO_ERROR':
    case 'NO_SPACE':
      return 'warn';
    default:
      return 'debug';
  }
}
