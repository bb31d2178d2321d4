import { StrataError } from '@strata/core';

/** Lifecycle of a {@link Store}. `failed`: a write or fsync failed; reads go on, writes are refused. */
export type StoreStatus = 'opening' | 'open' | 'failed' | 'closing' | 'closed';

/**
 * The store's state and its one failure: the write path, the change feed and close consult it.
 * A failure is kept (fail-stop): every later write is refused with it until the store is reopened.
 */
export class StoreLifecycle {
  private statusValue: StoreStatus = 'opening';
  private failureValue: StrataError | undefined;

  /** Current state. */
  get status(): StoreStatus {
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

  /** Recovery is done: the store serves. */
  opened(): void {
    this.statusValue = 'open';
  }

  /** close() has begun: writes are refused from now on. */
  beginClose(): void {
    this.statusValue = 'closing';
  }

  /** close() is done. */
  closed(): void {
    this.statusValue = 'closed';
  }

  /** @throws StrataError `CLOSED` once closing, or the failure that stopped writes. */
  checkWritable(): void {
    if (this.statusValue === 'closing' || this.statusValue === 'closed')
      throw new StrataError('CLOSED', 'the store is closed');
    if (this.failureValue) throw this.failureValue;
  }

  /** @throws StrataError the failure that stopped writes, if any. */
  throwIfFailed(): void {
    if (this.failureValue) throw this.failureValue;
  }

  /** @throws StrataError `CLOSED` once closed (reads go on while closing and after a failure). */
  checkReadable(): void {
    if (this.statusValue === 'closed') throw new StrataError('CLOSED', 'the store is closed');
  }

  /**
   * Records the first failure (later ones are ignored: the first is what the caller must see) as
   * an `IO_ERROR` naming `reason`, and moves an open store to `failed`.
   *
   * @returns the recorded failure when this call recorded it, else `undefined`.
   */
  failStop(error: unknown, reason: string): StrataError | undefined {
    if (this.failureValue) return undefined;
    this.failureValue = new StrataError(
      'IO_ERROR',
      `${reason}; writes are refused until the store is reopened: ${String((error as Error)?.message ?? error)}`,
      { cause: error },
    );
    if (this.statusValue === 'open') this.statusValue = 'failed';
    return this.failureValue;
  }
}
