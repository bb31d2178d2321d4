import { StrataError } from './errors.js';

/**
 * Asserts an internal invariant. A failure is a bug in Strata, never bad input: it throws an
 * `INTERNAL` StrataError at once, so a broken state is never written to disk or served.
 *
 * @example
 * ```ts
 * invariant(offset <= fileSizeBytes, 'write offset beyond the end of the segment');
 * ```
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new StrataError('INTERNAL', `invariant violated: ${message}`);
  }
}
