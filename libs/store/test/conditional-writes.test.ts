import { expect } from 'chai';
import { isStrataError } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import type { Conflict } from '../src/index.js';

/** The CONFLICT a promise rejects with (fails the test for anything else). */
async function conflictOf(promise: Promise<unknown>): Promise<Conflict[]> {
  try {
    await promise;
  } catch (error) {
    if (isStrataError(error, 'CONFLICT')) {
      return error.details.conflicts as Conflict[];
    }
    throw error;
  }
  expect.fail('the write was not refused');
}

describe('Store: conditional writes', () => {
  let dir: { path: string; remove(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await createTempDirectory('store-conditional-');
    store = await Store.open(dir.path);
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  it('ifSeqno 0 creates a key only if it is absent; a refused write takes no seqno and writes nothing', async () => {
    const created = await store.put('k', 'first', { ifSeqno: 0 });
    expect(created.seqno).to.equal(1);
    const conflicts = await conflictOf(store.put('k', 'second', { ifSeqno: 0 }));
    expect(conflicts).to.deep.equal([
      { kind: 'key', key: Buffer.from('k'), expectedSeqno: 0, actualSeqno: 1 },
    ]);
    expect(store.lastSeqno).to.equal(1);
    expect((await store.get('k'))?.toString()).to.equal('first');
    expect((await store.put('other', 'x')).seqno).to.equal(2);
  });

  it('a put or delete with the current version succeeds; a stale one is refused; a deleted key is at version 0', async () => {
    const { seqno: v1 } = await store.put('k', 'a');
    const { seqno: v2 } = await store.put('k', 'b', { ifSeqno: v1 });
    expect(v2).to.equal(v1 + 1);
    expect(await conflictOf(store.put('k', 'c', { ifSeqno: v1 }))).to.deep.equal([
      { kind: 'key', key: Buffer.from('k'), expectedSeqno: v1, actualSeqno: v2 },
    ]);
    expect(await conflictOf(store.delete('k', { ifSeqno: v1 }))).to.have.length(1);
    await store.delete('k', { ifSeqno: v2 });
    expect(await store.get('k')).to.equal(undefined);
    expect(await conflictOf(store.put('k', 'd', { ifSeqno: v2 }))).to.deep.equal([
      { kind: 'key', key: Buffer.from('k'), expectedSeqno: v2, actualSeqno: 0 },
    ]);
    const recreated = await store.put('k', 'd', { ifSeqno: 0 });
    expect((await store.getEntry('k'))?.seqno).to.equal(recreated.seqno);
  });

  it('a batch fails whole and reports every failed check, key and prefix', async () => {
    await store.put('stream/a/1', 'e1'); // seqno 1
    await store.put('stream/b/1', 'e1'); // seqno 2
    const before = store.lastSeqno;
    const conflicts = await conflictOf(
      store.batch(
        [
          { type: 'put', key: 'stream/a/2', value: 'e2', ifSeqno: 0 },
          { type: 'put', key: 'stream/b/1', value: 'x', ifSeqno: 1 },
          { type: 'delete', key: 'stream/a/1', ifSeqno: 1 },
        ],
        {
          checks: [
            { prefix: 'stream/a/', noWritesAfter: 1 },
            { prefix: 'stream/b/', noWritesAfter: 1 },
          ],
        },
      ),
    );
    expect(conflicts).to.deep.equal([
      { kind: 'key', key: Buffer.from('stream/b/1'), expectedSeqno: 1, actualSeqno: 2 },
      { kind: 'prefix', prefix: Buffer.from('stream/b/'), expectedSeqno: 1, actualSeqno: 2 },
    ]);
    expect(store.lastSeqno).to.equal(before);
    expect(await store.get('stream/a/2')).to.equal(undefined);
    expect((await store.get('stream/a/1'))?.toString()).to.equal('e1');
    const appended = await store.batch(
      [{ type: 'put', key: 'stream/a/2', value: 'e2', ifSeqno: 0 }],
      { checks: [{ prefix: 'stream/a/', noWritesAfter: 1 }] },
    );
    expect(appended.firstSeqno).to.equal(before + 1);
  });

  it('a check sees a write the log admitted but has not yet made durable or visible', async () => {
    const pending = store.put('k', 'first'); // admitted now, published later
    const prefixPending = store.put('p/x', '1');
    const [keyConflict, prefixConflict] = await Promise.all([
      conflictOf(store.put('k', 'second', { ifSeqno: 0 })),
      conflictOf(
        store.batch([{ type: 'put', key: 'p/y', value: '2' }], {
          checks: [{ prefix: 'p/', noWritesAfter: 0 }],
        }),
      ),
    ]);
    const { seqno } = await pending;
    const prefixWrite = await prefixPending;
    expect(keyConflict).to.deep.equal([
      { kind: 'key', key: Buffer.from('k'), expectedSeqno: 0, actualSeqno: seqno },
    ]);
    expect(prefixConflict).to.deep.equal([
      {
        kind: 'prefix',
        prefix: Buffer.from('p/'),
        expectedSeqno: 0,
        actualSeqno: prefixWrite.seqno,
      },
    ]);
  });

  it('prefix checks read writes older than the in-memory records from the log', async () => {
    await store.close();
    store = await Store.open(dir.path, { recentRecordsBytes: 1 });
    const { seqno: streamWrite } = await store.put('s/1', 'e1');
    for (let index = 0; index < 200; index++) await store.put(`other/${index}`, 'x');
    expect(
      await conflictOf(
        store.batch([{ type: 'put', key: 's/2', value: 'e2' }], {
          checks: [{ prefix: 's/', noWritesAfter: streamWrite - 1 }],
        }),
      ),
    ).to.deep.equal([
      {
        kind: 'prefix',
        prefix: Buffer.from('s/'),
        expectedSeqno: streamWrite - 1,
        actualSeqno: streamWrite,
      },
    ]);
    const appended = await store.batch([{ type: 'put', key: 's/2', value: 'e2' }], {
      checks: [{ prefix: 's/', noWritesAfter: streamWrite }],
    });
    expect(appended.firstSeqno).to.equal(store.lastSeqno);
  });

  it('versions survive a reopen (read from flushed segments)', async () => {
    const { seqno } = await store.put('k', 'a');
    await store.close();
    store = await Store.open(dir.path);
    await store.flush();
    expect(await conflictOf(store.put('k', 'b', { ifSeqno: 0 }))).to.have.length(1);
    await store.put('k', 'b', { ifSeqno: seqno });
    expect((await store.get('k'))?.toString()).to.equal('b');
  });

  it('refuses bad checks with INVALID_ARGUMENT before writing', async () => {
    for (const attempt of [
      () => store.put('k', 'v', { ifSeqno: -1 }),
      () => store.put('k', 'v', { ifSeqno: 1.5 }),
      () =>
        store.batch([{ type: 'put', key: 'k', value: 'v' }], {
          checks: [{ prefix: 42 as never, noWritesAfter: 0 }],
        }),
      () =>
        store.batch([{ type: 'put', key: 'k', value: 'v' }], {
          checks: [{ prefix: 'p', noWritesAfter: -3 }],
        }),
    ]) {
      try {
        await attempt();
        expect.fail('accepted');
      } catch (error) {
        expect(isStrataError(error, 'INVALID_ARGUMENT'), String(error)).to.equal(true);
      }
    }
    expect(store.lastSeqno).to.equal(0);
  });

  it('16 concurrent clients incrementing one counter by read + conditional put lose no increment', async function () {
    const target = Number(process.env.STRATA_COUNTER_INCREMENTS ?? 2000);
    let succeeded = 0;
    let conflicts = 0;
    const client = async (): Promise<void> => {
      while (succeeded < target) {
        const current = await store.getEntry('counter');
        const value = Number(current?.value.toString() ?? '0');
        try {
          await store.put('counter', String(value + 1), { ifSeqno: current?.seqno ?? 0 });
          succeeded++;
        } catch (error) {
          if (!isStrataError(error, 'CONFLICT')) throw error;
          conflicts++;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, () => client()));
    expect(Number((await store.get('counter'))?.toString())).to.equal(succeeded);
    expect(succeeded).to.be.at.least(target);
    expect(conflicts).to.be.above(0);
  });
});
