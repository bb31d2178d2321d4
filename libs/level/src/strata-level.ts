import { AbstractLevel } from 'abstract-level';
import type { AbstractDatabaseOptions } from 'abstract-level';
import { MAX_KEY_BYTES, StrataError } from '@strata/core';
import { Store } from '@strata/store';
import type { BatchOperation, StoreOptions, StoreSnapshot } from '@strata/store';
import { clearRange } from './clear.js';
import type { ClearRequest } from './clear.js';
import { LevelError, toLevelError } from './level-errors.js';
import { storeBounds } from './range-bounds.js';
import type { LevelRange } from './range-bounds.js';
import {
  StrataIterator,
  StrataKeyIterator,
  StrataValueIterator,
  formatted,
} from './strata-iterator.js';
import type { LevelFormat } from './strata-iterator.js';
import { StrataSnapshot } from './strata-snapshot.js';

/** Options of {@link StrataLevel}: abstract-level's, and the store's. */
export interface StrataLevelOptions<K, V> extends AbstractDatabaseOptions<K, V> {
  /**
   * Options of the underlying store (see `Store.open` of @strata/store: sync mode, memtable and
   * cache sizes, retention...). `createIfMissing` and `errorIfExists` are abstract-level's open
   * options instead.
   */
  readonly store?: Omit<StoreOptions, 'createIfMissing' | 'errorIfExists'>;
  /**
   * `close()` flushes the store's memtable into a segment only when it holds at least this many
   * bytes (default 4 MiB); a smaller one stays in the log, where it already is durably, and the
   * next open replays it (bounded by this size). A database opened and closed often then neither
   * pays a segment write and its fsyncs at each close nor piles up tiny segments. 0 flushes at
   * every close.
   */
  readonly closeFlushMinBytes?: number;
}

/** The default of {@link StrataLevelOptions.closeFlushMinBytes}: 4 MiB. */
const CLOSE_FLUSH_MIN_BYTES = 4 * 1024 * 1024;

/**
 * What this database supports, declared to abstract-level (and checked by its test suite): keys
 * and values as buffers or UTF-8 strings natively (every other encoding is transcoded), implicit
 * snapshots (an iterator or a read sees the state when it was created), explicit snapshots
 * (`db.snapshot()`), `has`, `seek`, `createIfMissing` / `errorIfExists`, abortable iterators
 * (`signal`), and permanence (the data is on disk). No `getSync`: a read may go to disk.
 */
const MANIFEST = {
  encodings: { buffer: true, utf8: true },
  implicitSnapshots: true,
  explicitSnapshots: true,
  has: true,
  getSync: false,
  seek: true,
  createIfMissing: true,
  errorIfExists: true,
  permanence: true,
  signals: { iterators: true },
};

/** The options abstract-level hands `_get`, `_getMany`, `_has`, `_hasMany`. */
interface ReadOptions {
  readonly keyEncoding: LevelFormat;
  readonly valueEncoding: LevelFormat;
  readonly snapshot?: StrataSnapshot;
}

/** The options abstract-level hands `_iterator`, `_keys`, `_values`. */
interface IteratorOptions extends LevelRange, ReadOptions {
  readonly reverse: boolean;
  readonly limit: number;
  readonly signal?: AbortSignal;
  readonly [key: string]: unknown;
}

type LevelKey = Buffer | string;
type LevelOperation =
  | { readonly type: 'put'; readonly key: LevelKey; readonly value: LevelKey }
  | { readonly type: 'del'; readonly key: LevelKey };

/**
 * An [abstract-level](https://github.com/Level/abstract-level) database over a Strata store in
 * `location`: use Strata where the Level ecosystem is expected (encodings, sublevels, hooks,
 * level-read-stream...). Every write is a store write (an event in the store's log, one seqno per
 * key; a batch is one atomic record), so the store's history, change feed and checkpoints cover
 * what the database writes. Passes abstract-level's own test suite with the manifest it declares
 * (see `supports`).
 *
 * @example
 * ```ts
 * const db = new StrataLevel('./db', { valueEncoding: 'json' });
 * await db.put('user/1', { name: 'ada' });
 * for await (const [key, value] of db.iterator({ gte: 'user/' })) console.log(key, value);
 * await db.close();
 * ```
 */
export class StrataLevel<KDefault = string, VDefault = string> extends AbstractLevel<
  Buffer | Uint8Array | string,
  KDefault,
  VDefault
