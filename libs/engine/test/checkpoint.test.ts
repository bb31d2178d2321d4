import { expect } from 'chai';
import { SimulatedFileSystem, isStrataError } from '@strata/core';
import { MajorCompactionStrategy } from '../src/compaction/major.js';
import { LeveledStrategy, Tree } from '../src/index.js';
import { b, collect, openSimulated, s, tinyOptions } from './helpers.js';

describe('Tree: seqno of returned pairs', () => {
  it('reports the seqno of the version returned by iterators and first/last', async () => {
    const { tree } = await openSimulated(tinyOptions);
    tree.insert(b('a'), b('a1'), 1);
    tree.insert(b('b'), b('b2'), 2);
    await tree.flushActiveMemtable();
    tree.insert(b('a'), b('a5'), 5);
    tree.insert(b('c'), b('c7'), 7);
    const pairs = await tree.iter().toArray();
    expect(pairs.map((p) => `${s(p.key)}=${s(p.value)}@${p.seqno}`)).to.deep.equal([
      'a=a5@5',
      'b=b2@2',
      'c=c7@7',
    ]);
    const old = await tree.iter(5).toArray();
    expect(old.map((p) => `${s(p.key)}@${p.seqno}`)).to.deep.equal(['a@1', 'b@2']);
    const backward: string[] = [];
    for await (const p of tree.iter().reverse()) backward.push(`${s(p.key)}@${p.seqno}`);
    expect(backward).to.deep.equal(['c@7', 'b@2', 'a@5']);
    expect((await tree.firstKeyValue())?.seqno).to.equal(5);
    expect((await tree.lastKeyValue())?.seqno).to.equal(7);
    await tree.close();
  });
});

describe('Tree: checkpoint', () => {
  it('copies the flushed segments (not the memtables) into a tree that opens on its own', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    for (let i = 0; i < 200; i++) tree.insert(b(`k${String(i).padStart(3, '0')}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    await tree.compact(new LeveledStrategy());
    for (let i = 200; i < 260; i++) tree.insert(b(`k${i}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    tree.insert(b('unflushed'), b('x'), 1000);

    const flushedSeqno = await tree.checkpoint('/backups/cp1');
    expect(flushedSeqno).to.equal(259);
    expect(flushedSeqno).to.equal(tree.getHighestPersistedSeqno());

    const copy = await Tree.open('/backups/cp1', { fileSystem: fs });
    expect(copy.getHighestPersistedSeqno()).to.equal(259);
    expect(copy.levelSegmentIds()).to.deep.equal(tree.levelSegmentIds());
    expect(await copy.len()).to.equal(260);
    expect(await copy.get(b('unflushed'))).to.equal(undefined);
    expect(s(await copy.get(b('k123')))).to.equal('v123');
    // The copy is independent: compacting the source deletes its files, not the copy's links.
    await tree.compact(new MajorCompactionStrategy());
    expect(await copy.len()).to.equal(260);
    await copy.close();
    await tree.close();
  });

  it('refuses a target that already holds a tree', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    await tree.checkpoint('/cp');
    const error = await tree.checkpoint('/cp').catch((e: unknown) => e);
    expect(isStrataError(error, 'INVALID_ARGUMENT')).to.equal(true);
    const empty = await Tree.open('/empty', { fileSystem: fs });
    expect(await empty.checkpoint('/cp-empty')).to.equal(undefined);
    await empty.close();
    await tree.close();
  });

  it('pins the version: a compaction running meanwhile cannot delete a file mid-copy', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 50; i++) tree.insert(b(`k${i}`), b(`v${round}-${i}`), round * 50 + i);
      await tree.flushActiveMemtable();
    }
    const before = tree.levelSegmentIds();
    const [flushedSeqno] = await Promise.all([
      tree.checkpoint('/cp'),
      tree.compact(new MajorCompactionStrategy()),
    ]);
    expect(tree.levelSegmentIds()).to.not.deep.equal(before);
    expect(flushedSeqno).to.equal(199);
    const copy = await Tree.open('/cp', { fileSystem: fs });
    expect(await collect(copy.range({ gte: b('k1'), lt: b('k11') }))).to.deep.equal([
      'k1=v3-1',
      'k10=v3-10',
    ]);
    expect(await copy.len()).to.equal(50);
    await copy.close();
    await tree.close();
  });

  it('is durable: the copy survives a power loss right after checkpoint returns', async () => {
    const fs = new SimulatedFileSystem();
    const { tree } = await openSimulated(tinyOptions, fs);
    for (let i = 0; i < 100; i++) tree.insert(b(`k${i}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    await tree.checkpoint('/snapshots/one');
    const rebooted = fs.crash({ random: Math.random });
    const copy = await Tree.open('/snapshots/one', { fileSystem: rebooted });
    expect(await copy.len()).to.equal(100);
    expect(copy.getHighestPersistedSeqno()).to.equal(99);
    await copy.close();
  });
});
