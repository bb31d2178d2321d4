import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { Events } from 'nats';
import type { NatsConnection } from 'nats';
import { rejectionOf, startNatsCluster } from '@strata/testing';
import type { NatsClusterHandle } from '@strata/testing';
import { connectToNats, natsServerList } from '../src/index.js';
import { NATS_CONNECT_TIMEOUT_MS, NATS_PING_INTERVAL_MS } from '../src/settings.js';

describe('connectToNats', function () {
  this.timeout(120_000);
  let cluster: NatsClusterHandle | undefined;
  let nc: NatsConnection | undefined;

  afterEach(async () => {
    await nc?.close().catch(() => undefined);
    nc = undefined;
    await cluster?.stop();
    cluster = undefined;
  });

  it('takes every URL of a comma-separated list; none is INVALID_ARGUMENT', async () => {
    expect(natsServerList(' nats://a:4222, nats://b:4222,,nats://c:4222, ')).to.deep.equal([
      'nats://a:4222',
      'nats://b:4222',
      'nats://c:4222',
    ]);
    const none = await rejectionOf(Promise.resolve().then(() => natsServerList(' , ')));
    expect(none.code).to.equal('INVALID_ARGUMENT');
  });

  it('moves to another server of its list when its own dies; JetStream answers through it', async () => {
    cluster = await startNatsCluster();
    nc = await connectToNats(cluster.url, 'strata-test');
    const own = nc.info?.server_name;
    expect(cluster.servers.map((server) => server.name)).to.include(own);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'MOVE', subjects: ['move'], num_replicas: 3 });

    // Subscribe to the status events before the kill, so the reconnect cannot be missed.
    const reconnected = (async () => {
      for await (const status of nc.status()) {
        if (status.type === Events.Reconnect)
          return typeof status.data === 'string' ? status.data : '';
      }
      return 'closed';
    })();
    await cluster.member(own!).kill();
    const to = await reconnected;
    expect(nc.isClosed()).to.equal(false);
    expect(nc.info?.server_name).to.not.equal(own);
    expect(cluster.urls.map((url) => url.replace('nats://', ''))).to.include(to);
    // JetStream answers through the new server (an R3 stream survives one server).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const info = await jsm.streams.info('MOVE').catch(() => undefined);
      if (info?.cluster?.leader !== undefined && info.cluster.leader !== own) break;
      if (Date.now() > deadline) throw new Error('MOVE has no leader on a live server');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ack = await nc.jetstream().publish('move', Buffer.from('after the move'));
    expect(ack.seq).to.equal(1);
  });

  it('leaves a server that stops answering without closing the connection within seconds (ping interval, connect timeout)', async () => {
    cluster = await startNatsCluster();
    nc = await connectToNats(cluster.url, 'strata-test');
    const own = cluster.member(nc.info!.server_name);
    const reconnected = (async () => {
      for await (const status of nc.status()) {
        if (status.type === Events.Reconnect) return performance.now();
      }
      return Number.NaN;
    })();
    // Frozen: its sockets stay open and nothing is answered, as behind a network partition.
    await own.pause();
    const frozenAt = performance.now();
    const movedAfterMs = (await reconnected) - frozenAt;
    expect(nc.info?.server_name).to.not.equal(own.name);
    // Three ping intervals to call it stale, perhaps one connect timeout on it again, then a
    // live server (nats.js's defaults: 4 to 6 minutes, then 20 s per attempt on it).
    expect(movedAfterMs).to.be.at.most(3 * NATS_PING_INTERVAL_MS + NATS_CONNECT_TIMEOUT_MS + 2_000);
    own.resume();
  });
});
