import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { createTempDirectory, rejectionOf } from '@strata/testing';
import { LogOp } from '@strata/wal';
import { Store } from '../src/index.js';
import type { ChangeBatch, ExpiryEvent, StoreOptions } from '../src/index.js';
import { rangeStrings } from './helpers.js';

/*
 * The empty key ('' or a zero-length buffer) is an ordinary key, the smallest of all, through the
 * whole store: writes, reads, ranges both ways, range deletes from it, batches, conditional
 * writes, history, time to live, `at` reads, flushes and compactions, reopen and crash recovery.
 * An epoch start also has no key: it is told apart by its op, never by its key.
 */

const EMPTY = Buffer.alloc(0);

/** Every committed entry from seqno 1 on, as [seqno, op, key hex]. */
async function logEntries(store: Store): Promise<[number, number, string][]> {
  const out: [number, number, string][] = [];
  const last = store.lastSeqno;
  if (last === 0) return out;
  for await (const batch of store.subscribe({ from: 1 }) as AsyncIterable<ChangeBatch>) {
    batch.entries.forEach((entry, index) => {
      out.push([batch.firstSeqno + index, entry.op, Buffer.from(entry.key).toString('hex')]);
    });
    if (batch.lastSeqno >= last) break;
  }
  return out;
}

/** The empty key's value through get, getEntry and every range that should include it. */
async function expectEmptyKey(store: Store, value: string | undefined, others: string[]) {
  expect((await store.get(''))?.toString()).to.equal(value);
  expect((await store.get(EMPTY))?.toString()).to.equal(value);
  expect((await store.getEntry(''))?.value.toString()).to.equal(value);
  const all = [...(value === undefined ? [] : [`=${value}`]), ...others];
  expect(await rangeStrings(store)).to.deep.equal(all);
  expect(await rangeStrings(store, { reverse: true })).to.deep.equal([...all].reverse());
  expect(await rangeStrings(store, { start: '' })).to.deep.equal(all);
  expect(await rangeStrings(store, { start: EMPTY, reverse: true })).to.deep.equal(
    [...all].reverse(),
  );
  expect(await rangeStrings(store, { prefix: '' })).to.deep.equal(all);
  expect(await rangeStrings(store, { end: '\u0000' })).to.deep.equal(all.slice(0, value ? 1 : 0));
  expect(await rangeStrings(store, { limit: 1 })).to.deep.equal(all.slice(0, 1));
  // An end at the empty key excludes every key; a start above it excludes the empty key.
  expect(await rangeStrings(store, { end: '' })).to.deep.equal([]);
  expect(await rangeStrings(store, { start: '\u0000' })).to.deep.equal(others);
}

