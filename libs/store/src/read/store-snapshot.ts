import { StrataError } from '@strata/core';
import type { Lifecycle } from '@strata/core';
import type { Snapshot, Tree } from '@strata/engine';
import { keyBytes } from '../input.js';
import type { BytesLike } from '../input.js';
import { openRange } from './range-read.js';
import type { RangeOptions } from './range-read.js';
import type { StoreIterator } from './store-iterator.js';

/**
 * A point-in-time view of a {@link Store}, from {@link Store.snapshot}: its reads see the state as
 * of {@link seqno}, whatever is written, flushed or compacted meanwhile. Unlike a read with `at`,
 * it is not bounded by the history window: it keeps the versions it sees (compaction leaves them)
 * until {@link close}, so close it when done (or use `using`).
 *
 * @example
 * ```ts
 * const snapshot = store.snapshot();
 * await store.put('a', '2');
 * await snapshot.get('a'); // the value before the put
 * const items = await snapshot.range({ prefix: 'user/' }).all();
 * snapshot.close();
 * ```
 */
export class StoreSnapshot {
  private pin: Snapshot | undefined;

  /** @internal The store hands out snapshots (see {@link Store.snapshot}). */
  constructor(
    private readonly tree: Tree,
    private readonly lifecycle: Lifecycle,
    /** The last seqno the snapshot sees: every write up to it and none after. */
    readonly seqno: number,
    private readonly maxKeyBytes: number,
  ) {
    this.pin = tree.snapshot(seqno + 1);
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.pin !== undefined;
  }

  /**
   * The value of `key` as of the snapshot, or `undefined`.
   *
   * @throws StrataError `CLOSED` once the snapshot or the store is closed.
   */
  get(key: BytesLike): Promise<Buffer | undefined> {
    try {
      this.checkOpen();
      return this.tree.get(keyBytes(key, this.maxKeyBytes), this.seqno + 1);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * A range read as of the snapshot (options as for {@link Store.range}, without `at`). The read
   * holds its own view: it goes on after the snapshot is closed.
   *
   * @throws StrataError `CLOSED` once the snapshot or the store is closed, `INVALID_ARGUMENT`.
   */
  range(options: Omit<RangeOptions, 'at'> = {}): StoreIterator {
    this.checkOpen();
    if ((options as RangeOptions).at !== undefined) {
      throw new StrataError('INVALID_ARGUMENT', 'a snapshot reads at its own seqno; drop at');
    }
    return openRange(this.tree, this.seqno + 1, options);
  }

  /** Lets compaction drop the versions the snapshot kept; idempotent. */
  close(): void {
    const pin = this.pin;
    this.pin = undefined;
    pin?.close();
  }

  /** Closes the snapshot at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  private checkOpen(): void {
    this.lifecycle.checkReadable();
    if (this.pin === undefined) throw new StrataError('CLOSED', 'the snapshot is closed');
  }
}
