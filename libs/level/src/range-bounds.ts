/** The range options abstract-level hands its private methods, keys already encoded. */
export interface LevelRange {
  readonly gt?: Buffer | string;
  readonly gte?: Buffer | string;
  readonly lt?: Buffer | string;
  readonly lte?: Buffer | string;
}

/** A range as the store reads one: `start` inclusive, `end` exclusive, either absent for none. */
export interface StoreBounds {
  readonly start?: Buffer;
  readonly end?: Buffer;
}

const ZERO = Buffer.from([0]);

/** `key` as bytes (abstract-level hands over buffers or, in utf8 format, strings). */
export function keyBuffer(key: Buffer | Uint8Array | string): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  return Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/**
 * The smallest key after `key`: `key` and one zero byte (no key sorts between them). Turns an
 * exclusive lower bound (`gt`) or an inclusive upper bound (`lte`) into the store's bounds.
 */
export function successor(key: Buffer): Buffer {
  return Buffer.concat([key, ZERO]);
}

/**
 * abstract-level's `gt`/`gte`/`lt`/`lte` as the store's `[start, end)`. When both of a side are
 * given, the inclusive one wins (`gte` over `gt`, `lte` over `lt`), as abstract-level specifies.
 * The empty key is a key (the smallest): `gte: ''` bounds, it is not "no bound".
 */
export function storeBounds(range: LevelRange): StoreBounds {
  let start: Buffer | undefined;
  let end: Buffer | undefined;
  if (range.gte !== undefined) start = keyBuffer(range.gte);
  else if (range.gt !== undefined) start = successor(keyBuffer(range.gt));
  if (range.lte !== undefined) end = successor(keyBuffer(range.lte));
  else if (range.lt !== undefined) end = keyBuffer(range.lt);
  return { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) };
}
