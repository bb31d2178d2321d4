/** Key size of every workload (the workloads in tools/bench/README.md). */
export const KEY_BYTES = 16;
/** Value size of every workload: 50 random bytes, then 50 bytes of one repeated letter. */
export const VALUE_BYTES = 100;
const RANDOM_VALUE_BYTES = 50;

/**
 * Writes the 16-byte key of `index` (`k` and 15 decimal digits) at `offset`. Stored keys use even
 * indexes (`2 * i`), so odd indexes are keys that are missing but inside the key range.
 */
export function writeKey(target: Buffer, offset: number, index: number): void {
  target[offset] = 0x6b; // 'k'
  let rest = index;
  for (let position = offset + KEY_BYTES - 1; position > offset; position--) {
    target[position] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/** A fresh 16-byte key buffer for `index`. */
export function keyOf(index: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES);
  writeKey(key, 0, index);
  return key;
}

/** A small, fast, seeded PRNG (xorshift32); deterministic per seed. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** An integer in `[0, bound)`. */
  below(bound: number): number {
    return Math.floor((this.nextU32() / 0x1_0000_0000) * bound);
  }
}

/** One batch of entries: keys and values are views into one fresh buffer (never reused). */
export interface Batch {
  readonly keys: Buffer[];
  readonly values: Buffer[];
}

/**
 * Builds the entries for `indexes[from..to)` (key `2 * index` each, so the stored keys are even).
 * Values are 50 pseudo-random bytes followed by 50 bytes of one letter, so about half compressible.
 */
export function makeBatch(
  indexes: ArrayLike<number>,
  from: number,
  to: number,
  random: Random,
  keyIndex: (index: number) => number = (index) => 2 * index,
): Batch {
  const count = to - from;
  const entryBytes = KEY_BYTES + VALUE_BYTES;
  const memory = Buffer.allocUnsafe(count * entryBytes);
  const keys = new Array<Buffer>(count);
  const values = new Array<Buffer>(count);
  for (let n = 0; n < count; n++) {
    const offset = n * entryBytes;
    const index = indexes[from + n] as number;
    writeKey(memory, offset, keyIndex(index));
    const valueOffset = offset + KEY_BYTES;
    for (let b = 0; b < RANDOM_VALUE_BYTES; b += 4) {
      const word = random.nextU32();
      memory[valueOffset + b] = word & 0xff;
      memory[valueOffset + b + 1] = (word >>> 8) & 0xff;
      if (b + 2 < RANDOM_VALUE_BYTES) {
        memory[valueOffset + b + 2] = (word >>> 16) & 0xff;
        memory[valueOffset + b + 3] = word >>> 24;
      }
    }
    memory.fill(0x61 + (index % 26), valueOffset + RANDOM_VALUE_BYTES, offset + entryBytes);
    keys[n] = memory.subarray(offset, valueOffset);
    values[n] = memory.subarray(valueOffset, offset + entryBytes);
  }
  return { keys, values };
}

/** `0 .. count-1` in order. */
export function sequentialOrder(count: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let index = 0; index < count; index++) order[index] = index;
  return order;
}

/** `0 .. count-1` shuffled (Fisher–Yates), each once. */
export function randomOrder(count: number, random: Random): Uint32Array {
  const order = sequentialOrder(count);
  for (let index = count - 1; index > 0; index--) {
    const other = random.below(index + 1);
    const swap = order[index] as number;
    order[index] = order[other] as number;
    order[other] = swap;
  }
  return order;
}
