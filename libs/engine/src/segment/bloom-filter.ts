import { corruptionError } from '@strata/core';

/**
 * A 32-bit hash of a key (FNV-1a folded through the murmur3 finalizer). Double hashing derives
 * every probe from it, as LevelDB does.
 */
export function hashKey(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
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

  /** Adds a distinct key. */
  add(key: Uint8Array): void {
    if (this.count === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.count++] = hashKey(key);
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
    for (let i = 0; i < this.count; i++) {
      let h = this.hashes[i]!;
      const delta = ((h >>> 17) | (h << 15)) >>> 0;
      for (let p = 0; p < probes; p++) {
        const bit = h % n;
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
      const bit = h % n;
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
