import { expect } from 'chai';
import { Store } from '@strata/store';
import { LogFollower } from '../src/follower/log-follower.js';
import type { FollowerStop } from '../src/follower/log-follower.js';
import { silentLogger } from '../src/logger.js';
import { clusterNames } from '../src/names.js';
import { StreamIndex } from '../src/stream-index.js';
import { scan, testPublisher, useLogStream, waitUntil } from './helpers.js';

const names = clusterNames('t1');
const MIB = 1024 * 1024;

describe('LogPublisher and LogFollower over a real nats-server', function () {
  this.timeout(120_000);
  const stream = useLogStream(names, 'replication-');

  it('a follower converges with the leader: same seqnos, same bytes, same scan', async () => {
    const leader = await Store.open(`${stream.dir.path}/leader`, { sync: 'none' });
    const follower = await Store.open(`${stream.dir.path}/follower`, { sync: 'none' });
    const jsm = await stream.nc.jetstreamManager();
    const index = new StreamIndex(jsm, names, 64 * MIB);
    const publisher = testPublisher(leader, stream.nc, index, names, 1);
    const stops: FollowerStop[] = [];
    const applier = new LogFollower(follower, stream.nc.jetstream(), index, {
      names,
      maxMessageBytes: 512 * 1024,
      maxRecordBytes: 64 * MIB,
      maxPendingRecords: 1024,
      maxBufferedMessages: 16,
      logger: silentLogger,
      onStop: (reason) => stops.push(reason),
    });
    publisher.start();
    applier.start(1);
    const writes: Promise<unknown>[] = [];
    for (let index = 0; index < 5_000; index++) {
      if (index % 10 === 0)
        writes.push(
          leader.batch([
            { type: 'put', key: `b${index}`, value: 'x' },
            { type: 'delete', key: `k${index - 1}` },
          ]),
        );
      else writes.push(leader.put(`k${index}`, `v${index}`));
    }
    await Promise.all(writes);
    await waitUntil(() => follower.lastSeqno === leader.lastSeqno).catch((error: unknown) => {
      throw error;
    });
    expect(await scan(follower)).to.deep.equal(await scan(leader));
    expect(await follower.readRecord(leader.lastSeqno)).to.deep.equal(
      await leader.readRecord(leader.lastSeqno),
    );
    expect(publisher.stats().publishedSeqno).to.equal(leader.lastSeqno);
    expect(publisher.stats().messages).to.be.below(5_000);

    // Forged messages: refused, data intact, replication goes on.
    const js = stream.nc.jetstream();
    const refusedBefore = applier.stats().refusedMessages;
    await js.publish(names.logSubject, Buffer.from('garbage bytes, not a record'));
    const good = (await leader.readRecord(leader.lastSeqno)) as Buffer;
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 0xff;
    await js.publish(names.logSubject, flipped);
    await publisher.stop();
    await leader.put('after', 'forgery');
    // A record larger than a message travels in parts.
    await leader.put('big', Buffer.alloc(3 * MIB, 7));
    const fresh = testPublisher(leader, stream.nc, index, names, 1);
    fresh.start();
    await waitUntil(() => follower.lastSeqno === leader.lastSeqno);
    expect(applier.stats().refusedMessages).to.equal(refusedBefore + 2);
    expect(await scan(follower)).to.deep.equal(await scan(leader));
    expect(stops).to.deep.equal([]);
    expect(await follower.get('big')).to.deep.equal(Buffer.alloc(3 * MIB, 7));
    expect(fresh.stats().publishedSeqno).to.equal(leader.lastSeqno);

    // Well-formed records that do not fit: a lower epoch, a gap, an oversized message. A new
    // term first, so the follower's epoch is 2.
    await leader.startEpoch(2);
    await waitUntil(() => follower.lastSeqno === leader.lastSeqno && follower.epoch === 2);
    await fresh.stop();
    const next = leader.lastSeqno + 1;
    const refusedBeforeForgery = applier.stats().refusedMessages;
    const lastBeforeForgery = follower.lastSeqno;
    // A store of its own makes well-formed records: epoch 1 at the follower's next seqno...
    const forger = await Store.open(`${stream.dir.path}/forger`, { sync: 'none' });
    for (let seqno = 1; seqno <= next; seqno++) await forger.put(`f${seqno}`, 'forged');
    await js.publish(names.logSubject, await forger.readRecord(next));
    // ...epoch 3 a hundred seqnos ahead (a gap)...
    await forger.startEpoch(3);
    for (let count = 0; count < 100; count++) await forger.put(`g${count}`, 'gap');
    await js.publish(names.logSubject, await forger.readRecord(forger.lastSeqno));
    // ...and a message above the follower's size limit.
    await js.publish(names.logSubject, Buffer.alloc(600 * 1024, 1));
    await waitUntil(() => applier.stats().refusedMessages === refusedBeforeForgery + 3);
    expect(follower.lastSeqno).to.equal(lastBeforeForgery);
    expect(await scan(follower)).to.deep.equal(await scan(leader));
    expect(applier.stats().lastRefusal).to.match(/above the limit/);
    await forger.close();
    await applier.stop();
    await leader.close();
    await follower.close();
  });
});
