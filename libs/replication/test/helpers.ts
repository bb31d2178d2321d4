import type { NatsConnection } from 'nats';
import type { Store } from '@strata/store';
import { LogPublisher, silentLogger } from '../src/index.js';
import type { ClusterNames, StreamIndex } from '../src/index.js';

/** A full scan as `key=value@seqno` strings. */
export async function scan(store: Store): Promise<string[]> {
  const out: string[] = [];
  for await (const item of store.range())
    out.push(`${item.key.toString()}=${item.value.toString()}@${item.seqno}`);
  return out;
}

/** Polls `check` every 20 ms until it holds; fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A publisher with small messages (many per test) and no step-down handling. */
export function testPublisher(
  store: Store,
  nc: NatsConnection,
  index: StreamIndex,
  names: ClusterNames,
  epoch: number,
): LogPublisher {
  return new LogPublisher(store, nc.jetstream(), index, {
    names,
    epoch,
    maxMessageBytes: 64 * 1024,
    maxInFlightMessages: 16,
    publishTimeoutMs: 5_000,
    logger: silentLogger,
    onFenced: () => undefined,
  });
}
