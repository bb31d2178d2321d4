import type { StoreOptions } from '@strata/store';

/** The store's sync mode. */
export type SyncMode = NonNullable<StoreOptions['sync']>;

/** What the parent tells one writer child. */
export interface WriterOptions {
  readonly dataDirectory: string;
  readonly cycle: number;
  readonly writers: number;
  readonly sync: SyncMode;
  readonly memtableSizeBytes: number;
  readonly walSegmentSizeBytes: number;
}
