/** An error as Strata throws it: a message plus a stable code and details, when it has them. */
export type CodedError = Error & { code?: string; details?: Record<string, unknown> };

/**
 * Awaits `promise` and returns what it rejected with; throws if it resolves. Lets a test assert
 * on an error's `code` and `details` in one line.
 *
 * @example
 * ```ts
 * expect((await rejectionOf(wal.append(badBatch))).code).to.equal('INVALID_ARGUMENT');
 * ```
 */
export async function rejectionOf(promise: Promise<unknown>): Promise<CodedError> {
  try {
    await promise;
  } catch (error) {
    return error as CodedError;
  }
  throw new Error('expected a rejection');
}
