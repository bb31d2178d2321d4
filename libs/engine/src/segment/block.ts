import type { VarintCursor } from '@strata/core';
import { corruptionError, invariant, readVarint, writeVarint } from '@strata/core';
import { compareKeyTo, copyRange } from '../util/bytes.js';
import type { InternalEntry, ValueKindCode } from '../entry.js';
import { EXPIRY_PREFIX_BYTES, ValueKind } from '../entry.js';

/**
 * Data block layout (before framing):
 * entries `[varint shared][varint unshared][varint valueLength][u8 kind][varint seqno][key suffix][value]`
 * then restart offsets `u32[]` and `u32 restartCount`. Keys are prefix-compressed against the
 * previous key; every `restartInterval`-th entry stores its key whole (a restart point).
 *
 * Entries come in either through {@link BlockBuilder.add} (the builder keeps a copy of the last key
 * to find the shared prefix) or through {@link BlockBuilder.addWithSharedPrefix} (the caller, a
 * segment writer, already walked both keys to check their order and passes the prefix length, so
 * the key bytes are walked once per entry). The two cannot be mixed within one block.
 */
export class BlockBuilder {
  private buffer: Buffer;
  private used = 0;
  private restarts: number[] = [];
  private sinceRestart = 0;
  private lastKey: Buffer = Buffer.alloc(64);
  /** Length of `lastKey`, or -1 when entries came through {@link addWithSharedPrefix}. */
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
    if (this.entryCount > 0) {
      invariant(this.lastKeyLength >= 0, 'BlockBuilder.add after addWithSharedPrefix in one block');
      const last = this.lastKey;
      const max = Math.min(this.lastKeyLength, key.length);
      while (shared < max && last[shared] === key[shared]) shared++;
    }
    this.addWithSharedPrefix(shared, key, 0, key.length, value, 0, value.length, seqno, kind);
    if (this.lastKey.length < key.length) this.lastKey = Buffer.alloc(key.length * 2);
    this.lastKey.set(key);
    this.lastKeyLength = key.length;
  }

  /**
   * Appends an entry whose key is `keySource[keyStart, keyStart + keyLength)` and value
   * `valueSource[valueStart, valueStart + valueLength)`, copied straight into the block (no view
   * per entry). `sharedPrefixLength` is the length of the prefix the key shares with the key of
   * the entry added just before (ignored for the block's first entry and at restart points).
   * Entries must arrive in (key asc, seqno desc) order; the caller checks that.
   */
  addWithSharedPrefix(
    sharedPrefixLength: number,
    keySource: Uint8Array,
    keyStart: number,
    keyLength: number,
    valueSource: Uint8Array,
    valueStart: number,
    valueLength: number,
    seqno: number,
    kind: ValueKindCode,
  ): void {
    let shared = sharedPrefixLength;
    if (this.sinceRestart >= this.restartInterval || this.entryCount === 0) {
      this.restarts.push(this.used);
      this.sinceRestart = 0;
      shared = 0;
    }
    const unshared = keyLength - shared;
    this.ensure(5 * 3 + 1 + 8 + unshared + valueLength);
    const buffer = this.buffer;
    let at = writeVarint(buffer, this.used, shared);
    at = writeVarint(buffer, at, unshared);
    at = writeVarint(buffer, at, valueLength);
    buffer[at++] = kind;
    at = writeVarint(buffer, at, seqno);
    if (valueSource === keySource && valueStart === keyStart + keyLength) {
      // A memtable stores a value right after its key, as a block does: one copy for both.
      copyRange(buffer, at, keySource, keyStart + shared, unshared + valueLength);
    } else {
      copyRange(buffer, at, keySource, keyStart + shared, unshared);
      copyRange(buffer, at + unshared, valueSource, valueStart, valueLength);
    }
    this.used = at + unshared + valueLength;
    this.sinceRestart++;
    this.entryCount++;
    this.lastKeyLength = -1;
  }

  /** The finished block bytes (a copy the caller owns); the builder is reset. */
  finish(): Buffer {
    return Buffer.from(this.finishInPlace());
  }

  /**
   * The finished block bytes as a view of the builder's buffer, valid only until the builder is
   * used again: a segment writer frames it at once, which saves a copy and an allocation per
   * block. The builder is reset.
   */
  finishInPlace(): Buffer {
    const trailerBytes = 4 * this.restarts.length + 4;
    this.ensure(trailerBytes);
    let at = this.used;
    const buffer = this.buffer;
    for (const restart of this.restarts) {
      buffer.writeUInt32LE(restart, at);
      at += 4;
    }
    buffer.writeUInt32LE(this.restarts.length, at);
    at += 4;
    this.used = 0;
    this.restarts = [];
    this.sinceRestart = 0;
    this.entryCount = 0;
    this.lastKeyLength = 0;
    return buffer.subarray(0, at);
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + extra));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}

