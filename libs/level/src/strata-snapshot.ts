import { AbstractSnapshot } from 'abstract-level';
import type { StoreSnapshot } from '@strata/store';

/**
 * An explicit snapshot of a {@link StrataLevel} (`db.snapshot()`): the store's snapshot handle
 * (see `Store.snapshot`), which keeps the versions it sees until it is closed.
 */
export class StrataSnapshot extends AbstractSnapshot {
  /** @internal The store's snapshot that reads go to. */
  readonly storeSnapshot: StoreSnapshot;

  /** @internal */
  constructor(options: object, storeSnapshot: StoreSnapshot) {
    // @ts-expect-error abstract-level's declarations omit the constructor's options (the owner).
    super(options);
    this.storeSnapshot = storeSnapshot;
  }

  _close(): Promise<void> {
    this.storeSnapshot.close();
    return Promise.resolve();
  }
}
