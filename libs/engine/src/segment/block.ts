import { corruptionError } from '@strata/core';
import { compareKeyTo, writeVarint } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';

/**
 * Data block layout (before framing):
 * entries `[varint shared][varint unshared][varint valueLength][u8 kind][varint seqno][key suffix][value]`
 * then restart offsets `u32[]` and `u32 restartCount`. Keys are prefix-compressed against the
 * previous key; every `restartInterval`-th entry stores its key whole (a restart point).
 */
export class BlockBuilder {
  private buffer: Buffer;
  private used = 0;
  private restarts: number[] = [];
  private sinceRestart = 0;
  private lastKey: Buffer = Buffer.alloc(64);
  private lastKeyLength = 0;
  private entryCount = 0;

  constructor(
    private readonly restartInterval: number,
    initialBytes = 8 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Entries added since the last {@link finish}. */
  get count(): number {
    return this.entryCount;
  }

  /** Size the block would have if finished now. */
  get estimatedSizeBytes(): number {
    return this.used + 4 * this.restarts.length + 4;
  }

  /** Appends an entry; entries must arrive in (key asc, seqno desc) order. */
  add(key: Uint8Array, value: Uint8Array, seqno: number, kind: ValueKindCode): void {
    let shared = 0;
    if (this.sinceRestart >= this.restartInterval || this.entryCount === 0) {
      this.restarts.push(this.used);
      this.sinceRestart = 0;
    } else {
      const last = this.lastKey;
      const max = Math.min(this.lastKeyLength, key.length);
      while (shared < max && last[shared] === key[shared]) shared++;
    }
    const unshared = key.length - shared;
    const needed = 5 * 3 + 1 + 8 + unshared + value.length;
    this.ensure(needed);
    const buffer = this.buffer;
    let at = writeVarint(buffer, this.used, shared);
    at = writeVarint(buffer, at, unshared);
    at = writeVarint(buffer, at, value.length);
    buffer[at++] = kind;
    at = writeVarint(buffer, at, seqno);
    buffer.set(key.subarray(shared), at);
    at += unshared;
    buffer.set(value, at);
    at += value.length;
    this.used = at;
    this.sinceRestart++;
    this.entryCount++;
    if (this.lastKey.length < key.length) this.lastKey = Buffer.alloc(key.length * 2);
    this.lastKey.set(key);
    this.lastKeyLength = key.length;
  }

  /** The finished block bytes; the builder is reset. */
  finish(): Buffer {
    const trailerBytes = 4 * this.restarts.length + 4;
    this.ensure(trailerBytes);
    let at = this.used;
    for (const restart of this.restarts) {
      this.buffer.writeUInt32LE(restart, at);
      at += 4;
    }
    this.buffer.writeUInt32LE(this.restarts.length, at);
    at += 4;
    const out = Buffer.from(this.buffer.subarray(0, at));
    this.used = 0;
    this.restarts = [];
    this.sinceRestart = 0;
    this.entryCount = 0;
    return out;
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + extra));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}

/**
 * A data block decoded once into flat arrays (full keys back to back, value offsets, seqnos,
 * kinds), so seeks are binary searches and scans in either direction allocate nothing but the views
 * they return. The block cache holds raw verified blocks; cursors decode the blocks they visit.
 */
export class DecodedBlock {
  constructor(
    /** The uncompressed block bytes; values are views into it. */
    readonly data: Buffer,
    readonly count: number,
    readonly keys: Buffer,
    readonly keyOffsets: Uint32Array,
    readonly valueOffsets: Uint32Array,
    readonly valueLengths: Uint32Array,
    readonly seqnos: Float64Array,
    readonly kinds: Uint8Array,
  ) {}

  /** Memory the block takes, for the cache's byte budget. */
  get sizeBytes(): number {
    return this.data.length + this.keys.length + this.count * 21 + 128;
  }

  keyAt(index: number): Buffer {
    return this.keys.subarray(this.keyOffsets[index], this.keyOffsets[index + 1]);
  }

  valueAt(index: number): Buffer {
    const offset = this.valueOffsets[index]!;
    return this.data.subarray(offset, offset + this.valueLengths[index]!);
  }

  compareKeyAt(key: Uint8Array, index: number): number {
    return compareKeyTo(key, this.keys, this.keyOffsets[index]!, this.keyOffsets[index + 1]!);
  }

  entryAt(index: number): InternalEntry {
    return {
      key: this.keyAt(index),
      value: this.valueAt(index),
      seqno: this.seqnos[index]!,
      kind: this.kinds[index]! as ValueKindCode,
    };
  }

