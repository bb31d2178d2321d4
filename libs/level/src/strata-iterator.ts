import { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level';
import type { RangeItem, StoreIterator } from '@strata/store';
import { toLevelError } from './level-errors.js';

/** The data format of keys or values in the private API: `'buffer'` or `'utf8'`. */
export type LevelFormat = 'buffer' | 'utf8';

/**
 * Bytes from the store in the private API's format. Buffers are copied: the store hands out views
 * of its own memory, and a caller may modify what it gets.
 */
export function formatted(bytes: Buffer, format: LevelFormat): Buffer | string {
  return format === 'utf8' ? bytes.toString('utf8') : Buffer.from(bytes);
}

/** What the iterators share: the store's range read and the formats asked for. */
interface IteratorSource {
  readonly range: StoreIterator;
  readonly keyFormat: LevelFormat;
  readonly valueFormat: LevelFormat;
}

/** Runs a range read's step, turning the store's errors into abstract-level's. */
async function step<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    throw toLevelError(error);
  }
}

/** Items mapped by `map`; each iterator class maps to entries, keys or values. */
function mapItems<T>(items: readonly RangeItem[], map: (item: RangeItem) => T): T[] {
  const out = new Array<T>(items.length);
  for (let index = 0; index < items.length; index++) out[index] = map(items[index] as RangeItem);
  return out;
}

/**
 * The entry iterator of {@link StrataLevel}: a seekable store range read (its view taken when the
 * iterator is created, the implicit snapshot), read in chunks (`_nextv`, `_all`).
 */
export class StrataIterator extends AbstractIterator<unknown, Buffer | string, Buffer | string> {
  private readonly entry: (item: RangeItem) => [Buffer | string, Buffer | string];

  /** @internal */
  constructor(
    db: unknown,
    options: Record<string, unknown>,
    private readonly source: IteratorSource,
  ) {
    super(db, options);
    const { keyFormat, valueFormat } = source;
    const keys = options.keys !== false;
    const values = options.values !== false;
    this.entry = (item) => [
      keys ? formatted(item.key, keyFormat) : (undefined as never),
      values ? formatted(item.value, valueFormat) : (undefined as never),
    ];
  }

  async _next(): Promise<[Buffer | string, Buffer | string] | undefined> {
    const item = await step(this.source.range.next());
    return item === undefined ? undefined : this.entry(item);
  }

  async _nextv(size: number): Promise<[Buffer | string, Buffer | string][]> {
    return mapItems(await step(this.source.range.nextv(size)), this.entry);
  }

  async _all(): Promise<[Buffer | string, Buffer | string][]> {
    return mapItems(await step(this.source.range.all()), this.entry);
  }

  _seek(target: Buffer | string): void {
    this.source.range.seek(target);
  }

  _close(): Promise<void> {
    this.source.range.close();
    return Promise.resolve();
  }
}

/** The key iterator of {@link StrataLevel} (see {@link StrataIterator}). */
export class StrataKeyIterator extends AbstractKeyIterator<unknown, Buffer | string> {
  private readonly key: (item: RangeItem) => Buffer | string;

  /** @internal */
  constructor(
    db: unknown,
    options: Record<string, unknown>,
    private readonly source: IteratorSource,
  ) {
    super(db, options);
    const format = source.keyFormat;
    this.key = (item) => formatted(item.key, format);
  }

  async _next(): Promise<Buffer | string | undefined> {
    const item = await step(this.source.range.next());
    return item === undefined ? undefined : this.key(item);
  }

  async _nextv(size: number): Promise<(Buffer | string)[]> {
    return mapItems(await step(this.source.range.nextv(size)), this.key);
  }

  async _all(): Promise<(Buffer | string)[]> {
    return mapItems(await step(this.source.range.all()), this.key);
  }

  _seek(target: Buffer | string): void {
    this.source.range.seek(target);
  }

  _close(): Promise<void> {
    this.source.range.close();
    return Promise.resolve();
  }
}

/** The value iterator of {@link StrataLevel} (see {@link StrataIterator}). */
export class StrataValueIterator extends AbstractValueIterator<
  unknown,
  Buffer | string,
  Buffer | string
> {
  private readonly value: (item: RangeItem) => Buffer | string;

  /** @internal */
  constructor(
    db: unknown,
    options: Record<string, unknown>,
    private readonly source: IteratorSource,
  ) {
    super(db, options);
    const format = source.valueFormat;
    this.value = (item) => formatted(item.value, format);
  }

  async _next(): Promise<Buffer | string | undefined> {
    const item = await step(this.source.range.next());
    return item === undefined ? undefined : this.value(item);
  }

  async _nextv(size: number): Promise<(Buffer | string)[]> {
    return mapItems(await step(this.source.range.nextv(size)), this.value);
  }

  async _all(): Promise<(Buffer | string)[]> {
    return mapItems(await step(this.source.range.all()), this.value);
  }

  _seek(target: Buffer | string): void {
    this.source.range.seek(target);
  }

  _close(): Promise<void> {
    this.source.range.close();
    return Promise.resolve();
  }
}
