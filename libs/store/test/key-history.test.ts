import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import type { KeyVersion } from '../src/index.js';
import { rejectionOf } from './helpers.js';

const summary = (versions: KeyVersion[]) =>
  versions.map((version) => `${version.seqno}:${version.type}:${version.value?.toString() ?? ''}`);

describe('Store: key history', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await createTempDirectory('store-history-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('lists puts and deletes newest first with timestamps, a page at a time, across flushes and a reopen', async () => {
    let store = await Store.open(dir.path);
    const startedMs = Date.now();
    await store.put('k', 'v1'); // 1
    await store.put('other', 'x'); // 2
    await store.put('k', 'v3'); // 3
    await store.flush();
    await store.delete('k'); // 4
    await store.put('k', 'v5'); // 5
    await store.close();
    store = await Store.open(dir.path);
    try {
      const all = await store.history('k');
      expect(summary(all.versions)).to.deep.equal([
        '5:put:v5',
        '4:delete:',
        '3:put:v3',
        '1:put:v1',
      ]);
      expect(all.nextBefore).to.equal(undefined);
      expect(all.truncated).to.equal(false);
      for (const version of all.versions) {
        expect(version.timestampMs).to.be.within(startedMs - 1000, Date.now());
      }
      const first = await store.history('k', { limit: 2 });
      expect(summary(first.versions)).to.deep.equal(['5:put:v5', '4:delete:']);
      expect(first.nextBefore).to.equal(4);
      const second = await store.history('k', { limit: 2, before: first.nextBefore });
      expect(summary(second.versions)).to.deep.equal(['3:put:v3', '1:put:v1']);
      expect(second.nextBefore).to.equal(undefined);
      expect((await store.history('never')).versions).to.deep.equal([]);
      expect((await rejectionOf(store.history('k', { before: 7 }))).code).to.equal('FUTURE_SEQNO');
      expect((await rejectionOf(store.history('k', { limit: 0 }))).code).to.equal(
        'INVALID_ARGUMENT',
      );
      expect((await rejectionOf(store.history('k', { limit: 1001 }))).code).to.equal(
        'INVALID_ARGUMENT',
      );
    } finally {
      await store.close();
    }
  });

  it('stops at the history window: HISTORY_TRUNCATED below it, truncated at its edge', async () => {
    const store = await Store.open(dir.path, { historyRetentionSeqnos: 10 });
    try {
      for (let index = 1; index <= 50; index++) await store.put('k', `v${index}`);
      await store.flush();
      const oldest = store.oldestReadableSeqno;
      expect(oldest).to.be.above(1);
      const page = await store.history('k', { limit: 1000 });
      expect(page.truncated).to.equal(true);
      expect(page.oldestReadableSeqno).to.equal(oldest);
      expect(page.versions[0]?.seqno).to.equal(50);
      // Every version from the floor up, exact; then the one the floor sees, and no older.
      const seqnos = page.versions.map((version) => version.seqno);
      const last = seqnos[seqnos.length - 1] as number;
      expect(last).to.be.at.most(oldest);
      expect(seqnos).to.deep.equal(Array.from({ length: 50 - last + 1 }, (_, index) => 50 - index));
      const error = await rejectionOf(store.history('k', { before: oldest }));
      expect(error.code).to.equal('HISTORY_TRUNCATED');
      expect(error.details).to.deep.include({ oldestReadableSeqno: oldest });
    } finally {
      await store.close();
    }
  });
});
