import { expect } from 'chai';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { LeveledStrategy } from '@strata/engine';
import type { CompactionStrategy } from '@strata/engine';
import { Store } from '../src/index.js';
import { rangeStrings, rejectionOf } from './helpers.js';

describe('Store: writes, reads, reopen', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await createTempDirectory('store-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('put, delete and batch get contiguous seqnos and the epoch; reads see a write once it resolves', async () => {
    const store = await Store.open(dir.path);
    expect(store.status).to.equal('open');
    expect(await store.put('a', '1')).to.deep.equal({ seqno: 1, epoch: 1 });
    expect((await store.get('a'))?.toString()).to.equal('1');
    expect(
      await store.batch([
        { type: 'put', key: 'b', value: '2' },
        { type: 'put', key: 'c', value: Buffer.from([0, 1, 2]) },
        { type: 'delete', key: 'a' },
      ]),
    ).to.deep.equal({ firstSeqno: 2, lastSeqno: 4, epoch: 1 });
    expect(await store.get('a')).to.equal(undefined);
    expect(await store.get('c')).to.deep.equal(Buffer.from([0, 1, 2]));
    expect(await store.delete('b')).to.deep.equal({ seqno: 5, epoch: 1 });
    expect(store.lastSeqno).to.equal(5);
    expect(store.durableSeqno).to.equal(5);
    expect(await store.getEntry('c')).to.deep.include({ seqno: 3 });
    await store.close();
    expect(store.status).to.equal('closed');
  });

  it('reads history with `at`: the state as of any seqno', async () => {
    const store = await Store.open(dir.path);
    await store.put('k', 'v1'); // 1
    await store.put('k', 'v2'); // 2
    await store.delete('k'); // 3
    await store.put('k', 'v4'); // 4
    const at = async (seqno: number) => (await store.get('k', { at: seqno }))?.toString();
    expect([await at(0), await at(1), await at(2), await at(3), await at(4)]).to.deep.equal([
      undefined,
      'v1',
      'v2',
      undefined,
      'v4',
    ]);
    expect(await rangeStrings(store, { at: 2 })).to.deep.equal(['k=v2']);
    // Beyond the last applied seqno the answer would change with the next write: refused.
    for (const read of [
      store.get('k', { at: 5 }),
      Promise.resolve().then(() => store.range({ at: 99 }).all()),
    ]) {
      const error = await rejectionOf(read);
      expect(error).to.include({ code: 'FUTURE_SEQNO' });
      expect(error.details).to.deep.include({ lastSeqno: 4 });
    }
    await store.put('k', 'v5'); // 5
    expect(await at(4)).to.equal('v4');
    expect(await at(5)).to.equal('v5');
    await store.close();
  });

  it('ranges: prefix, start/end, reverse, limit', async () => {
    const store = await Store.open(dir.path);
    await store.batch(
      ['user/1', 'user/2', 'user/3', 'users', 'video/1'].map((key) => ({
        type: 'put' as const,
        key,
        value: key.toUpperCase(),
      })),
    );
    expect(await rangeStrings(store, { prefix: 'user/' })).to.deep.equal([
      'user/1=USER/1',
      'user/2=USER/2',
      'user/3=USER/3',
    ]);
    expect(await rangeStrings(store, { prefix: 'user/', reverse: true, limit: 2 })).to.deep.equal([
      'user/3=USER/3',
      'user/2=USER/2',
    ]);
    expect(await rangeStrings(store, { start: 'user/2', end: 'video/1' })).to.deep.equal([
      'user/2=USER/2',
      'user/3=USER/3',
      'users=USERS',
    ]);
    expect(await rangeStrings(store, { start: 'z' })).to.deep.equal([]);
    expect(await rangeStrings(store, { limit: 0 })).to.deep.equal([]);
    await store.close();
  });

  it('range iterators: next, nextv and all share one position, honour the limit and pin one view', async () => {
    const store = await Store.open(dir.path, { memtableSizeBytes: 4096 });
    const key = (n: number): string => `k${String(n).padStart(4, '0')}`;
    for (let n = 0; n < 600; n += 100) {
      await store.batch(
        Array.from({ length: 100 }, (_, i) => ({
          type: 'put' as const,
          key: key(n + i),
          value: `v${n + i}`,
        })),
      );
    }
    await store.flush();
    const keys = (items: readonly { key: Buffer }[]): string[] =>
      items.map((item) => item.key.toString());

    const iterator = store.range({ start: key(10), limit: 500 });
    expect((await iterator.next())?.key.toString()).to.equal(key(10));
    expect(keys(await iterator.nextv(3))).to.deep.equal([key(11), key(12), key(13)]);
    // Writes after the iterator was opened are not seen by it.
    await store.put(key(14), 'changed');
    await store.delete(key(15));
    const rest = await iterator.all();
    expect(rest.length).to.equal(500 - 4);
    expect(rest[0]?.value.toString()).to.equal('v14');
    expect(rest[1]?.key.toString()).to.equal(key(15));
    expect(rest[rest.length - 1]?.key.toString()).to.equal(key(509));
    expect(await iterator.nextv(10)).to.deep.equal([]);
    expect(await iterator.next()).to.equal(undefined);

    const backward = store.range({ reverse: true, end: key(300), limit: 250 });
    const first = await backward.nextv(100);
    expect(keys(first).slice(0, 2)).to.deep.equal([key(299), key(298)]);
    const second = await backward.all();
    expect(second.length).to.equal(150);
    expect(second[second.length - 1]?.key.toString()).to.equal(key(50));

    // A loop left early closes the iterator: nothing more comes out of it.
    const early = store.range({ prefix: 'k00' });
    for await (const item of early) if (item.key.toString() === key(5)) break;
    expect(await early.nextv(5)).to.deep.equal([]);

    expect(await store.range({ start: key(7), end: key(7) }).all()).to.deep.equal([]);
    expect(() => store.range({ limit: -1 }))
      .to.throw()
      .with.property('code', 'INVALID_ARGUMENT');
    await store.close();
    expect(() => store.range())
      .to.throw()
      .with.property('code', 'CLOSED');
  });

  it('refuses bad input with stable codes and writes nothing', async () => {
    const store = await Store.open(dir.path, { maxValueBytes: 1024 });
    await store.put('keep', 'me');
    const cases: [Promise<unknown>, string][] = [
      [store.put(undefined as never, 'x'), 'INVALID_ARGUMENT'],
      [store.put(Buffer.alloc(65537, 1), 'x'), 'KEY_TOO_LARGE'],
      [store.put('k', Buffer.alloc(1025)), 'VALUE_TOO_LARGE'],
      [store.batch([]), 'INVALID_ARGUMENT'],
      [store.batch([{ type: 'merge', key: 'k' } as never]), 'INVALID_ARGUMENT'],
      [store.put(42 as never, 'x'), 'INVALID_ARGUMENT'],
      [store.get('k', { at: -1 }), 'INVALID_ARGUMENT'],
    ];
    for (const [promise, code] of cases) expect((await rejectionOf(promise)).code).to.equal(code);
    expect(store.lastSeqno).to.equal(1);
    expect((await store.get('keep'))?.toString()).to.equal('me');
    await store.close();
    expect((await rejectionOf(store.put('a', 'b'))).code).to.equal('CLOSED');
  });

  it('one process per data directory: a second open fails with LOCKED until the first closes', async () => {
    const first = await Store.open(dir.path);
    const error = await rejectionOf(Store.open(dir.path));
    expect(error.code).to.equal('LOCKED');
    await first.close();
    const second = await Store.open(dir.path);
    await second.close();
  });

  it('refuses a data directory of an unknown format version', async () => {
    const store = await Store.open(dir.path);
    await store.close();
    await writeFile(join(dir.path, 'FORMAT'), 'strata-data 99\n');
    const error = await rejectionOf(Store.open(dir.path));
    expect(error.code).to.equal('UNSUPPORTED_FORMAT');
    expect(error.details).to.include({ version: 99 });
  });

  it('small memtables: many flushes and compactions, every value intact, also after reopen', async () => {
    const store = await Store.open(dir.path, { memtableSizeBytes: 16 * 1024 });
    const expected = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      const operations = [];
      for (let index = 0; index < 100; index++) {
        const key = `key-${String((round * 37 + index * 11) % 500).padStart(4, '0')}`;
        const value = `value-${round}-${index}-${'x'.repeat(50)}`;
        operations.push({ type: 'put' as const, key, value });
        expected.set(key, value);
      }
      await store.batch(operations);
    }
    await store.waitForBackgroundWork();
    const stats = store.stats();
    expect(stats.background.flushes).to.be.greaterThan(3);
    expect(stats.background.flushedBytes).to.be.greaterThan(stats.background.flushes * 100);
    expect(stats.background.flushDurationMs).to.be.greaterThan(0);
    expect(stats.segmentCount).to.be.greaterThan(0);
    const sorted = [...expected.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => `${key}=${value}`);
    expect(await rangeStrings(store)).to.deep.equal(sorted);
    await store.close();
    const reopened = await Store.open(dir.path);
    expect(reopened.lastSeqno).to.equal(2000);
    expect(await rangeStrings(reopened)).to.deep.equal(sorted);
    expect(await reopened.put('after', 'reopen')).to.deep.equal({ seqno: 2001, epoch: 1 });
    await reopened.close();
  });

  it('after a crash, replays the log above the flushed seqno into the memtable', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs, memtableSizeBytes: 8 * 1024 });
    for (let index = 0; index < 300; index++)
      await store.put(`k${index}`, `v${index}-${'y'.repeat(40)}`);
    await store.waitForBackgroundWork();
    const rebooted = fs.crash({ random: seededRandom(5) });
    const reopened = await Store.open('/data', {
      fileSystem: rebooted,
      memtableSizeBytes: 8 * 1024,
    });
    expect(reopened.lastSeqno).to.equal(300);
    for (let index = 0; index < 300; index += 17) {
      expect((await reopened.get(`k${index}`))?.toString()).to.equal(`v${index}-${'y'.repeat(40)}`);
    }
    await reopened.close();
  });

  it('waitForSeqno resolves when the seqno is applied, or fails with TIMEOUT', async () => {
    const store = await Store.open(dir.path);
    const waiting = store.waitForSeqno(2);
    await store.put('a', '1');
    await store.put('b', '2');
    await waiting;
    expect((await rejectionOf(store.waitForSeqno(10, 20))).code).to.equal('TIMEOUT');
    await store.close();
  });

  it('waitForSeqno fails with ABORTED (the reason as cause) when its signal aborts first', async () => {
    const store = await Store.open(dir.path);
    const controller = new AbortController();
    const waiting = rejectionOf(store.waitForSeqno(5, undefined, controller.signal));
    controller.abort(new Error('gone'));
    const error = await waiting;
    expect(error.code).to.equal('ABORTED');
    expect((error.cause as Error).message).to.equal('gone');
    expect(store.waitingReaders).to.equal(0);
    await store.close();
  });

  it('close waits for writes in flight; later writes fail with CLOSED', async () => {
    const store = await Store.open(dir.path);
    const writes = Array.from({ length: 50 }, (_, index) => store.put(`k${index}`, 'v'));
    const closing = store.close();
    const results = await Promise.allSettled(writes);
    await closing;
    expect(results.every((result) => result.status === 'fulfilled')).to.equal(true);
    const reopened = await Store.open(dir.path);
    expect(reopened.lastSeqno).to.equal(50);
    await reopened.close();
  });
});

