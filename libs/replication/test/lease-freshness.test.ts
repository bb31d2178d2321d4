import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { connect } from 'nats';
import type { NatsConnection } from 'nats';
import { isStrataError } from '@strata/core';
import { Store } from '@strata/store';
import { createTempDirectory, startNatsServer } from '@strata/testing';
import type { NatsServerHandle } from '@strata/testing';
import { ClusterMeta, ReplicationNode } from '../src/index.js';
import { LEASE_STEP_DOWN_FRACTION } from '../src/settings.js';
import { waitUntil } from './helpers.js';

describe('ReplicationNode: a leader whose lease renewal hangs', function () {
  this.timeout(60_000);
  let server: NatsServerHandle;
  let dir: { path: string; remove(): Promise<void> };
  let nc: NatsConnection | undefined;
  let meta: ClusterMeta | undefined;
  let node: ReplicationNode | undefined;

  beforeEach(async () => {
    server = await startNatsServer();
    dir = await createTempDirectory('lease-freshness-');
  });
  afterEach(async () => {
    server.resume();
    await node?.close().catch(() => undefined);
    meta?.close();
    await nc?.close().catch(() => undefined);
    await server.stop();
    await dir.remove();
  });

  it('refuses writes (NOT_LEADER) once its lease is older than the share a leader may use, before the renewal fails', async () => {
    const leaseTtlMs = 1_000;
    nc = await connect({ servers: server.url });
    const dataDirectory = `${dir.path}/a`;
    await mkdir(dataDirectory, { recursive: true });
    meta = ClusterMeta.open(`${dataDirectory}/meta.sqlite`, { cluster: 'c1', nodeId: 'a' });
    node = await ReplicationNode.start({
      nats: nc,
      cluster: 'c1',
      nodeId: 'a',
      url: 'http://a.invalid',
      dataDirectory,
      role: 'auto',
      meta,
      leaseTtlMs,
      openStore: () => Store.open(dataDirectory, { sync: 'always' }),
    });
    const leader = node;
    await waitUntil(() => leader.role === 'leader');
    leader.assertAcceptsWrites();

    // A frozen server answers nothing: the renewal waits for its request timeout (seconds),
    // far beyond the lease. Every renewal the node counts was sent before this point.
    await server.pause();
    const pausedAtMs = Date.now();
    let refusal: unknown;
    await waitUntil(() => {
      try {
        leader.assertAcceptsWrites();
        return false;
      } catch (error) {
        refusal = error;
        return true;
      }
    }, 10_000);
    const refusedAfterMs = Date.now() - pausedAtMs;
    expect(isStrataError(refusal, 'NOT_LEADER'), String(refusal)).to.equal(true);
    expect((refusal as Error).message).to.include('lease was last renewed');
    // Within the lease: at most the step-down share of it after the last renewal sent.
    expect(refusedAfterMs).to.be.at.most(leaseTtlMs * LEASE_STEP_DOWN_FRACTION + 100);

    // Once the server answers again the node leads and takes writes again.
    server.resume();
    await waitUntil(() => {
      try {
        leader.assertAcceptsWrites();
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    await leader.store.put('after', 'resume');
  });
});
