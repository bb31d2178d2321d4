import { StrataError } from './errors.js';

/**
 * States of anything that opens, serves and closes (the log, the store). `failed`: a write or an
 * fsync failed; reads go on, writes are refused until the thing is reopened (fail-stop).
 */
export type LifecycleStatus = 'opening' | 'open' | 'failed' | 'closing' | 'closed';

/**
 * One open/closing/closed state machine with a kept failure, shared by the log and the store so
 * both refuse the same way: `CLOSED` once closing, and after a failure the first failure, again
 * and again, until reopened (an fsync is never retried: after a failed fsync the kernel may have
 * dropped the dirty pages, so a later success would prove nothing).
 *
 * @example
 * ```ts
 * const lifecycle = new Lifecycle('the log');
 * lifecycle.opened();
 * lifecycle.checkWritable(); // passes
 * lifecycle.failStop(new Error('EIO'), 'fsync failed');
 * lifecycle.checkWritable(); // throws IO_ERROR "fsync failed; writes are refused until the log is reopened: EIO"
 * ```
 */
export class Lifecycle {
  private statusValue: LifecycleStatus = 'opening';
  private failureValue: StrataError | undefined;

  /** @param subject how messages name the owner, with its article: `'the log'`, `'the store'`. */
  constructor(private readonly subject: string) {}

  /** Current state. */
  get status(): LifecycleStatus {
    return this.statusValue;
  }

  /** The failure that stopped writes, if any. */
  get failure(): StrataError | undefined {
    return this.failureValue;
  }

  /** True once close() has begun. */
  get closing(): boolean {
    return this.statusValue === 'closing' || this.statusValue === 'closed';
  }

  /** Opening is done: the owner serves. */
  opened(): void {
    if (this.statusValue === 'opening') this.statusValue = 'open';
  }

  /**
   * close() has begun: writes are refused from now on.
   *
   * @returns false when close had already begun (a second close() is a no-op for its caller).
   */
  beginClose(): boolean {
    if (this.closing) return false;
    this.statusValue = 'closing';
    return true;
  }

  /** close() is done. */
  closed(): void {
    this.statusValue = 'closed';
  }

  /** @throws StrataError `CLOSED` once closing, or the failure that stopped writes. */
  checkWritable(): void {
    if (this.closing) throw new StrataError('CLOSED', `${this.subject} is closed`);
    if (this.failureValue) throw this.failureValue;
  }

  /** @throws StrataError the failure that stopped writes, if any. */
  throwIfFailed(): void {
    if (this.failureValue) throw this.failureValue;
  }

  /** @throws StrataError `CLOSED` once closed (reads go on while closing and after a failure). */
  checkReadable(): void {
    if (this.statusValue === 'closed') throw new StrataError('CLOSED', `${this.subject} is closed`);
  }

  /**
   * Records the first failure (later ones are ignored: the first is what callers must see) as an
   * `IO_ERROR` naming `reason`, keeping the cause's details, and moves an open owner to `failed`.
   *
   * @returns the recorded failure when this call recorded it, else `undefined`.
   */
  failStop(error: unknown, reason: string): StrataError | undefined {
    if (this.failureValue) return undefined;
    const message = String((error as Error | undefined)?.message ?? error);
    this.failureValue = new StrataError(
      'IO_ERROR',
      `${reason}; writes are refused until ${this.subject} is reopened: ${message}`,
      {
        cause: error,
        ...(error instanceof StrataError && error.details ? { details: error.details } : {}),
      },
    );
    if (this.statusValue === 'open') this.statusValue = 'failed';
    return this.failureValue;
  }
}
