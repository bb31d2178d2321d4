/**
 * A failed step of a group commit (its write, fdatasync, or the creation of the next segment),
 * with where the group started: a refused write (ENOSPC) is cut back to that offset.
 */
export class WriteFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly startOffset: number,
    readonly operation: string,
  ) {
    super(`${operation} failed`);
  }
}

/** How a fail-stop names the step of a group commit that failed. */
export function failureReason(operation: string): string {
  if (operation === 'write') return 'a write to the log failed';
  if (operation === 'fdatasync') return 'an fdatasync of the log failed';
  return `${operation} failed`;
}
