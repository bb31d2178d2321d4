import { expect } from 'chai';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LeveledStrategy } from '@strata/engine';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import type {
  CompactionEvent,
  FlushEvent,
  GroupCommitEvent,
  LogSyncEvent,
  StallEvent,
} from '../src/index.js';

describe('Store.events: flushes and compaction steps as typed events', () => {
  let dir: { path: string; remove(): Promise<void> };
  beforeEach(async () => {
    dir = await createTempDirectory('store-events-');
  });
  afterEach(async () => {
    await dir.remove();
  });

  /** Writes `count` keys under `prefix` and flushes them into one level-0 segment. */
  async function writeAndFlush(store: Store, prefix: string, count: number): Promise<void> {
    await store.batch(
      Array.from({ length: count }, (_, index) => ({
        type: 'put' as const,
        key: `${prefix}/${String(index).padStart(5, '0')}`,
        value: 'v'.repeat(100),
      })),
    );
    await store.flush();
  }

  it('reports each flush with the bytes of the segment it wrote, as the segment file on disk has them', async () => {
    const store = await Store.open(dir.path, {
      compactionStrategy: new LeveledStrategy({ l0Trigger: 100 }),
    });
    const flushes: FlushEvent[] = [];
    store.events.on('flush', (event) => flushes.push(event));
    await writeAndFlush(store, 'a', 200);
    await writeAndFlush(store, 'b', 300);

    expect(flushes).to.have.length(2);
    const background = store.stats().background;
    expect(background.flushes).to.equal(2);
    expect(flushes.reduce((sum, event) => sum + event.segmentBytes, 0)).to.equal(
      background.flushedBytes,
    );
    // Each reported size is that of a segment file the flush left on disk (nothing compacts).
    const segments = join(dir.path, 'tree', 'segments');
    const files = (await readdir(segments)).filter((name) => name.endsWith('.seg'));
    const onDisk = await Promise.all(
      files.map(async (name) => (await stat(join(segments, name))).size),
    );
    const bySize = (a: number, b: number): number => a - b;
    expect(onDisk.sort(bySize)).to.deep.equal(
      flushes.map((event) => event.segmentBytes).sort(bySize),
    );
    for (const event of flushes) expect(event.durationMs).to.be.a('number').at.least(0);
    await store.close({ flushMemtable: false });
  });

  it('reports each compaction step that changed the levels, as many as stats() counts', async () => {
    const store = await Store.open(dir.path, {
      compactionStrategy: new LeveledStrategy({ l0Trigger: 2 }),
    });
    const compactions: CompactionEvent[] = [];
    store.events.on('compaction', (event) => compactions.push(event));
    for (let round = 0; round < 4; round++) await writeAndFlush(store, `r${round}`, 100);
    await store.waitForBackgroundWork();

    const stats = store.stats();
    const background = stats.background;
    expect(background.compactions).to.be.above(0);
    expect(compactions).to.have.length(background.compactions);
    expect(stats.firstLevelSegmentCount).to.be.below(2);
    // Bytes in and out: the events add up to the counters, and the merges read the four flushed
    // segments (nothing else was ever in the tree) and wrote what the levels hold now.
    const sum = (pick: (event: CompactionEvent) => number): number =>
      compactions.reduce((total, event) => total + pick(event), 0);
    expect(sum((event) => event.inputBytes)).to.equal(background.compactionInputBytes);
    expect(sum((event) => event.outputBytes)).to.equal(background.compactionOutputBytes);
    const merges = compactions.filter((event) => event.kind === 'merge');
    expect(merges.length).to.be.above(0);
    for (const merge of merges) {
      expect(merge.inputSegments).to.be.above(0);
      expect(merge.outputSegments).to.be.above(0);
      expect(merge.outputBytes).to.be.above(0);
    }
    const levelBytes = stats.levels.reduce((total, level) => total + level.sizeBytes, 0);
    expect(levelBytes).to.equal(stats.diskSpaceBytes);
    expect(stats.levels.reduce((total, level) => total + level.segmentCount, 0)).to.equal(
      stats.segmentCount,
    );
    // Every segment the merges wrote is either in the levels now or was an input of a later merge.
    expect(
      background.flushedBytes + background.compactionOutputBytes - background.compactionInputBytes,
    ).to.equal(levelBytes);
    await store.close();
  });

  it('counts block cache hits and misses of reads from segments in stats()', async () => {
    const store = await Store.open(dir.path);
    await writeAndFlush(store, 'a', 200);
    const before = store.stats().blockCache;
    expect((await store.get('a/00007'))?.toString()).to.equal('v'.repeat(100));
    const afterFirst = store.stats().blockCache;
    expect(afterFirst.misses).to.be.above(before.misses);
    expect((await store.get('a/00007'))?.toString()).to.equal('v'.repeat(100));
    const afterSecond = store.stats().blockCache;
    expect(afterSecond.hits).to.be.above(afterFirst.hits);
    expect(afterSecond.misses).to.equal(afterFirst.misses);
    expect(afterSecond.sizeBytes).to.be.above(0);
    await store.close();
  });

  it('stops calling a listener once removed, through the returned function or off()', async () => {
    const store = await Store.open(dir.path);
    const seen: string[] = [];
    const stop = store.events.on('flush', () => seen.push('first'));
    const second = (): void => {
      seen.push('second');
    };
    store.events.on('flush', second);
    await writeAndFlush(store, 'a', 10);
    stop();
    await writeAndFlush(store, 'b', 10);
    store.events.off('flush', second);
    await writeAndFlush(store, 'c', 10);
    expect(seen).to.deep.equal(['first', 'second', 'second']);
    expect(store.stats().background.flushes).to.equal(3);
    await store.close();
  });

  it('a listener that throws neither fails the flush nor the store; its error surfaces as uncaught', async () => {
    const store = await Store.open(dir.path);
    const thrown = new Error('a broken metrics listener');
    const stopThrowing = store.events.on('flush', () => {
      throw thrown;
    });
    const later: FlushEvent[] = [];
    store.events.on('flush', (event) => later.push(event));
    // Mocha fails a test on any uncaught exception: catch this one instead, for this test only.
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    try {
      await writeAndFlush(store, 'a', 10);
      expect(await uncaught).to.equal(thrown);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const handler of mochaHandlers) process.on('uncaughtException', handler);
    }
    stopThrowing(); // close() flushes once more
    expect(later).to.have.length(1);
    expect(store.status).to.equal('open');
    expect((await store.put('after', 'flush')).seqno).to.equal(11);
    await store.close();
  });

  it('reports group commits and log syncs, only while someone listens', async () => {
    const store = await Store.open(dir.path);
    const commits: GroupCommitEvent[] = [];
    const syncs: LogSyncEvent[] = [];
    const stopCommits = store.events.on('groupCommit', (event) => commits.push(event));
    const stopSyncs = store.events.on('fsync', (event) => syncs.push(event));
    for (let index = 0; index < 10; index++) await store.put(`k${index}`, 'v');
    await store.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
    ]);
    // One awaited write at a time: one group commit each, durable under sync 'always'.
    expect(commits).to.have.length(11);
    expect(commits.map((event) => event.entries)).to.deep.equal([
      ...Array.from({ length: 10 }, () => 1),
      2,
    ]);
    expect(commits.map((event) => event.firstSeqno)).to.deep.equal([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(commits.every((event) => event.durable && event.sizeBytes > 0)).to.equal(true);
    expect(syncs.filter((event) => event.reason === 'group-commit')).to.have.length(11);
    stopCommits();
    stopSyncs();
    await store.put('after', 'v');
    expect(commits).to.have.length(11);
    expect(syncs.filter((event) => event.reason === 'group-commit')).to.have.length(11);
    await store.close();
  });

  it('reports a write that waited for a flush as a stall, with its cause', async () => {
    // One sealed memtable at most: a write arriving while the last one is still being flushed
    // waits for it. Each batch overfills a 64 KiB memtable, so the next one always arrives then.
    const store = await Store.open(dir.path, {
      memtableSizeBytes: 64 * 1024,
      maxSealedMemtables: 1,
    });
    const stalls: StallEvent[] = [];
    store.events.on('stall', (event) => stalls.push(event));
    for (let batch = 0; batch < 5; batch++) {
      await store.batch(
        Array.from({ length: 100 }, (_, index) => ({
          type: 'put' as const,
          key: `b${batch}/${index}`,
          value: 'v'.repeat(1024),
        })),
      );
    }
    expect(stalls.length).to.be.at.least(1);
    for (const stall of stalls) {
      expect(stall.cause).to.equal('sealed-memtables');
      expect(stall.durationMs).to.be.a('number').at.least(0);
    }
    expect((await store.get('b4/99'))?.length).to.equal(1024);
    await store.close();
  });
});
