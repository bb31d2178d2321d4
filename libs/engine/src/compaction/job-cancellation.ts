import { StrataError, isStrataError } from '@strata/core';

/**
 * Cancels the flush and compaction jobs of one tree, in whatever thread they run. The flag lives in
 * a SharedArrayBuffer: a job posted to a worker carries a view of the same memory, so the worker
 * sees the cancellation at its next write without a message round trip. A tree cancels its jobs
 * when it closes: the memtables they were writing are still in the log, and what they wrote is
 * not in the manifest, so nothing is lost by stopping them, and close need not wait for a
 * compaction of tens of MiB.
 */
export class JobCancellation {
  /** The flag jobs carry (non-zero once cancelled). */
  readonly flag = new Int32Array(new SharedArrayBuffer(4));

  /** Cancels every running job and every job started later (it cannot be undone). */
  cancel(): void {
    Atomics.store(this.flag, 0, 1);
  }

  /** True once {@link cancel} was called. */
  get cancelled(): boolean {
    return isCancelled(this.flag);
  }
}

/** True when `flag` (a job's view of a {@link JobCancellation}) says to stop. */
export function isCancelled(flag: Int32Array | undefined): boolean {
  return flag !== undefined && Atomics.load(flag, 0) !== 0;
}

/**
 * Throws the error of a cancelled job when `flag` is set: `CLOSED` with `details.cancelled`, so
 * the layer that closed the tree can tell it from a failure (it survives the worker boundary).
 */
export function throwIfCancelled(flag: Int32Array | undefined): void {
  if (isCancelled(flag)) {
    throw new StrataError('CLOSED', 'background job cancelled: the tree is closing', {
      details: { cancelled: true },
    });
  }
}

/** True for the error a job throws when it was cancelled (see {@link throwIfCancelled}). */
export function isJobCancelledError(error: unknown): boolean {
  return isStrataError(error) && error.code === 'CLOSED' && error.details.cancelled === true;
}
