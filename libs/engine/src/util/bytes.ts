/**
 * Byte helpers shared by every layer: key comparison, varints and hex.
 */

/**
 * Lexicographic comparison of two byte strings, negative/zero/positive like `Buffer.compare`.
 * Short keys are compared in JavaScript: for the 16-byte keys that dominate, that beats the cost of
 * a native call.
 */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const aLength = a.length;
  const bLength = b.length;
  const n = aLength < bLength ? aLength : bLength;
  if (n > 64) return Buffer.compare(a, b);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/** Compares `a` with `b[bStart..bEnd)` without allocating a view. */
export function compareKeyTo(a: Uint8Array, b: Uint8Array, bStart: number, bEnd: number): number {
  const aLength = a.length;
  const bLength = bEnd - bStart;
  const n = aLength < bLength ? aLength : bLength;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[bStart + i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/** Orders `a[aStart, aEnd)` against `b[bStart, bEnd)` bytewise, like {@link compareKeys}. */
export function compareRanges(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const n = aLength < bLength ? aLength : bLength;
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i]! - b[bStart + i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/** True when both byte strings are equal. */
export function equalKeys(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or `undefined` when no such
 * key exists (the prefix is empty or all 0xff).
 */
export function prefixSuccessor(prefix: Uint8Array): Buffer | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = Buffer.from(prefix.subarray(0, i + 1));
      out[i] = out[i]! + 1;
      return out;
    }
  }
  return undefined;
}

/** Views any `Uint8Array` as a `Buffer` without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

const NATIVE_COPY_FROM_BYTES = 32;

/**
 * Copies `source[start, start + length)` to `target` at `at`. A native copy of part of a buffer
 * needs a view of that range, an allocation that costs more than a byte loop over the few bytes
 * of a key suffix; from a few dozen bytes (a typical value) the native copy wins, view included
 * (measured on 100 bytes: about 80 ns against 170 ns; DataView word copies were no faster). A
 * whole source needs no view.
 */
export function copyRange(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  start: number,
  length: number,
): void {
  if (start === 0 && length === source.length) target.set(source, at);
  else if (length < NATIVE_COPY_FROM_BYTES) {
    for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
  } else {
    target.set(new Uint8Array(source.buffer, source.byteOffset + start, length), at);
  }
}

/** Writes a little-endian u64 from a safe integer. */
export function writeU64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32LE(value % 0x1_0000_0000, offset);
  target.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** Reads a little-endian u64 as a number (safe below 2^53). */
export function readU64(source: Buffer, offset: number): number {
  return source.readUInt32LE(offset) + source.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

/** Hex text of bytes (used in JSON metadata). */
export function toHex(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('hex');
}

/** Bytes of hex text. */
export function fromHex(text: string): Buffer {
  return Buffer.from(text, 'hex');
}