/** Runs shorter than this are copied by a byte loop, longer ones natively. */
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

// Scratch of decodeBlock, grown on demand: a block is decoded here, then copied out at its exact
// size into one allocation. Decoding straight into arrays of a guessed size cost six buffer
// allocations per block (a fresh ArrayBuffer each), a tenth of a full scan.
let scratchCapacity = 0;
let scratchKeyOffsets = new Uint32Array(0);
let scratchValueOffsets = new Uint32Array(0);
let scratchValueLengths = new Uint32Array(0);
let scratchSeqnos = new Float64Array(0);
let scratchKinds = new Uint8Array(0);
let scratchKeys = Buffer.allocUnsafeSlow(4096);

function growScratch(capacity: number): void {
  const keyOffsets = new Uint32Array(capacity + 1);
  const valueOffsets = new Uint32Array(capacity);
  const valueLengths = new Uint32Array(capacity);
  const seqnos = new Float64Array(capacity);
  const kinds = new Uint8Array(capacity);
  keyOffsets.set(scratchKeyOffsets.subarray(0, scratchCapacity));
  valueOffsets.set(scratchValueOffsets);
  valueLengths.set(scratchValueLengths);
  seqnos.set(scratchSeqnos);
  kinds.set(scratchKinds);
  scratchKeyOffsets = keyOffsets;
  scratchValueOffsets = valueOffsets;
  scratchValueLengths = valueLengths;
  scratchSeqnos = seqnos;
  scratchKinds = kinds;
  scratchCapacity = capacity;
}
growScratch(128);

function failDecode(file: string, offset: number, reason: string): never {
  throw corruptionError(file, offset, `data block: ${reason}`);
}

