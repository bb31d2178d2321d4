import { expect } from 'chai';
import {
  LeveledStrategy,
  SizeTieredStrategy,
  Tree,
  inspectTree,
  verifyTree,
} from '../src/index.js';
import { b, collect, openSimulated, s, tinyOptions, withTempDir } from './helpers.js';

const key = (i: number): Buffer => b(`k${String(i).padStart(4, '0')}`);
const value = (i: number, round = 0): Buffer => b(`v${round}-${i}-${'x'.repeat(30)}`);

async function keysOf(iterator: AsyncIterable<{ key: Buffer; value: Buffer }>): Promise<string[]> {
  return (await collect(iterator)).map((pair) => pair.split('=')[0]!);
}

function range(from: number, to: number, skip: (i: number) => boolean = () => false): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) if (!skip(i)) out.push(key(i).toString());
  return out;
}

/** Checks that the segments of each level below 0 are ordered and disjoint (exclusive ends too). */
async function expectDisjointLevels(path: string, fileSystem: Tree['config']['fileSystem']) {
  const info = await inspectTree(path, { fileSystem });
  for (const level of info.levels.slice(1)) {
    const sorted = [...level].sort((x, y) => Buffer.compare(x.minKey, y.minKey));
    for (let i = 1; i < sorted.length; i++) {
      const order = Buffer.compare(sorted[i - 1]!.maxKey, sorted[i]!.minKey);
      expect(order < 0 || (order === 0 && sorted[i - 1]!.maxKeyExclusive)).to.equal(true);
    }
  }
  return info;
}

