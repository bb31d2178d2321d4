import { expect } from 'chai';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { createTempDirectory, rejectionOf } from '@strata/testing';
import { Store } from '../src/index.js';
import type { RangeItem, StoreIterator } from '../src/index.js';

/*
 * What an abstract-level adapter needs of the store: createIfMissing / errorIfExists, explicit
 * snapshots that outlive the history window, seekable range reads, and range reads an
 * AbortSignal ends.
 */

function pairs(items: readonly RangeItem[]): string[] {
  return items.map((item) => `${item.key.toString()}=${item.value.toString()}`);
}

describe('store: open existence options, snapshots, seek, abort', function () {
  let dir: { path: string; remove(): Promise<void> };
  let store: Store | undefined;

  beforeEach(async () => {
    dir = await createTempDirectory('store-snapshot-seek-');
  });

  afterEach(async () => {
    await store?.close();
    store = undefined;
    await dir.remove();
  });

  describe('createIfMissing / errorIfExists', function () {
    it('createIfMissing: false refuses a missing store with NOT_FOUND and creates nothing', async () => {
      const path = join(dir.path, 'missing');
      const error = await rejectionOf(Store.open(path, { createIfMissing: false }));
      expect(error.code).to.equal('NOT_FOUND');
      expect(error.message).to.match(/does not exist/);
      expect(existsSync(path)).to.equal(false);
      // An empty directory holds no store either.
      const empty = await rejectionOf(Store.open(dir.path, { createIfMissing: false }));
      expect(empty.code).to.equal('NOT_FOUND');
      expect(readdirSync(dir.path)).to.deep.equal([]);
    });

    it('createIfMissing: false opens an existing store', async () => {
      store = await Store.open(dir.path);
      await store.put('k', 'v');
      await store.close();
      store = await Store.open(dir.path, { createIfMissing: false });
      expect((await store.get('k'))?.toString()).to.equal('v');
    });

    it('errorIfExists refuses an existing store with INVALID_ARGUMENT and leaves it as it was', async () => {
      store = await Store.open(dir.path, { errorIfExists: true });
      await store.put('k', 'v');
      await store.close();
      const error = await rejectionOf(Store.open(dir.path, { errorIfExists: true }));
      expect(error.code).to.equal('INVALID_ARGUMENT');
      expect(error.message).to.match(/exists/);
      // The lock was never taken: the store opens and holds its data.
      store = await Store.open(dir.path);
      expect((await store.get('k'))?.toString()).to.equal('v');
    });
  });

  describe('snapshot()', function () {
    it('reads the state it was taken at, whatever is written, flushed and compacted after', async () => {
      store = await Store.open(dir.path, { historyRetentionSeqnos: 2 });
      await store.put('a', '1');
      await store.put('b', '1');
      const snapshot = store.snapshot();
      expect(snapshot.seqno).to.equal(2);
      await store.put('a', '2');
      await store.delete('b');
      await store.put('c', '1');
      await store.deleteRange({ start: '', end: 'zz' });
      for (let index = 0; index < 10; index++) await store.put(`x${index}`, 'filler');
      await store.flush();
      await store.waitForBackgroundWork();
      // Far beyond the history window: an `at` read is refused, the snapshot still reads.
      expect(() => store!.range({ at: 2 }))
        .to.throw()
        .with.property('code', 'HISTORY_TRUNCATED');
      expect((await snapshot.get('a'))?.toString()).to.equal('1');
      expect((await snapshot.get('c'))?.toString()).to.equal(undefined);
      expect(pairs(await snapshot.range().all())).to.deep.equal(['a=1', 'b=1']);
      expect(pairs(await snapshot.range({ reverse: true, limit: 1 }).all())).to.deep.equal(['b=1']);
      expect(await store.get('a')).to.equal(undefined);
      snapshot.close();
      expect(snapshot.open).to.equal(false);
      expect((await rejectionOf(snapshot.get('a'))).code).to.equal('CLOSED');
      expect(() => snapshot.range())
        .to.throw()
        .with.property('code', 'CLOSED');
    });

    it('a range read from a snapshot goes on after the snapshot is closed; reads fail once the store closes', async () => {
      store = await Store.open(dir.path);
      await store.batch([
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: 'b', value: '2' },
      ]);
      const snapshot = store.snapshot();
      const range = snapshot.range({ seekable: true });
      snapshot.close();
      await store.put('a', 'changed');
      await store.flush();
      expect(pairs(await range.nextv(10))).to.deep.equal(['a=1', 'b=2']);
      range.seek('a');
      expect(pairs(await range.all())).to.deep.equal(['a=1', 'b=2']);
      const open = store.snapshot();
      await store.close();
      store = undefined;
      expect((await rejectionOf(open.get('a'))).code).to.equal('CLOSED');
    });
  });

  describe('seek()', function () {
    async function seeded(): Promise<Store> {
      const opened = await Store.open(dir.path);
      await opened.batch(
        ['a', 'b', 'c', 'd', 'e'].map((key) => ({ type: 'put' as const, key, value: key })),
      );
      return opened;
    }

    it('moves within the bounds, both ways, and can iterate again after the end', async () => {
      store = await seeded();
      const forward = store.range({ start: 'b', end: 'e', seekable: true });
      expect(pairs(await forward.nextv(10))).to.deep.equal(['b=b', 'c=c', 'd=d']);
      expect(await forward.nextv(10)).to.deep.equal([]);
      forward.seek('c');
      expect(pairs(await forward.nextv(10))).to.deep.equal(['c=c', 'd=d']);
      forward.seek('a'); // below the range: from its start
      expect((await forward.next())?.key.toString()).to.equal('b');
      forward.seek('e'); // at the exclusive end: nothing
      expect(await forward.next()).to.equal(undefined);
      forward.seek('c\u0000'); // between keys: the next one
      expect((await forward.next())?.key.toString()).to.equal('d');
      forward.close();

      const backward = store.range({ start: 'b', end: 'e', reverse: true, seekable: true });
      backward.seek('c');
      expect(pairs(await backward.nextv(10))).to.deep.equal(['c=c', 'b=b']);
      backward.seek('z'); // above the range: from its end
      expect((await backward.next())?.key.toString()).to.equal('d');
      backward.seek('a'); // below the range: nothing
      expect(await backward.next()).to.equal(undefined);
      backward.seek('c\u0000');
      expect((await backward.next())?.key.toString()).to.equal('c');
      backward.close();
      backward.seek('c'); // after close: nothing happens
      expect(await backward.next()).to.equal(undefined);
    });

    it('keeps the seqno it was opened at and counts the limit across seeks', async () => {
      store = await seeded();
      const range = store.range({ limit: 4, seekable: true });
      await store.put('aa', 'new');
      await store.delete('b');
      await store.flush();
      await store.waitForBackgroundWork();
      range.seek('a');
      expect(pairs(await range.nextv(3))).to.deep.equal(['a=a', 'b=b', 'c=c']);
      range.seek('a');
      expect(pairs(await range.nextv(3))).to.deep.equal(['a=a']);
      range.seek('a');
      expect(await range.nextv(3)).to.deep.equal([]);
      range.close();
    });

    it('is refused on a range opened without seekable, and while a read is in flight', async () => {
      store = await seeded();
      const plain = store.range();
      expect(() => plain.seek('a'))
        .to.throw()
        .with.property('code', 'INVALID_ARGUMENT');
      plain.close();
      const seekable = store.range({ seekable: true });
      const pending = seekable.nextv(2);
      expect(() => seekable.seek('a'))
        .to.throw()
        .with.property('code', 'INVALID_ARGUMENT');
      expect(pairs(await pending)).to.deep.equal(['a=a', 'b=b']);
      seekable.close();
    });
  });

  describe('signal', function () {
    it('an aborted signal fails reads with ABORTED, pending ones at once', async () => {
      store = await Store.open(dir.path);
      await store.put('a', '1');
      const controller = new AbortController();
      const range: StoreIterator = store.range({ signal: controller.signal, seekable: true });
      const pending = range.nextv(10);
      controller.abort(new Error('stop'));
      const error = await rejectionOf(pending);
      expect(error.code).to.equal('ABORTED');
      expect((error.cause as Error).message).to.equal('stop');
      expect((await rejectionOf(range.next())).code).to.equal('ABORTED');
      expect((await rejectionOf(range.all())).code).to.equal('ABORTED');

      const already = AbortSignal.abort();
      const late = store.range({ signal: already });
      expect((await rejectionOf(late.nextv(1))).code).to.equal('ABORTED');
      // The store closes: nothing the aborted reads held keeps it from closing.
    });

    it('a signal that does not abort changes nothing; a bad one is refused', async () => {
      store = await Store.open(dir.path);
      await store.put('a', '1');
      const controller = new AbortController();
      expect(pairs(await store.range({ signal: controller.signal }).all())).to.deep.equal(['a=1']);
      controller.abort();
      expect(() => store!.range({ signal: {} as AbortSignal }))
        .to.throw()
        .with.property('code', 'INVALID_ARGUMENT');
    });
  });
});
