import type { Store } from '../src/index.js';

/** Collects a range read as `key=value` strings. */
export async function rangeStrings(
  store: Store,
  options: Parameters<Store['range']>[0] = {},
): Promise<string[]> {
  const out: string[] = [];
  for await (const item of store.range(options))
    out.push(`${item.key.toString()}=${item.value.toString()}`);
  return out;
}

export { rejectionOf } from '@strata/testing';

/** Takes `count` batches from a change feed, as `firstSeqno:key,key` strings. */
export async function takeBatches(
  feed: AsyncGenerator<{ firstSeqno: number; entries: readonly { key: Uint8Array }[] }>,
  count: number,
): Promise<string[]> {
  const out: string[] = [];
  if (count === 0) return out;
  for await (const batch of feed) {
    out.push(
      `${batch.firstSeqno}:${batch.entries.map((entry) => Buffer.from(entry.key).toString()).join(',')}`,
    );
    if (out.length >= count) break;
  }
  return out;
}

/**
 * Resolves once `check()` holds, polling it between turns of the event loop; fails naming `what`
 * after `timeoutMs` (a bound for a broken build, not a timing assertion).
 */
export async function waitUntil(
  check: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
