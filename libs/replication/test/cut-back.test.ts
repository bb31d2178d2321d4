import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { Store } from '@strata/store';
import { ClusterMeta, ReplicationNode, StreamIndex, clusterNames } from '../src/index.js';
import { scan, testPublisher, useLogStream, waitUntil } from './helpers.js';
import type { ReplicationLogger } from '../src/index.js';

const names = clusterNames('cut');
const MIB = 1024 * 1024;

describe('ReplicationNode: a deposed leader cuts its unreplicated tail back', function () {
  this.timeout(120_000);
  const stream = useLogStream(names, 'cut-back-');

  it('drops the entries the new leader never had, reports how many, and follows the new term', async () => {
    const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
    // The old leader (epoch 1) publishes 100 writes, then accepts 10 more that never leave it.
    const oldLeader = await Store.open(`${stream.dir.path}/a`, { sync: 'none' });
    const oldPublisher = testPublisher(oldLeader, stream.nc, index, names, 1);
    oldPublisher.start();
    for (let key = 1; key <= 100; key++) await oldLeader.put(`k${key}`, `old-${key}`);
    await oldPublisher.waitForPublished(100);
    await oldPublisher.stop();
    for (let key = 101; key <= 110; key++) await oldLeader.put(`k${key}`, `lost-${key}`);
    await oldLeader.close({ flushMemtable: false });

    // The new leader had the 100, opens epoch 2 and writes on.
    const newLeader = await Store.open(`${stream.dir.path}/b`, { sync: 'none' });
    const feed = await Store.open(`${stream.dir.path}/a`, { sync: 'none' });
    for await (const batch of feed.subscribe({ from: 1 })) {
      await newLeader.appendReplicated(batch.record);
      if (batch.lastSeqno === 100) break;
    }
    await feed.close({ flushMemtable: false });
    await newLeader.startEpoch(2);
    for (let key = 200; key < 205; key++) await newLeader.put(`k${key}`, `new-${key}`);
    const newPublisher = testPublisher(newLeader, stream.nc, index, names, 2);
    newPublisher.start();
    await newPublisher.waitForPublished(newLeader.lastSeqno);

    // The old leader comes back as a follower.
    const lines: string[] = [];
    const logger: ReplicationLogger = {
      info: () => undefined,
      warn: (_fields, message) => lines.push(message),
      error: (_fields, message) => lines.push(message),
    };
    await mkdir(`${stream.dir.path}/a`, { recursive: true });
    const meta = ClusterMeta.open(`${stream.dir.path}/a/meta.sqlite`, {
      cluster: 'cut',
      nodeId: 'a',
    });
    const node = await ReplicationNode.start({
      nats: stream.nc,
      cluster: 'cut',
      nodeId: 'a',
      url: 'http://a.invalid',
      dataDirectory: `${stream.dir.path}/a`,
      role: 'follower',
      meta,
      logger,
      openStore: () => Store.open(`${stream.dir.path}/a`, { sync: 'none' }),
    });
    await waitUntil(() => node.store.lastSeqno === newLeader.lastSeqno && node.store.epoch === 2);
    expect(node.status().droppedEntries).to.equal(10);
    expect(lines.some((line) => line.includes('dropped 10 log entries'))).to.equal(true);
    expect(await scan(node.store)).to.deep.equal(await scan(newLeader));
    expect(await node.store.get('k105')).to.equal(undefined);
    expect(await node.store.readRecord(101)).to.deep.equal(await newLeader.readRecord(101));
    await node.close();
    meta.close();
    await newPublisher.stop();
    await newLeader.close();
  });

  it('a leader fenced by a record of a lower epoch at its own seqno cuts its epoch start back and leads again after it', async () => {
    const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
    // A deposed leader (epoch 2) got its epoch start into the stream...
    const deposed = await Store.open(`${stream.dir.path}/a`, { sync: 'none' });
    await deposed.startEpoch(2);
    const deposedPublisher = testPublisher(deposed, stream.nc, index, names, 2);
    deposedPublisher.start();
    await deposedPublisher.waitForPublished(1);
    await deposedPublisher.stop();
    const streamRecord = await deposed.readRecord(1);
    await deposed.close();
    // ...after this node, which had taken the lease for epoch 3, wrote its own at seqno 1.
    const directory = `${stream.dir.path}/b`;
    const racer = await Store.open(directory, { sync: 'none' });
    await racer.startEpoch(3);
    await racer.close({ flushMemtable: false });

    await mkdir(directory, { recursive: true });
    const meta = ClusterMeta.open(`${directory}/meta.sqlite`, { cluster: 'cut', nodeId: 'b' });
    const node = await ReplicationNode.start({
      nats: stream.nc,
      cluster: 'cut',
      nodeId: 'b',
      url: 'http://b.invalid',
      dataDirectory: directory,
      role: 'leader',
      meta,
      openStore: () => Store.open(directory, { sync: 'none' }),
    });
    // Fenced at seqno 1, it drops its own epoch start, follows the stream's, and leads again.
    await waitUntil(() => node.role === 'leader' && node.status().droppedEntries >= 1);
    expect(await node.store.readRecord(1)).to.deep.equal(streamRecord);
    const { seqno } = await node.store.put('after', 'race');
    await waitUntil(() => (node.status().publishedSeqno ?? 0) >= seqno);
    expect((await index.tail()).last?.lastSeqno).to.equal(seqno);
    await node.close();
    meta.close();
  });

  it('a follower whose own record of a higher epoch never reached the stream cuts it back and follows (a leader that lost its lease right after its epoch start)', async () => {
    const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
    // The stream's leader (epoch 2) published its epoch start and five writes...
    const leader = await Store.open(`${stream.dir.path}/a`, { sync: 'none' });
    await leader.startEpoch(2);
    for (let key = 1; key <= 5; key++) await leader.put(`k${key}`, `v${key}`);
    const publisher = testPublisher(leader, stream.nc, index, names, 2);
    publisher.start();
    await publisher.waitForPublished(leader.lastSeqno);
    // ...while this node, leader of epoch 3 for a moment, wrote its own epoch start at seqno 1
    // and lost the lease before publishing it (no fencing report: it just steps down).
    const directory = `${stream.dir.path}/b`;
    const stale = await Store.open(directory, { sync: 'none' });
    await stale.startEpoch(3);
    await stale.close({ flushMemtable: false });

    await mkdir(directory, { recursive: true });
    const meta = ClusterMeta.open(`${directory}/meta.sqlite`, { cluster: 'cut', nodeId: 'b' });
    const node = await ReplicationNode.start({
      nats: stream.nc,
      cluster: 'cut',
      nodeId: 'b',
      url: 'http://b.invalid',
      dataDirectory: directory,
      role: 'follower',
      meta,
      openStore: () => Store.open(directory, { sync: 'none' }),
    });
    // It drops its epoch start (refusing the stream's records instead would go on forever).
    await waitUntil(() => node.store.lastSeqno === leader.lastSeqno);
    expect(node.status().droppedEntries).to.equal(1);
    expect(await node.store.readRecord(1)).to.deep.equal(await leader.readRecord(1));
    expect(await scan(node.store)).to.deep.equal(await scan(leader));
    await node.close();
    meta.close();
    await publisher.stop();
    await leader.close();
  });

  it('a deposed leader whose log is as long as the stream but differs does not campaign with it: it cuts back first, then may lead', async () => {
    const index = new StreamIndex(await stream.nc.jetstreamManager(), names, 64 * MIB);
    // The old leader (epoch 1) publishes 100 writes, then accepts 5 more that never leave it.
    const directory = `${stream.dir.path}/a`;
    const oldLeader = await Store.open(directory, { sync: 'none' });
    const oldPublisher = testPublisher(oldLeader, stream.nc, index, names, 1);
    oldPublisher.start();
    for (let key = 1; key <= 100; key++) await oldLeader.put(`k${key}`, `old-${key}`);
    await oldPublisher.waitForPublished(100);
    await oldPublisher.stop();
    for (let key = 101; key <= 105; key++) await oldLeader.put(`k${key}`, `lost-${key}`);
    await oldLeader.close({ flushMemtable: false });

    // The new leader had the 100, opened epoch 2 (seqno 101) and wrote 4 more: the stream ends
    // at seqno 105 too, with other records from 101 on. Then it went away, lease and all.
    const newLeader = await Store.open(`${stream.dir.path}/b`, { sync: 'none' });
    const feed = await Store.open(directory, { sync: 'none' });
    for await (const batch of feed.subscribe({ from: 1 })) {
      await newLeader.appendReplicated(batch.record);
      if (batch.lastSeqno === 100) break;
    }
    await feed.close({ flushMemtable: false });
    await newLeader.startEpoch(2);
    for (let key = 202; key <= 205; key++) await newLeader.put(`k${key}`, `new-${key}`);
    expect(newLeader.lastSeqno).to.equal(105);
    const newPublisher = testPublisher(newLeader, stream.nc, index, names, 2);
    newPublisher.start();
    await newPublisher.waitForPublished(105);
    await newPublisher.stop();

    // The old leader comes back free to campaign, and no one holds the lease.
    const meta = ClusterMeta.open(`${directory}/meta.sqlite`, { cluster: 'cut', nodeId: 'a' });
    const node = await ReplicationNode.start({
      nats: stream.nc,
      cluster: 'cut',
      nodeId: 'a',
      url: 'http://a.invalid',
      dataDirectory: directory,
      role: 'auto',
      meta,
      openStore: () => Store.open(directory, { sync: 'none' }),
    });
    try {
      await waitUntil(() => node.status().role === 'leader');
      // It leads with the stream's history, never its own seqnos 101-105.
      expect(node.status().droppedEntries).to.equal(5);
      expect(await node.store.readRecord(105)).to.deep.equal(await newLeader.readRecord(105));
      expect(await node.store.get('k103')).to.equal(undefined);
      expect(node.store.epoch).to.be.at.least(3);
    } finally {
      await node.close();
      meta.close();
      await newLeader.close();
    }
  });
});
