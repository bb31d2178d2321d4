import { StrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';

/** True when `code` is the SQLite result code `primary` or one of its extended codes. */
function isResultCode(code: string | undefined, primary: string): boolean {
  return code === primary || (code?.startsWith(`${primary}_`) ?? false);
}

/**
 * Maps an error thrown by better-sqlite3 to a StrataError, so callers branch on Strata's codes,
 * never on SQLite's: a damaged or foreign file is `CORRUPTION` (details name the file, offset 0:
 * SQLite does not say where), a full device `NO_SPACE`, a lock held too long `LOCKED`, anything
 * else `IO_ERROR`. The SQLite code stays in `details.sqliteCode`; StrataErrors pass through.
 */
export function sqliteError(operation: string, file: string, cause: unknown): StrataError {
  if (cause instanceof StrataError) return cause;
  const rawCode = (cause as { code?: unknown } | null)?.code;
  const sqliteCode = typeof rawCode === 'string' ? rawCode : undefined;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message = `${operation} failed on ${file}: ${reason}`;
  if (isResultCode(sqliteCode, 'SQLITE_CORRUPT') || isResultCode(sqliteCode, 'SQLITE_NOTADB')) {
    return new StrataError('CORRUPTION', message, {
      cause,
      details: { file, offset: 0, operation, sqliteCode },
    });
  }
  let code: StrataErrorCode = 'IO_ERROR';
  if (isResultCode(sqliteCode, 'SQLITE_FULL')) code = 'NO_SPACE';
  else if (isResultCode(sqliteCode, 'SQLITE_BUSY') || isResultCode(sqliteCode, 'SQLITE_LOCKED')) {
    code = 'LOCKED';
  }
  return new StrataError(code, message, { cause, details: { file, operation, sqliteCode } });
}