describe('Store: readable history window', () => {
  it('keeps every version in the window through flushes and compactions, and refuses reads below it', async () => {
    const dir = await createTempDirectory('history-');
    const store = await Store.open(dir.path, {
      historyRetentionSeqnos: 400,
      memtableSizeBytes: 4096,
    });
    try {
      // 1,000 overwrites of 10 keys: value i at seqno i.
      for (let seqno = 1; seqno <= 1000; seqno++) await store.put(`k${seqno % 10}`, `v${seqno}`);
      await store.flush();
      await store.waitForBackgroundWork();
      expect(
        store.stats().background.compactions + store.stats().background.flushes,
      ).to.be.greaterThan(5);
      const oldest = store.oldestReadableSeqno;
      expect(oldest).to.be.within(1000 - 500, 1000 - 400);
      for (const at of [oldest, oldest + 1, 777, 999, 1000]) {
        // Key k(at % 10) was last written at seqno `at` itself.
        expect((await store.get(`k${at % 10}`, { at }))?.toString(), `at ${at}`).to.equal(`v${at}`);
        // And the key written just after `at` still shows its previous version.
        const next = at + 1;
        if (next <= 1000)
          expect((await store.get(`k${next % 10}`, { at }))?.toString(), `at ${at}`).to.equal(
            `v${next - 10}`,
          );
      }
      const error = await rejectionOf(store.get('k1', { at: oldest - 1 }));
      expect(error.code).to.equal('HISTORY_TRUNCATED');
      expect(error.details).to.include({ oldestReadableSeqno: oldest });
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});

describe('Store: write stalls', () => {
  it('after a reopen with level 0 over the stop trigger, compaction runs and writes go on', async () => {
    const dir = await createTempDirectory('stall-');
    const neverCompact: CompactionStrategy = { name: 'never', choose: () => ({ kind: 'none' }) };
    try {
      const first = await Store.open(dir.path, {
        memtableSizeBytes: 2048,
        compactionStrategy: neverCompact,
      });
      for (let index = 0; index < 400; index++)
        await first.put(`k${index % 50}`, `v${index}-${'w'.repeat(40)}`);
      // The flushes must finish: a close cancels those still queued (their data stays in the log).
      await first.waitForBackgroundWork();
      await first.close();
      // Reopen with a stop trigger below the level-0 segments the first life left behind.
      const reopened = await Store.open(dir.path, {
        memtableSizeBytes: 2048,
        level0SlowdownSegments: 2,
        level0StopSegments: 4,
        compactionStrategy: new LeveledStrategy({ l0Trigger: 2 }),
      });
      try {
        const level0Before = reopened.stats().firstLevelSegmentCount;
        expect(level0Before).to.be.greaterThan(4);
        const write = await Promise.race([
          reopened.put('after', 'reopen').then(() => 'written'),
          new Promise((resolve) => setTimeout(() => resolve('still halted'), 10_000)),
        ]);
        expect(write).to.equal('written');
        expect(reopened.stats().firstLevelSegmentCount).to.be.below(level0Before);
        expect((await reopened.get('k49'))?.toString()).to.equal(`v399-${'w'.repeat(40)}`);
      } finally {
        await reopened.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
