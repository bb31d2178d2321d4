// Keys and values of the HTTP workloads: 16-byte keys (a letter and 15 digits, URL-safe as they
// are) and 100-byte ASCII values, 50 pseudo-random characters then 50 of one repeated letter,
// like the key-value benchmark's values (about half compressible).

/** Bytes of every value. */
export const VALUE_BYTES = 100;

/** The key of the `index`-th preloaded (`k`) or written (`p`) entry: 16 bytes. */
export function keyOf(prefix: 'k' | 'p', index: number): string {
  return prefix + String(index).padStart(15, '0');
}

/** A small deterministic generator (xorshift32), the same sequence for every contender. */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `count` distinct 100-byte values (ASCII, so they travel as UTF-8 strings in batch JSON). */
export function makeValues(count: number, seed = 42): string[] {
  const next = xorshift32(seed);
  const values: string[] = [];
  for (let index = 0; index < count; index++) {
    let text = '';
    for (let position = 0; position < VALUE_BYTES / 2; position++) {
      text += ALPHABET[next() % ALPHABET.length];
    }
    values.push(text + ALPHABET[index % 26]!.repeat(VALUE_BYTES / 2));
  }
  return values;
}
