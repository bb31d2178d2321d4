import { connect } from 'nats';
import type { NatsConnection } from 'nats';
import type { Store } from '@strata/store';
import { createTempDirectory, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { LogPublisher, ensureLogStream, silentLogger } from '../src/index.js';
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

/** What {@link useLogStream} gives each test. */
export interface LogStreamFixture {
  /** This test's nats-server (to pause or kill it). */
  readonly server: NatsServerHandle;
  /** A connection to this test's nats-server. */
  readonly nc: NatsConnection;
  /** This test's temporary directory. */
  readonly dir: { readonly path: string };
}

/**
 * Registers per-test setup in the calling `describe`: a real nats-server with JetStream on a free
 * port, a connection, a temporary directory and the cluster's log stream (1 MiB messages); all
 * stopped and removed after each test.
 */
export function useLogStream(names: ClusterNames, tempPrefix: string): LogStreamFixture {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  let dir: { path: string; remove(): Promise<void> } | undefined;
  beforeEach(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    dir = await createTempDirectory(tempPrefix);
    await ensureLogStream(await nc.jetstreamManager(), names, { maxMessageBytes: 1024 * 1024 });
  });
  afterEach(async () => {
    await nc?.close();
    await server?.stop();
    await dir?.remove();
  });
  return {
    get server(): NatsServerHandle {
      if (server === undefined) throw new Error('useLogStream: no test is running');
      return server;
    },
    get nc(): NatsConnection {
      if (nc === undefined) throw new Error('useLogStream: no test is running');
      return nc;
    },
    get dir(): { readonly path: string } {
      if (dir === undefined) throw new Error('useLogStream: no test is running');
      return dir;
    },
  };
}
