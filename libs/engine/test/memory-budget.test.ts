import { expect } from 'chai';
import { BlockCache } from '../src/cache/block-cache.js';
import { Tree } from '../src/index.js';
import { b, withTempDir } from './helpers.js';

const KIB = 1024;
const key = (i: number): Buffer => b(`k${String(i).padStart(7, '0')}`);

describe('Memory budget: memtables and index/filter blocks are charged to the block cache', () => {
  it('the cache keeps its blocks within the capacity less what is pinned and reserved', () => {
    let reservedBytes = 0;
    const cache = new BlockCache(100 * KIB, () => reservedBytes);
    for (let block = 0; block < 60; block++) cache.insert(1, block, Buffer.alloc(2 * KIB));
    expect(cache.sizeBytes).to.be.at.most(100 * KIB);
    expect(cache.sizeBytes).to.be.greaterThan(90 * KIB);
    cache.pin(30 * KIB);
    expect(cache.sizeBytes).to.be.at.most(70 * KIB);
    reservedBytes = 50 * KIB;
    cache.enforceLimit();
    expect(cache.sizeBytes).to.be.at.most(20 * KIB);
    expect(cache.stats()).to.include({ pinnedBytes: 30 * KIB, limitBytes: 20 * KIB });
    // Nothing left for blocks: a block is neither admitted nor kept.
    reservedBytes = 80 * KIB;
    expect(cache.shouldAdmit(2 * KIB)).to.equal(false);
    cache.insert(1, 100, Buffer.alloc(2 * KIB));
    expect(cache.get(1, 100)).to.equal(undefined);
    cache.unpin(30 * KIB);
    reservedBytes = 0;
    expect(cache.stats().limitBytes).to.equal(100 * KIB);
    expect(cache.shouldAdmit(2 * KIB)).to.equal(true);
  });

  it('blocks are found by segment and number; a segment is evicted whole; a re-insert replaces', () => {
    const cache = new BlockCache(1024 * KIB);
    for (let block = 0; block < 100; block++) {
      cache.insert(7, block, Buffer.from(`a${block}`));
      cache.insert(8, block, Buffer.from(`b${block}`));
    }
    cache.insert(8, 5000, Buffer.from('far'));
    expect(cache.get(7, 42)?.toString()).to.equal('a42');
    expect(cache.get(8, 99)?.toString()).to.equal('b99');
    expect(cache.get(8, 5000)?.toString()).to.equal('far');
    expect(cache.get(9, 0)).to.equal(undefined);
    expect(cache.get(7, 100)).to.equal(undefined);
    expect(cache.stats().entries).to.equal(201);
    cache.insert(7, 42, Buffer.from('again'));
    expect(cache.get(7, 42)?.toString()).to.equal('again');
    expect(cache.stats().entries).to.equal(201);
    cache.evictSegment(7, 100);
    expect(cache.get(7, 42)).to.equal(undefined);
    expect(cache.get(8, 42)?.toString()).to.equal('b42');
    expect(cache.stats().entries).to.equal(101);
    expect(cache.stats()).to.include({ hits: 5, misses: 3 });
  });

  it('a tree under a budget: memtables squeeze the cache, a reopened tree gives it nearly all', async () => {
    await withTempDir(async (dir) => {
      const budget = 4 * 1024 * KIB;
      const tree = await Tree.open(dir, { memoryBudgetBytes: budget, blockSizeBytes: 1024 });
      let seqno = 0;
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 5000; i++) tree.insert(key(i * 3 + round), b('v'.repeat(100)), seqno++);
        await tree.flushActiveMemtable();
      }
      for (let i = 0; i < 15000; i += 7) await tree.get(key(i));
      const warm = tree.cacheStats();
      expect(warm.pinnedBytes, 'index and filter blocks of 3 segments').to.be.greaterThan(0);
      expect(warm.sizeBytes + warm.pinnedBytes).to.be.at.most(budget);
      // 1.5 MiB in the active memtable: the next cached block makes room for it.
      for (let i = 0; i < 12000; i++) tree.insert(key(100000 + i), b('w'.repeat(100)), seqno++);
      const memtableBytes = tree.activeMemtableSize();
      expect(memtableBytes).to.be.greaterThan(1024 * KIB);
      for (let i = 1; i < 15000; i += 7) await tree.get(key(i));
      const squeezed = tree.cacheStats();
      expect(squeezed.sizeBytes + squeezed.pinnedBytes + memtableBytes).to.be.at.most(budget);
      await tree.flushActiveMemtable();
      await tree.close();

      const reopened = await Tree.open(dir, { memoryBudgetBytes: budget });
      for (let i = 0; i < 15000; i++) await reopened.get(key(i));
      const after = reopened.cacheStats();
      expect(after.limitBytes).to.be.greaterThan(budget - after.pinnedBytes - 64 * KIB);
      await reopened.close();
    });
  });
});