  /**
   * Index of the first entry ordered at or after (`key`, `seqno`) (key asc, seqno desc), or
   * `count`. `seqno` may be ±Infinity to land before or after every version of `key`.
   */
  lowerBound(key: Uint8Array, seqno: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      let c = this.compareKeyAt(key, mid);
      if (c === 0) {
        const s = this.seqnos[mid]!;
        c = s > seqno ? 1 : s < seqno ? -1 : 0;
      }
      if (c > 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Decodes a data block; structural damage is a `CORRUPTION` naming `file` and `offset`. */
export function decodeBlock(data: Buffer, file: string, offset: number): DecodedBlock {
  const fail = (reason: string): never => {
    throw corruptionError(file, offset, `data block: ${reason}`);
  };
  if (data.length < 4) fail('too short');
  const restartCount = data.readUInt32LE(data.length - 4);
  const entriesEnd = data.length - 4 - restartCount * 4;
  if (restartCount === 0 || entriesEnd < 0) fail('bad restart count');
  let nextRestartSlot = 0;
  let nextRestart = data.readUInt32LE(entriesEnd);

  let capacity = 64;
  let keyOffsets = new Uint32Array(capacity + 1);
  let valueOffsets = new Uint32Array(capacity);
  let valueLengths = new Uint32Array(capacity);
  let seqnos = new Float64Array(capacity);
  let kinds = new Uint8Array(capacity);
  let keys = Buffer.allocUnsafe(Math.max(256, data.length));
  let keysUsed = 0;
  let previousStart = 0;
  let previousLength = 0;
  let count = 0;
  let at = 0;

  const readVarint = (): number => {
    let result = 0;
    let multiplier = 1;
    for (;;) {
      if (at >= entriesEnd) fail('truncated varint');
      const byte = data[at++]!;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
      if (multiplier > 2 ** 56) fail('varint too long');
    }
  };

  while (at < entriesEnd) {
    if (count === capacity) {
      capacity *= 2;
      const grow = <T extends Uint32Array | Float64Array | Uint8Array>(old: T, next: T): T => {
        next.set(old);
        return next;
      };
      keyOffsets = grow(keyOffsets, new Uint32Array(capacity + 1));
      valueOffsets = grow(valueOffsets, new Uint32Array(capacity));
      valueLengths = grow(valueLengths, new Uint32Array(capacity));
      seqnos = grow(seqnos, new Float64Array(capacity));
      kinds = grow(kinds, new Uint8Array(capacity));
    }
    const entryStart = at;
    const isRestart = entryStart === nextRestart;
    const shared = readVarint();
    const unshared = readVarint();
    const valueLength = readVarint();
    if (at >= entriesEnd) fail('truncated entry');
    const kind = data[at++]!;
    const seqno = readVarint();
    if (kind > 1) fail(`unknown entry kind ${kind}`);
    if (shared > previousLength || (isRestart && shared !== 0)) fail('bad shared prefix');
    if (at + unshared + valueLength > entriesEnd) fail('entry overruns block');
    const keyLength = shared + unshared;
    if (keysUsed + keyLength > keys.length) {
      const grown = Buffer.allocUnsafe(Math.max(keys.length * 2, keysUsed + keyLength));
      keys.copy(grown, 0, 0, keysUsed);
      keys = grown;
    }
    // Byte loops: Buffer#copy is a native call, costly for the few bytes of a key.
    for (let i = 0; i < shared; i++) keys[keysUsed + i] = keys[previousStart + i]!;
    for (let i = 0; i < unshared; i++) keys[keysUsed + shared + i] = data[at + i]!;
    at += unshared;
    keyOffsets[count] = keysUsed;
    previousStart = keysUsed;
    previousLength = keyLength;
    keysUsed += keyLength;
    valueOffsets[count] = at;
    valueLengths[count] = valueLength;
    at += valueLength;
    seqnos[count] = seqno;
    kinds[count] = kind;
    if (isRestart) {
      nextRestartSlot++;
      nextRestart =
        nextRestartSlot < restartCount ? data.readUInt32LE(entriesEnd + 4 * nextRestartSlot) : -1;
    }
    count++;
  }
  if (nextRestartSlot !== restartCount) fail('restart points do not match entries');
  if (count === 0) fail('empty block');
  keyOffsets[count] = keysUsed;
  return new DecodedBlock(
    data,
    count,
    keys.subarray(0, keysUsed),
    keyOffsets,
    valueOffsets,
    valueLengths,
    seqnos,
    kinds,
  );
}
