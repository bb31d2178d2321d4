import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import { rangeStrings, rejectionOf } from './helpers.js';

describe('Store: range deletes', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await createTempDirectory('store-range-delete-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('deletes a prefix with one seqno; older reads still see the keys; later puts are visible; it survives replay and flush', async () => {
    let store = await Store.open(dir.path);
    for (let index = 0; index < 100; index++) await store.put(`s/${index}`, `v${index}`);
    await store.put('t/keep', 'kept');
    await store.flush(); // half of the covered keys in a segment...
    for (let index = 100; index < 200; index++) await store.put(`s/${index}`, `v${index}`); // ...half in the memtable
    const before = store.lastSeqno;
    const { seqno } = await store.deleteRange({ prefix: 's/' });
    expect(seqno).to.equal(before + 1);
    expect(await store.get('s/7')).to.equal(undefined);
    expect(await store.get('s/150')).to.equal(undefined);
    expect(await rangeStrings(store, { prefix: 's/' })).to.deep.equal([]);
    expect(await rangeStrings(store, { prefix: 't/' })).to.deep.equal(['t/keep=kept']);
    expect((await store.get('s/7', { at: before }))?.toString()).to.equal('v7');
    expect(await rangeStrings(store, { prefix: 's/', at: before })).to.have.length(200);
    await store.put('s/7', 'back');
    expect((await store.get('s/7'))?.toString()).to.equal('back');
    const history = await store.history('s/8');
    expect(history.versions.map((version) => [version.seqno, version.type])).to.deep.equal([
      [seqno, 'delete'],
      [9, 'put'],
    ]);
    // Reopen without a flush: the range delete comes back from the log.
    await store.close({ flushMemtable: false });
    store = await Store.open(dir.path);
    expect(await store.get('s/150')).to.equal(undefined);
    expect((await store.get('s/7'))?.toString()).to.equal('back');
    expect(await rangeStrings(store, { prefix: 's/' })).to.deep.equal(['s/7=back']);
    await store.flush();
    await store.close();
    store = await Store.open(dir.path);
    expect(await rangeStrings(store, { prefix: 's/' })).to.deep.equal(['s/7=back']);
    expect((await store.get('s/150', { at: before }))?.toString()).to.equal('v150');
    await store.close();
  });

  it('start/end ranges, batch ops, conditional checks, and bad ranges', async () => {
    const store = await Store.open(dir.path);
    try {
      await store.batch(['a', 'b', 'c', 'd'].map((key) => ({ type: 'put', key, value: key })));
      const result = await store.batch([
        { type: 'deleteRange', start: 'b', end: 'd' },
        { type: 'put', key: 'c', value: 'new' },
      ]);
      expect(await rangeStrings(store, {})).to.deep.equal(['a=a', 'c=new', 'd=d']);
      // A key a range delete covers is at version 0; a prefix check sees the range delete.
      await store.put('b', 'again', { ifSeqno: 0 });
      const conflict = await rejectionOf(
        store.batch([{ type: 'put', key: 'x', value: 'y' }], {
          checks: [{ prefix: 'c', noWritesAfter: result.firstSeqno - 1 }],
        }),
      );
      expect(conflict.code).to.equal('CONFLICT');
      for (const bad of [
        store.deleteRange({ start: 'b', end: 'b' }),
        store.deleteRange({ start: 'z', end: 'a' }),
        store.deleteRange({ prefix: Buffer.from([0xff, 0xff]) }),
        store.deleteRange({ prefix: 'a', start: 'a', end: 'b' } as never),
      ]) {
        expect((await rejectionOf(bad)).code).to.equal('INVALID_ARGUMENT');
      }
    } finally {
      await store.close();
    }
  });

  it('a follower applies a replicated range delete', async () => {
    const leader = await Store.open(`${dir.path}/leader`);
    const follower = await Store.open(`${dir.path}/follower`);
    try {
      await leader.put('p/1', 'a');
      await leader.put('p/2', 'b');
      await leader.deleteRange({ prefix: 'p/' });
      for (let seqno = 1; seqno <= leader.lastSeqno; seqno++) {
        const record = await leader.readRecord(seqno);
        await follower.appendReplicated(record as Buffer);
      }
      expect(follower.lastSeqno).to.equal(3);
      expect(await rangeStrings(follower, { prefix: 'p/' })).to.deep.equal([]);
      expect((await follower.get('p/2', { at: 2 }))?.toString()).to.equal('b');
    } finally {
      await leader.close();
      await follower.close();
    }
  });
});
