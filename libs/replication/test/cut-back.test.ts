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
});