> {
  /** The data directory of the store. */
  readonly location: string;
  private readonly storeOptions: Omit<StoreOptions, 'createIfMissing' | 'errorIfExists'>;
  private readonly closeFlushMinBytes: number;
  private opened: Store | undefined;

  constructor(location: string, options: StrataLevelOptions<KDefault, VDefault> = {}) {
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string");
    }
    const { store, closeFlushMinBytes, ...levelOptions } = options;
    if (
      closeFlushMinBytes !== undefined &&
      !(Number.isSafeInteger(closeFlushMinBytes) && closeFlushMinBytes >= 0)
    ) {
      throw new TypeError('closeFlushMinBytes must be a non-negative integer');
    }
    super(MANIFEST, levelOptions);
    this.location = location;
    this.storeOptions = store ?? {};
    this.closeFlushMinBytes = closeFlushMinBytes ?? CLOSE_FLUSH_MIN_BYTES;
  }

  /**
   * The underlying store while the database is open: its history, change feed, checkpoints and
   * stats see what this database wrote.
   *
   * @throws StrataError `CLOSED` when the database is not open.
   */
  get store(): Store {
    if (this.opened === undefined) throw new StrataError('CLOSED', 'the database is not open');
    return this.opened;
  }

  private get maxKeyBytes(): number {
    return this.storeOptions.maxKeyBytes ?? MAX_KEY_BYTES;
  }

  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    try {
      this.opened = await Store.open(this.location, {
        ...this.storeOptions,
        createIfMissing: options.createIfMissing,
        errorIfExists: options.errorIfExists,
      });
    } catch (error) {
      throw toLevelError(error);
    }
  }

  async _close(): Promise<void> {
    const store = this.opened;
    this.opened = undefined;
    if (store === undefined) return;
    const flushMemtable = store.stats().memtableSizeBytes >= this.closeFlushMinBytes;
    await store.close({ flushMemtable });
  }

  async _get(key: LevelKey, options: ReadOptions): Promise<LevelKey | undefined> {
    // The read takes its view now, before the first await (the implicit snapshot).
    const value = await this.reader(options).get(key);
    return value === undefined ? undefined : formatted(value, options.valueEncoding);
  }

  async _getMany(keys: LevelKey[], options: ReadOptions): Promise<(LevelKey | undefined)[]> {
    const reader = this.reader(options);
    // Every read starts in this tick: one view for all of them.
    const values = await Promise.all(keys.map((key) => reader.get(key)));
    return values.map((value) =>
      value === undefined ? undefined : formatted(value, options.valueEncoding),
    );
  }

  async _has(key: LevelKey, options: ReadOptions): Promise<boolean> {
    return (await this.reader(options).get(key)) !== undefined;
  }

  async _hasMany(keys: LevelKey[], options: ReadOptions): Promise<boolean[]> {
    const reader = this.reader(options);
    const values = await Promise.all(keys.map((key) => reader.get(key)));
    return values.map((value) => value !== undefined);
  }

  async _put(key: LevelKey, value: LevelKey): Promise<void> {
    await this.store.put(key, value);
  }

  async _del(key: LevelKey): Promise<void> {
    await this.store.delete(key);
  }

  async _batch(operations: LevelOperation[]): Promise<void> {
    if (operations.length === 0) return;
    const batch = operations.map((operation): BatchOperation =>
      operation.type === 'put'
        ? { type: 'put', key: operation.key, value: operation.value }
        : { type: 'delete', key: operation.key },
    );
    await this.store.batch(batch);
  }

  async _clear(options: ClearRequest & { readonly snapshot?: StrataSnapshot }): Promise<void> {
    await clearRange(this.store, options, options.snapshot?.storeSnapshot, this.maxKeyBytes);
  }

  _snapshot(options: object): StrataSnapshot {
    return new StrataSnapshot(options, this.store.snapshot());
  }

  _iterator(options: IteratorOptions): StrataIterator {
    return new StrataIterator(this, options, this.source(options));
  }

  _keys(options: IteratorOptions): StrataKeyIterator {
    return new StrataKeyIterator(this, options, this.source(options));
  }

  _values(options: IteratorOptions): StrataValueIterator {
    return new StrataValueIterator(this, options, this.source(options));
  }

  /** Where a read goes: the explicit snapshot it names, or the store's latest state. */
  private reader(options: ReadOptions): Pick<StoreSnapshot, 'get'> {
    return options.snapshot?.storeSnapshot ?? this.store;
  }

  /** The store range read behind an iterator, opened now (its implicit snapshot). */
  private source(options: IteratorOptions) {
    const rangeOptions = {
      ...storeBounds(options),
      reverse: options.reverse,
      ...(options.limit >= 0 ? { limit: options.limit } : {}),
      seekable: true,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    };
    const snapshot = options.snapshot?.storeSnapshot;
    if (snapshot !== undefined && !snapshot.open) {
      throw new LevelError(
        'Snapshot is not open: cannot use snapshot after close()',
        'LEVEL_SNAPSHOT_NOT_OPEN',
      );
    }
    const range =
      snapshot === undefined ? this.store.range(rangeOptions) : snapshot.range(rangeOptions);
    return { range, keyFormat: options.keyEncoding, valueFormat: options.valueEncoding };
  }
}
