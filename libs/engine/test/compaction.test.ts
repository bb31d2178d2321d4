import { expect } from 'chai';
import { MajorCompactionStrategy } from '../src/compaction/major.js';
import { FifoStrategy, LeveledStrategy, SizeTieredStrategy } from '../src/index.js';
import { b, collect, openSimulated, s, tinyOptions } from './helpers.js';

const key = (i: number): Buffer => b(`k${String(i).padStart(5, '0')}`);

describe('Tree: compaction', () => {
  it('leveled: merges L0 into L1 at the trigger and pushes oversized levels down', async () => {
    const { tree } = await openSimulated({ ...tinyOptions, levelCount: 4 });
    const strategy = new LeveledStrategy({ l0Trigger: 2, level1SizeBytes: 2048, sizeRatio: 2 });
    let seqno = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 60; i++)
        tree.insert(key((i * 7 + round * 13) % 500), b(`v${seqno}`), seqno++);
      await tree.flushActiveMemtable();
      await tree.compact(strategy);
      expect(tree.firstLevelSegmentCount()).to.be.lessThan(2);
      expect(tree.isCompacting()).to.equal(false);
    }
    // Compact until quiet.
    for (let i = 0; i < 20; i++) await tree.compact(strategy);
    const ids = tree.levelSegmentIds();
    expect(ids.slice(2).flat().length).to.be.greaterThan(0);
    // Every key has its newest value.
    const latest = new Map<string, string>();
    seqno = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 60; i++)
        latest.set(key((i * 7 + round * 13) % 500).toString(), `v${seqno++}`);
    }
    for (const [k, v] of latest) expect(s(await tree.get(b(k)))).to.equal(v);
    expect(await tree.len()).to.equal(latest.size);
    await tree.close();
  });

  it('size-tiered: merges a full level into one run below, levels may overlap', async () => {
    const { tree } = await openSimulated({ ...tinyOptions, levelCount: 3 });
    const strategy = new SizeTieredStrategy({ levelTrigger: 3 });
    let seqno = 0;
    for (let round = 0; round < 9; round++) {
      for (let i = 0; i < 30; i++) tree.insert(key(i * 3 + (round % 3)), b(`r${round}`), seqno++);
      await tree.flushActiveMemtable();
      await tree.compact(strategy);
    }
    expect(tree.firstLevelSegmentCount()).to.be.lessThan(3);
    for (let i = 0; i < 90; i++) {
      const expected = `r${6 + (i % 3)}`;
      expect(s(await tree.get(key(i))), `key ${i}`).to.equal(expected);
    }
    expect(await tree.len()).to.equal(90);
    await tree.close();
  });

  it('fifo: drops the oldest segments over the size limit and expired ones', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    let seqno = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 20; i++) tree.insert(key(round * 100 + i), b('x'.repeat(20)), seqno++);
      await tree.flushActiveMemtable();
    }
    const perSegment = tree.diskSpace() / 4;
    await tree.compact(new FifoStrategy({ limitBytes: perSegment * 2.5 }));
    expect(tree.segmentCount()).to.equal(2);
    expect(await tree.get(key(0))).to.equal(undefined);
    expect(await tree.get(key(300))).to.not.equal(undefined);
    fs.advanceClock(0);
    await tree.compact(new FifoStrategy({ limitBytes: 1e9, ttlMs: -1 }));
    expect(tree.segmentCount()).to.equal(0);
    await tree.close();
  });

  it('major: drops overwritten versions and tombstones when no snapshot needs them', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 50; i++) tree.insert(key(i), b('old'), i);
    await tree.flushActiveMemtable();
    for (let i = 0; i < 50; i++) tree.insert(key(i), b('new'), 100 + i);
    for (let i = 0; i < 25; i++) tree.remove(key(i), 200 + i);
    await tree.flushActiveMemtable();
    // The flush already dropped versions shadowed inside its own memtable.
    expect(tree.approximateLen()).to.equal(100);
    await tree.compact(new MajorCompactionStrategy(1024));
    expect(tree.approximateLen()).to.equal(25);
    expect(tree.levelSegmentIds()[tree.config.levelCount - 1]!.length).to.be.at.least(1);
    expect(tree.segmentCount()).to.equal(
      tree.levelSegmentIds()[tree.config.levelCount - 1]!.length,
    );
    expect(await tree.len()).to.equal(25);
    expect(tree.getHighestPersistedSeqno()).to.equal(224);
    await tree.close();
  });

  it('keeps what an open snapshot sees through compaction, and collects it after close', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 20; i++) tree.insert(key(i), b('v1'), i);
    const snapshot = tree.snapshot(20);
    for (let i = 0; i < 20; i++) tree.insert(key(i), b('v2'), 100 + i);
    tree.remove(key(3), 200);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    expect(s(await snapshot.get(key(3)))).to.equal('v1');
    expect(await snapshot.len()).to.equal(20);
    expect((await collect(snapshot.iter())).every((x) => x.endsWith('=v1'))).to.equal(true);
    expect(s(await tree.get(key(4)))).to.equal('v2');
    expect(await tree.get(key(3))).to.equal(undefined);
    snapshot.close();
    snapshot.close();
    await tree.majorCompact();
    expect(tree.approximateLen()).to.equal(19);
    await tree.close();
  });

  it('a tombstone survives while an older version lives in a deeper level', async () => {
    const { tree } = await openSimulated({ ...tinyOptions, levelCount: 3 });
    tree.insert(key(1), b('deep'), 1);
    tree.insert(key(9), b('deep'), 2);
    await tree.flushActiveMemtable();
    await tree.majorCompact(); // now in L2
    tree.remove(key(1), 3);
    tree.insert(key(5), b('x'), 4);
    await tree.flushActiveMemtable();
    await tree.compact(new LeveledStrategy({ l0Trigger: 1 })); // L0 -> L1, L2 still holds key 1
    expect(tree.levelSegmentIds()[1]!.length).to.equal(1);
    expect(await tree.get(key(1))).to.equal(undefined);
    await tree.close();
  });
});

describe('Tree: snapshots', () => {
  it('see one state while writes, flushes and compactions go on', async () => {
    const { tree } = await openSimulated(tinyOptions);
    tree.insert(b('a'), b('abc'), 0);
    const snapshot = tree.snapshot(1);
    expect(await snapshot.len()).to.equal(await tree.len());
    tree.insert(b('b'), b('abc'), 1);
    expect(await tree.len()).to.equal(2);
    expect(await snapshot.len()).to.equal(1);
    expect(await snapshot.containsKey(b('a'))).to.equal(true);
    expect(await snapshot.containsKey(b('b'))).to.equal(false);
    await tree.flushActiveMemtable();
    tree.remove(b('a'), 2);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    expect(s(await snapshot.get(b('a')))).to.equal('abc');
    expect(s((await snapshot.firstKeyValue())?.key)).to.equal('a');
    expect(s((await snapshot.lastKeyValue())?.key)).to.equal('a');
    expect(await snapshot.isEmpty()).to.equal(false);
    expect(await collect(snapshot.prefix(b('a')))).to.deep.equal(['a=abc']);
    expect(await collect(snapshot.range({ gte: b('a') }))).to.deep.equal(['a=abc']);
    snapshot.close();
    expect(await tree.isEmpty()).to.equal(false);
    await tree.close();
  });
});