describe('Store: the empty key', () => {
  let dir: { path: string; remove(): Promise<void> };
  let store: Store;
  const options: StoreOptions = { memtableSizeBytes: 16 * 1024 };

  beforeEach(async () => {
    dir = await createTempDirectory('store-empty-key-');
    store = await Store.open(dir.path, options);
  });
  afterEach(async () => {
    await store.close();
    await dir.remove();
  });

  it('put, get, delete, range both ways and `at` reads treat it as the smallest key', async () => {
    const first = await store.put('', 'one');
    await store.put('a', 'A');
    await store.put(Buffer.from([0]), 'zero');
    const others = ['\u0000=zero', 'a=A'];
    await expectEmptyKey(store, 'one', others);
    // A string '' and a zero-length buffer are the same key.
    const second = await store.put(EMPTY, 'two');
    await expectEmptyKey(store, 'two', others);
    const deleted = await store.delete('');
    await expectEmptyKey(store, undefined, others);
    expect((await store.get('', { at: first.seqno }))?.toString()).to.equal('one');
    expect((await store.get('', { at: second.seqno }))?.toString()).to.equal('two');
    expect(await store.get('', { at: deleted.seqno })).to.equal(undefined);
    expect(await rangeStrings(store, { at: second.seqno })).to.deep.equal(['=two', ...others]);
    const history = await store.history('');
    expect(history.versions.map((v) => [v.seqno, v.type, v.value?.toString()])).to.deep.equal([
      [deleted.seqno, 'delete', undefined],
      [second.seqno, 'put', 'two'],
      [first.seqno, 'put', 'one'],
    ]);
  });

  it('a range delete from the empty key covers it; the empty prefix, which has no end key, is refused', async () => {
    await store.batch([
      { type: 'put', key: '', value: 'e' },
      { type: 'put', key: 'a', value: 'A' },
      { type: 'put', key: 'b', value: 'B' },
    ]);
    const { seqno } = await store.deleteRange({ start: '', end: 'b' });
    await expectEmptyKey(store, undefined, ['b=B']);
    expect((await store.get('', { at: seqno - 1 }))?.toString()).to.equal('e');
    const error = await rejectionOf(store.deleteRange({ prefix: '' }));
    expect(error.code).to.equal('INVALID_ARGUMENT');
    expect(error.message).to.match(/empty prefix/);
    expect((await rejectionOf(store.deleteRange({ start: 'a', end: '' }))).code).to.equal(
      'INVALID_ARGUMENT',
    );
    await store.put('', 'back');
    await expectEmptyKey(store, 'back', ['b=B']);
  });

  it('batches and conditional writes: ifSeqno on the empty key, prefix checks with the empty prefix, which an epoch start does not trip', async () => {
    const created = await store.put('', 'v1', { ifSeqno: 0 });
    const conflict = await rejectionOf(store.put('', 'again', { ifSeqno: 0 }));
    expect(conflict.code).to.equal('CONFLICT');
    const conflicts = conflict.details?.['conflicts'] as { key: Buffer; actualSeqno: number }[];
    expect(conflicts.map((c) => [c.key.length, c.actualSeqno])).to.deep.equal([[0, created.seqno]]);
    const batch = await store.batch([
      { type: 'put', key: '', value: 'v2', ifSeqno: created.seqno },
      { type: 'delete', key: 'x' },
    ]);
    expect((await store.get(''))?.toString()).to.equal('v2');
    // The empty prefix: every key is under it.
    const checks = [{ prefix: '', noWritesAfter: batch.lastSeqno }];
    const epoch = await store.startEpoch(store.stats().epoch + 1);
    // An epoch start has an empty key too, but it is no write: the check still passes.
    await store.batch([{ type: 'put', key: 'y', value: 'Y' }], {
      checks: [{ prefix: '', noWritesAfter: epoch.seqno }],
    });
    const stale = await rejectionOf(
      store.batch([{ type: 'put', key: 'z', value: 'Z' }], { checks }),
    );
    expect(stale.code).to.equal('CONFLICT');
    const entries = await logEntries(store);
    expect(entries.filter(([, op]) => op === LogOp.EpochStart)).to.deep.equal([
      [epoch.seqno, LogOp.EpochStart, ''],
    ]);
    expect(entries.filter(([, op, key]) => op === LogOp.Put && key === '')).to.have.length(2);
    // History of the empty key lists its writes only, never the epoch start.
    const history = await store.history('');
    expect(history.versions.map((v) => v.seqno)).to.deep.equal([batch.firstSeqno, created.seqno]);
  });

  it('time to live: the empty key expires, the expiry writer deletes it with the expired marker', async () => {
    await store.close();
    let nowMs = 1_700_000_000_000;
    store = await Store.open(dir.path, { ...options, clock: () => nowMs });
    await store.put('', 'short', { ttlMs: 100 });
    await store.put('k', 'K');
    expect((await store.getEntry(''))?.expiresAtMs).to.equal(nowMs + 100);
    const expiry = new Promise<ExpiryEvent>((resolve) => {
      const stop = store.events.on('expiry', (event) => {
        stop();
        resolve(event);
      });
    });
    nowMs += 100;
    expect(await store.get('')).to.equal(undefined);
    expect((await expiry).keys).to.equal(1);
    const history = await store.history('');
    expect(history.versions.map((v) => [v.type, v.expired])).to.deep.equal([
      ['delete', true],
      ['put', true],
    ]);
    expect(await rangeStrings(store)).to.deep.equal(['k=K']);
  });

  it('survives close and reopen (log replay), flushes and compactions, and a reopen from segments', async () => {
    await store.put('', 'replayed');
    await store.deleteRange({ start: '', end: '\u0000' });
    await store.put('', 'after-range');
    await store.close({ flushMemtable: false });
    store = await Store.open(dir.path, options);
    await expectEmptyKey(store, 'after-range', []);
    // Enough writes for several flushes and compactions, the empty key rewritten among them.
    let compactions = 0;
    store.events.on('compaction', () => compactions++);
    let last = '';
    for (let round = 0; round < 12; round++) {
      const operations = [];
      for (let index = 0; index < 50; index++) {
        operations.push({ type: 'put' as const, key: `k${index}`, value: 'x'.repeat(100) });
      }
      last = `round-${round}`;
      operations.push({ type: 'put' as const, key: '', value: last });
      await store.batch(operations);
      await store.flush();
    }
    await store.waitForBackgroundWork();
    expect(compactions).to.be.greaterThan(0);
    expect((await store.get(''))?.toString()).to.equal(last);
    const keys = (await store.range({ limit: 2 }).all()).map((item) => item.key.toString());
    expect(keys).to.deep.equal(['', 'k0']);
    await store.close();
    store = await Store.open(dir.path, options);
    expect((await store.get(''))?.toString()).to.equal(last);
    expect((await store.range({ reverse: true }).all()).at(-1)?.key.length).to.equal(0);
    expect((await store.checkLog()).damage).to.deep.equal([]);
  });
});

describe('Store: the empty key after a crash', () => {
  it('every acknowledged write of the empty key is there after a power loss (sync always)', async () => {
    for (const seed of [1, 2, 3]) {
      const fs = new SimulatedFileSystem();
      const store = await Store.open('/data', { fileSystem: fs, memtableSizeBytes: 4096 });
      let value = '';
      for (let index = 0; index < 40; index++) {
        value = `v${index}-${'y'.repeat(index * 7)}`;
        await store.batch([
          { type: 'put', key: '', value },
          { type: 'put', key: `k${index}`, value },
        ]);
        if (index === 20) await store.deleteRange({ start: '', end: 'k1' });
      }
      await store.delete(Buffer.from('k3'));
      const disk = fs.crash({ random: seededRandom(seed) });
      const reopened = await Store.open('/data', { fileSystem: disk, memtableSizeBytes: 4096 });
      expect((await reopened.get(''))?.toString(), `seed ${seed}`).to.equal(value);
      const first = (await reopened.range({ limit: 1 }).all())[0];
      expect(first?.key.length).to.equal(0);
      // Written before the range delete at index 20, hidden by it: k0 (under 'k1') is gone.
      expect(await reopened.get('k0')).to.equal(undefined);
      await reopened.close();
    }
  });
});
