/**
 * A small deterministic random source (mulberry32) for reproducible fault and crash schedules.
 * Not for cryptography.
 *
 * @example
 * ```ts
 * const random = seededRandom(7);
 * random(); // always the same first value for seed 7
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