/** Decodes a data block; structural damage is a `CORRUPTION` naming `file` and `offset`. */
export function decodeBlock(data: Buffer, file: string, offset: number): DecodedBlock {
  if (data.length < 4) failDecode(file, offset, 'too short');
  const restartCount = data.readUInt32LE(data.length - 4);
  const entriesEnd = data.length - 4 - restartCount * 4;
  if (restartCount === 0 || entriesEnd < 0) failDecode(file, offset, 'bad restart count');
  let nextRestartSlot = 0;
  let nextRestart = data.readUInt32LE(entriesEnd);

  let keys = scratchKeys;
  if (keys.length < data.length) keys = scratchKeys = Buffer.allocUnsafeSlow(data.length * 2);
  let keysUsed = 0;
  let previousStart = 0;
  let previousLength = 0;
  let count = 0;
  let at = 0;
  const cursor: VarintCursor = { offset: 0, file, errorOffset: offset, what: 'data block' };

  while (at < entriesEnd) {
    if (count === scratchCapacity) growScratch(scratchCapacity * 2);
    const isRestart = at === nextRestart;
    cursor.offset = at;
    const shared = readVarint(data, cursor, entriesEnd);
    const unshared = readVarint(data, cursor, entriesEnd);
    const valueLength = readVarint(data, cursor, entriesEnd);
    at = cursor.offset;
    if (at >= entriesEnd) failDecode(file, offset, 'truncated entry');
    const kind = data[at++]!;
    cursor.offset = at;
    const seqno = readVarint(data, cursor, entriesEnd);
    at = cursor.offset;
    if (kind > ValueKind.Expiring) failDecode(file, offset, `unknown entry kind ${kind}`);
    if (kind === ValueKind.Expiring && valueLength < EXPIRY_PREFIX_BYTES) {
      failDecode(file, offset, 'expiring entry without its deadline');
    }
    if (shared > previousLength || (isRestart && shared !== 0)) {
      failDecode(file, offset, 'bad shared prefix');
    }
    if (at + unshared + valueLength > entriesEnd) failDecode(file, offset, 'entry overruns block');
    const keyLength = shared + unshared;
    // Keys never outgrow the block: a key is at most its own suffix plus a previous key's bytes,
    // and the scratch holds twice the block. Checked anyway, as a damaged block could lie.
    if (keysUsed + keyLength > keys.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(keys.length * 2, keysUsed + keyLength));
      keys.copy(grown, 0, 0, keysUsed);
      keys = scratchKeys = grown;
    }
    // Byte loops: Buffer#copy is a native call, costly for the few bytes of a key.
    for (let i = 0; i < shared; i++) keys[keysUsed + i] = keys[previousStart + i]!;
    for (let i = 0; i < unshared; i++) keys[keysUsed + shared + i] = data[at + i]!;
    at += unshared;
    scratchKeyOffsets[count] = keysUsed;
    previousStart = keysUsed;
    previousLength = keyLength;
    keysUsed += keyLength;
    scratchValueOffsets[count] = at;
    scratchValueLengths[count] = valueLength;
    at += valueLength;
    scratchSeqnos[count] = seqno;
    scratchKinds[count] = kind;
    if (isRestart) {
      nextRestartSlot++;
      nextRestart =
        nextRestartSlot < restartCount ? data.readUInt32LE(entriesEnd + 4 * nextRestartSlot) : -1;
    }
    count++;
  }
  if (nextRestartSlot !== restartCount)
    failDecode(file, offset, 'restart points do not match entries');
  if (count === 0) failDecode(file, offset, 'empty block');
  scratchKeyOffsets[count] = keysUsed;
  return copyOut(data, count, keys, keysUsed);
}

/**
 * Copies a decoded block out of the scratch into one buffer: seqnos (8-byte aligned first), key
 * offsets, value offsets and lengths, kinds, then the keys. Small enough for Node's buffer pool,
 * so a block costs one cheap allocation.
 */
function copyOut(data: Buffer, count: number, keys: Buffer, keysUsed: number): DecodedBlock {
  const seqnoBytes = 8 * count;
  const offsetBytes = 4 * (3 * count + 1);
  const keysAt = seqnoBytes + offsetBytes + count;
  let memory = Buffer.allocUnsafe(keysAt + keysUsed);
  // Pool slices are 8-byte aligned; a Float64Array needs that, so never rely on it blindly.
  if (memory.byteOffset % 8 !== 0) memory = Buffer.allocUnsafeSlow(keysAt + keysUsed);
  const buffer = memory.buffer;
  const base = memory.byteOffset;
  const seqnos = new Float64Array(buffer, base, count);
  const keyOffsets = new Uint32Array(buffer, base + seqnoBytes, count + 1);
  const valueOffsets = new Uint32Array(buffer, base + seqnoBytes + 4 * (count + 1), count);
  const valueLengths = new Uint32Array(buffer, base + seqnoBytes + 4 * (2 * count + 1), count);
  const kinds = new Uint8Array(buffer, base + seqnoBytes + offsetBytes, count);
  for (let i = 0; i < count; i++) {
    seqnos[i] = scratchSeqnos[i]!;
    keyOffsets[i] = scratchKeyOffsets[i]!;
    valueOffsets[i] = scratchValueOffsets[i]!;
    valueLengths[i] = scratchValueLengths[i]!;
    kinds[i] = scratchKinds[i]!;
  }
  keyOffsets[count] = keysUsed;
  // One native copy: hundreds of bytes, where a byte loop costs more than the call.
  keys.copy(memory, keysAt, 0, keysUsed);
  return new DecodedBlock(
    data,
    count,
    memory.subarray(keysAt, keysAt + keysUsed),
    keyOffsets,
    valueOffsets,
    valueLengths,
    seqnos,
    kinds,
  );
}
