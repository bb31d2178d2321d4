import { isStrataError } from '@strata/core';

/**
 * An error with a `LEVEL_*` code (abstract-level's convention), the store's error as `cause`.
 */
export class LevelError extends Error {
  /** The abstract-level error code, e.g. `LEVEL_LOCKED`. */
  readonly code: string;

  constructor(message: string, code: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/**
 * Aborted by the `signal` of an iterator: code `LEVEL_ABORTED` and name `AbortError`, as
 * abstract-level's own aborts.
 */
export class LevelAbortError extends LevelError {
  constructor(cause?: unknown) {
    super('Operation has been aborted', 'LEVEL_ABORTED', cause);
  }

  override get name(): string {
    return 'AbortError';
  }
}

/** Store error codes that have an abstract-level counterpart. */
const LEVEL_CODES: Readonly<Record<string, string>> = {
  LOCKED: 'LEVEL_LOCKED',
  CORRUPTION: 'LEVEL_CORRUPTION',
  IO_ERROR: 'LEVEL_IO_ERROR',
  NO_SPACE: 'LEVEL_IO_ERROR',
  READ_ONLY: 'LEVEL_READONLY',
};

/**
 * A store error as abstract-level users expect it: the abort of a range read becomes
 * {@link LevelAbortError}, a code with a Level counterpart a {@link LevelError} of that code
 * (the store's error as `cause`, its message kept), anything else goes through unchanged.
 */
export function toLevelError(error: unknown): unknown {
  if (!isStrataError(error)) return error;
  if (error.code === 'ABORTED') return new LevelAbortError(error);
  const code = LEVEL_CODES[error.code];
  return code === undefined ? error : new LevelError(error.message, code, error);
}