describe('Tree.removeRange: compaction', () => {
  it('a major compaction drops the covered keys and the tombstone: disk at most 5% of before', async () => {
    const { tree } = await openSimulated({ ...tinyOptions, targetSegmentSizeBytes: 4096 });
    let seqno = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 600; i++) tree.insert(key(i), value(i, round), seqno++);
      await tree.flushActiveMemtable();
    }
    await tree.compact(new LeveledStrategy({ l0Trigger: 2 }));
    tree.removeRange(b('k'), b('l'), seqno++);
    await tree.flushActiveMemtable();
    const before = tree.diskSpace();
    expect(await tree.len()).to.equal(0);
    await tree.majorCompact();
    expect(tree.diskSpace()).to.be.at.most(before * 0.05);
    expect(tree.segmentCount()).to.equal(0);
    expect(tree.approximateLen()).to.equal(0);
    expect(await tree.get(key(5))).to.equal(undefined);
    // Reads at older seqnos cannot see what no snapshot kept.
    expect(await tree.get(key(5), seqno - 1)).to.equal(undefined);
    await tree.close();
  });

  it('keeps what a snapshot below the tombstone sees, and drops it once the snapshot closes', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 200; i++) tree.insert(key(i), value(i), i);
    await tree.flushActiveMemtable();
    const snapshot = tree.snapshot(200);
    tree.removeRange(key(50), key(150), 200);
    tree.insert(key(100), b('after'), 201);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    expect(await snapshot.len()).to.equal(200);
    expect(s(await snapshot.get(key(120)))).to.equal(value(120).toString());
    expect(await keysOf(tree.range({ gte: key(40), lt: key(160) }))).to.deep.equal([
      ...range(40, 50),
      key(100).toString(),
      ...range(150, 160),
    ]);
    // All 200 versions, the put, and the tombstone (in a piece per output segment it spans).
    expect(tree.approximateLen()).to.be.greaterThan(200 + 1);
    snapshot.close();
    await tree.majorCompact();
    // 100 keys outside the range, the put after the tombstone; covered versions and tombstone gone.
    expect(tree.approximateLen()).to.equal(101);
    expect(await tree.len()).to.equal(101);
    expect(s(await tree.get(key(100)))).to.equal('after');
    expect(await tree.get(key(99))).to.equal(undefined);
    await tree.close();
  });

  it('keeps the tombstone while older data below the job may hold covered keys', async () => {
    const { tree } = await openSimulated({ ...tinyOptions, levelCount: 3 });
    for (let i = 0; i < 100; i++) tree.insert(key(i), value(i), i);
    await tree.flushActiveMemtable();
    await tree.majorCompact(); // everything in L2
    tree.insert(key(30), b('newer'), 100);
    tree.removeRange(key(20), key(40), 101);
    tree.insert(key(35), b('after'), 102);
    await tree.flushActiveMemtable();
    await tree.compact(new LeveledStrategy({ l0Trigger: 1 })); // L0 -> L1, L2 keeps keys 20..39
    const ids = tree.levelSegmentIds();
    expect(ids[0]).to.deep.equal([]);
    expect(ids[1]!.length).to.be.greaterThan(0);
    // L1 holds the tombstone and k035@102; k030@100 (covered) was dropped.
    const info = await inspectTree('/tree', { fileSystem: tree.config.fileSystem });
    const level1 = info.levels[1]!;
    expect(level1.reduce((n, seg) => n + seg.rangeTombstoneCount, 0)).to.equal(1);
    expect(level1.reduce((n, seg) => n + seg.itemCount, 0)).to.equal(1);
    expect(level1.map((seg) => seg.formatVersion)).to.include(2);
    expect(info.levels[2]!.every((seg) => seg.formatVersion === 1)).to.equal(true);
    expect(await tree.get(key(30))).to.equal(undefined);
    expect(s(await tree.get(key(35)))).to.equal('after');
    expect(await keysOf(tree.iter())).to.deep.equal([
      ...range(0, 20),
      key(35).toString(),
      ...range(40, 100),
    ]);
    await tree.majorCompact();
    expect(tree.approximateLen()).to.equal(81);
    expect(await tree.len()).to.equal(81);
    await tree.close();
  });

  it('splits a tombstone over several outputs and keeps the level disjoint', async () => {
    const { tree, fs } = await openSimulated({ ...tinyOptions, levelCount: 3 });
    for (let i = 0; i < 300; i += 2) tree.insert(key(i), value(i), i);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    // A snapshot below the tombstone keeps both it and the versions it covers through the merges.
    const snapshot = tree.snapshot(300);
    tree.removeRange(key(51), key(251), 300);
    for (let i = 101; i < 200; i += 10) tree.insert(key(i), b('odd'), 301 + i);
    await tree.flushActiveMemtable();
    await tree.compact(new SizeTieredStrategy({ levelTrigger: 1, targetSegmentSizeBytes: 600 }));
    await tree.majorCompact(600);
    const info = await expectDisjointLevels('/tree', fs);
    const last = info.levels[2]!;
    expect(last.length).to.be.greaterThan(3);
    expect(last.filter((seg) => seg.rangeTombstoneCount > 0).length).to.be.greaterThan(1);
    expect(last.some((seg) => seg.maxKeyExclusive)).to.equal(true);
    const live = (i: number): boolean => (i % 2 === 0 && (i < 51 || i >= 251)) || odd(i);
    const odd = (i: number): boolean => i >= 101 && i < 200 && i % 10 === 1;
    for (let i = 0; i < 300; i++) {
      expect(await tree.containsKey(key(i)), `key ${i}`).to.equal(live(i));
      expect(await snapshot.containsKey(key(i)), `snapshot key ${i}`).to.equal(i % 2 === 0);
    }
    expect(await keysOf(tree.iter())).to.deep.equal(range(0, 300, (i) => !live(i)));
    expect(await keysOf(tree.iter().reverse())).to.deep.equal(
      range(0, 300, (i) => !live(i)).reverse(),
    );
    expect(await snapshot.len()).to.equal(150);
    expect((await verifyTree('/tree', { fileSystem: fs })).segments).to.equal(last.length);
    snapshot.close();
    await tree.majorCompact(600);
    // Even keys 0..50 and 252..298, and the ten odd ones; the tombstone and what it hid are gone.
    expect(tree.approximateLen()).to.equal(26 + 24 + 10);
    expect(await keysOf(tree.iter())).to.deep.equal(range(0, 300, (i) => !live(i)));
    await tree.close();
  });

  it('flushes and compacts range tombstones in worker threads, and reopens', async () => {
    await withTempDir(async (dir) => {
      const tree = await Tree.open(dir, {
        blockSizeBytes: 1024,
        targetSegmentSizeBytes: 16 * 1024,
        jobExecution: 'worker',
      });
      let seqno = 0;
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2000; i++) tree.insert(key(i), value(i, round), seqno++);
        await tree.flushActiveMemtable();
      }
      tree.removeRange(key(500), key(1500), seqno++);
      tree.insert(key(1000), b('after'), seqno++);
      await tree.flushActiveMemtable();
      await tree.compact(new LeveledStrategy({ l0Trigger: 2 }));
      expect(tree.firstLevelSegmentCount()).to.equal(0);
      expect(await tree.len()).to.equal(1001);
      const beforeMajor = tree.diskSpace();
      await tree.close();
      const reopened = await Tree.open(dir, { jobExecution: 'worker' });
      expect(await reopened.get(key(700))).to.equal(undefined);
      expect(s(await reopened.get(key(1000)))).to.equal('after');
      expect(s(await reopened.get(key(1500)))).to.equal(value(1500, 2).toString());
      await reopened.majorCompact();
      expect(reopened.diskSpace()).to.be.lessThan(beforeMajor);
      expect(reopened.approximateLen()).to.equal(1001);
      expect(await reopened.len()).to.equal(1001);
      await reopened.close();
    });
  });
});
