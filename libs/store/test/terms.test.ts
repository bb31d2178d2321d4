import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { LogOp, Wal } from '@strata/wal';
import { Store } from '../src/index.js';
import { rangeStrings, rejectionOf } from './helpers.js';

describe('Store: leadership terms and log cut-back', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await createTempDirectory('store-terms-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('startEpoch appends an epoch-start record that takes a seqno and changes no key', async () => {
    const store = await Store.open(dir.path, { sync: 'none' });
    await store.put('a', '1');
    expect(await store.startEpoch(2)).to.deep.equal({ seqno: 2, epoch: 2 });
    expect(await store.put('b', '2')).to.deep.equal({ seqno: 3, epoch: 2 });
    expect((await rejectionOf(store.startEpoch(2))).code).to.equal('STALE_EPOCH');
    const feed = store.subscribe({ from: 1 });
    const batches = [];
    for await (const batch of feed) {
      batches.push(batch);
      if (batches.length === 3) break;
    }
    expect(
      batches.map((batch) => [batch.firstSeqno, batch.epoch, batch.entries[0]?.op]),
    ).to.deep.equal([
      [1, 1, LogOp.Put],
      [2, 2, LogOp.EpochStart],
      [3, 2, LogOp.Put],
    ]);
    expect(await rangeStrings(store)).to.deep.equal(['a=1', 'b=2']);
    await store.close({ flushMemtable: false });
    const reopened = await Store.open(dir.path, { sync: 'none' });
    expect(reopened.epoch).to.equal(2);
    expect(reopened.lastSeqno).to.equal(3);
    expect(await rangeStrings(reopened)).to.deep.equal(['a=1', 'b=2']);
    await reopened.close();
  });

  it('a replicated epoch-start record is applied like the leader wrote it', async () => {
    const leader = await Store.open(`${dir.path}/leader`, { sync: 'none' });
    const follower = await Store.open(`${dir.path}/follower`, { sync: 'none' });
    await leader.put('a', '1');
    await leader.startEpoch(5);
    await leader.put('a', '2');
    for await (const batch of leader.subscribe({ from: 1 })) {
      await follower.appendReplicated(batch.record);
      if (batch.lastSeqno === 3) break;
    }
    expect(follower.epoch).to.equal(5);
    expect(follower.lastSeqno).to.equal(3);
    expect((await follower.get('a'))?.toString()).to.equal('2');
    await leader.close();
    await follower.close();
  });

  it('a replicated range delete, written by another log, is applied: covered keys read as absent', async () => {
    const source = await Wal.open(`${dir.path}/source`, { sync: 'none' });
    const puts = await source.append({
      epoch: 1,
      firstSeqno: 1,
      entries: [
        { op: LogOp.Put, key: Buffer.from('a1'), value: Buffer.from('x') },
        { op: LogOp.Put, key: Buffer.from('b'), value: Buffer.from('y') },
      ],
    });
    const rangeDelete = await source.append({
      epoch: 1,
      firstSeqno: 3,
      entries: [{ op: LogOp.DeleteRange, key: Buffer.from('a'), value: Buffer.from('b') }],
    });
    const records = [Buffer.from(puts.bytes), Buffer.from(rangeDelete.bytes)];
    await source.close();
    const store = await Store.open(`${dir.path}/store`, { sync: 'none' });
    for (const record of records) await store.appendReplicated(record);
    expect(store.lastSeqno).to.equal(3);
    expect(await store.get('a1')).to.equal(undefined);
    expect((await store.get('b'))?.toString()).to.equal('y');
    expect((await store.get('a1', { at: 2 }))?.toString()).to.equal('x');
    await store.close();
  });

  it('truncateLog cuts unflushed writes back and the store reopens at the cut', async () => {
    const store = await Store.open(dir.path, { sync: 'none' });
    for (let index = 1; index <= 10; index++) await store.put(`k${index}`, `v${index}`);
    await store.close({ flushMemtable: false });
    expect(await Store.truncateLog(dir.path, 6)).to.deep.equal({
      droppedFromSeqno: 7,
      droppedEntries: 4,
    });
    const reopened = await Store.open(dir.path, { sync: 'none' });
    expect(reopened.lastSeqno).to.equal(6);
    expect(await reopened.get('k6')).to.deep.equal(Buffer.from('v6'));
    expect(await reopened.get('k7')).to.equal(undefined);
    expect(await reopened.put('next', 'x')).to.deep.equal({ seqno: 7, epoch: 1 });
    await reopened.close();
  });

  it('truncateLog refuses a cut below what the tree already flushed (DIVERGED)', async () => {
    const store = await Store.open(dir.path, { sync: 'none' });
    for (let index = 1; index <= 10; index++) await store.put(`k${index}`, `v${index}`);
    await store.close({ flushMemtable: true });
    const error = await rejectionOf(Store.truncateLog(dir.path, 6));
    expect(error.code).to.equal('DIVERGED');
    expect(error.details).to.deep.include({ flushedSeqno: 10, lastKeptSeqno: 6 });
    const reopened = await Store.open(dir.path, { sync: 'none' });
    expect(reopened.lastSeqno).to.equal(10);
    await reopened.close();
  });

  it('truncateLog on a directory held by an open store fails with LOCKED', async () => {
    const store = await Store.open(dir.path, { sync: 'none' });
    await store.put('a', '1');
    expect((await rejectionOf(Store.truncateLog(dir.path, 0))).code).to.equal('LOCKED');
    await store.close();
  });
});
