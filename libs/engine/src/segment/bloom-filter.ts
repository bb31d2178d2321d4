import { corruptionError } from '@strata/core';

/**
 * A 32-bit hash of a key (FNV-1a folded through the murmur3 finalizer). Double hashing derives
 * every probe from it, as LevelDB does.
 */
export function hashKey(key: Uint8Array): number {
  return hashKeyRange(key, 0, key.length);
}

/** {@link hashKey} of the key `bytes[start, start + length)`, without a view of it. */
export function hashKeyRange(bytes: Uint8Array, start: number, length: number): number {
  let h = 0x811c9dc5;
  const end = start + length;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Collects key hashes while a segment is written; {@link finish} lays out the bit array. */
export class BloomFilterBuilder {
  private hashes = new Uint32Array(1024);
  private count = 0;

  constructor(private readonly bitsPerKey: number) {}

  /** Adds the distinct key `bytes[start, start + length)`. */
  addFrom(bytes: Uint8Array, start: number, length: number): void {
    this.addHash(hashKeyRange(bytes, start, length));
  }

  private addHash(hash: number): void {
    if (this.count === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.count++] = hash;
  }

  /** `[u8 probes][u32 bitCount][bits]`; `undefined` when filters are disabled. */
  finish(): Buffer | undefined {
    if (this.bitsPerKey === 0) return undefined;
    const probes = Math.max(1, Math.min(30, Math.round(this.bitsPerKey * Math.LN2)));
    const bitCount = Math.max(64, this.count * this.bitsPerKey);
    const bytes = Math.ceil(bitCount / 8);
    const out = Buffer.alloc(5 + bytes);
    out[0] = probes;
    out.writeUInt32LE(bytes * 8, 1);
    const bits = out.subarray(5);
    const n = bytes * 8;
    const hashes = this.hashes;
    for (let i = 0; i < this.count; i++) {
      let h = hashes[i]!;
      const delta = ((h >>> 17) | (h << 15)) >>> 0;
      for (let p = 0; p < probes; p++) {
        // Both operands coerced to uint32 in the loop itself, so that even on-stack-replaced code
        // (this runs once per segment, so it is rarely optimized otherwise) divides integers:
        // a floating-point modulo per probe made this loop 3-4x slower.
        const bit = (h >>> 0) % (n >>> 0);
        bits[bit >>> 3] = bits[bit >>> 3]! | (1 << (bit & 7));
        h = (h + delta) >>> 0;
      }
    }
    return out;
  }
}

/** A decoded bloom filter: `mayContain` is false only for keys certainly absent. */
export class BloomFilter {
  private constructor(
    private readonly probes: number,
    private readonly bitCount: number,
    private readonly bits: Buffer,
  ) {}

  get sizeBytes(): number {
    return this.bits.length;
  }

  mayContain(key: Uint8Array): boolean {
    return this.mayContainHash(hashKey(key));
  }

  /**
   * {@link mayContain} for a key whose {@link hashKey} is already known: a point lookup hashes its
   * key once for every segment it consults.
   */
  mayContainHash(hash: number): boolean {
    let h = hash;
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    const n = this.bitCount;
    const bits = this.bits;
    for (let p = 0; p < this.probes; p++) {
      // Both operands as uint32: an integer modulo, not a floating-point one (as in finish).
      const bit = (h >>> 0) % (n >>> 0);
      if ((bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
      h = (h + delta) >>> 0;
    }
    return true;
  }

  static decode(data: Buffer, file: string, offset: number): BloomFilter {
    if (data.length < 5) throw corruptionError(file, offset, 'bloom filter too short');
    const probes = data[0]!;
    const bitCount = data.readUInt32LE(1);
    if (probes === 0 || probes > 30 || bitCount !== (data.length - 5) * 8 || bitCount === 0) {
      throw corruptionError(file, offset, 'bloom filter header is inconsistent');
    }
    return new BloomFilter(probes, bitCount, data.subarray(5));
  }
}
