import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import type { Snapshot, Tree } from '../src/index.js';
import { Memtable, Tree as TreeClass, ValueKind, inspectTree, verifyTree } from '../src/index.js';
import { b, codeOf, collect, openSimulated, s, tinyOptions } from './helpers.js';

const key = (i: number): Buffer => b(`k${String(i).padStart(3, '0')}`);

/**
 * Keys 0..99 at seqnos 0..99 (value `v<i>`), then `[k020, k040)` deleted at seqno 100. A snapshot
 * at 100 keeps the covered versions through the flush (without one, the flush drops them).
 */
async function treeWithRangeDelete(where: 'memtable' | 'sealed' | 'segment' | 'split') {
  const { tree, fs } = await openSimulated(tinyOptions);
  for (let i = 0; i < 100; i++) tree.insert(key(i), b(`v${i}`), i);
  if (where === 'split') await tree.flushActiveMemtable();
  tree.removeRange(key(20), key(40), 100);
  const keeper = tree.snapshot(100);
  if (where === 'sealed') tree.rotateMemtable();
  if (where === 'segment' || where === 'split') await tree.flushActiveMemtable();
  return { tree, fs, keeper };
}

async function keysOf(iterator: AsyncIterable<{ key: Buffer; value: Buffer }>): Promise<string[]> {
  return (await collect(iterator)).map((pair) => pair.split('=')[0]!);
}

const expectedKeys = (from: number, to: number, skip: (i: number) => boolean): string[] => {
  const out: string[] = [];
  for (let i = from; i < to; i++) if (!skip(i)) out.push(key(i).toString());
  return out;
};
const deleted = (i: number): boolean => i >= 20 && i < 40;

for (const where of ['memtable', 'sealed', 'segment', 'split'] as const) {
  describe(`Tree.removeRange: reads (tombstone in the ${where === 'split' ? 'memtable-then-segment above the data' : where})`, () => {
    let tree: Tree;
    let keeper: Snapshot;
    beforeEach(async () => {
      ({ tree, keeper } = await treeWithRangeDelete(where));
    });
    afterEach(async () => {
      keeper.close();
      await tree.close();
    });

    it('point reads: covered keys are gone, the bounds are right, older reads still see them', async () => {
      expect(await tree.get(key(19))).to.not.equal(undefined);
      expect(await tree.get(key(20))).to.equal(undefined);
      expect(await tree.get(key(39))).to.equal(undefined);
      expect(s(await tree.get(key(40)))).to.equal('v40');
      expect(await tree.containsKey(key(30))).to.equal(false);
      // A read at seqno 100 sees entries below 100: the tombstone is not yet visible.
      expect(s(await tree.get(key(30), 100))).to.equal('v30');
      expect(await tree.containsKey(key(30), 100)).to.equal(true);
      // As stored: a deletion at the tombstone's seqno.
      const entry = await tree.getInternalEntry(key(30), false);
      expect(entry).to.deep.include({ seqno: 100, kind: ValueKind.Tombstone });
      expect(await tree.getInternalEntry(key(30))).to.equal(undefined);
      expect((await tree.getInternalEntry(key(30), false, 100))?.value.toString()).to.equal('v30');
    });

    it('a put after the tombstone is visible again, at its seqno and above only', async () => {
      tree.insert(key(25), b('again'), 101);
      expect(s(await tree.get(key(25)))).to.equal('again');
      expect(await tree.get(key(25), 101)).to.equal(undefined);
      expect(s(await tree.get(key(25), 100))).to.equal('v25');
      expect(await tree.len()).to.equal(81);
    });

    it('iterators skip covered keys in both directions and honour the read seqno', async () => {
      expect(await keysOf(tree.iter())).to.deep.equal(expectedKeys(0, 100, deleted));
      expect(await keysOf(tree.iter().reverse())).to.deep.equal(
        expectedKeys(0, 100, deleted).reverse(),
      );
      expect(await keysOf(tree.iter(100))).to.deep.equal(expectedKeys(0, 100, () => false));
      expect(await keysOf(tree.range({ gte: key(15), lt: key(45) }))).to.deep.equal(
        expectedKeys(15, 45, deleted),
      );
      expect(await keysOf(tree.range({ gt: key(20), lte: key(40) }).reverse())).to.deep.equal(
        expectedKeys(21, 41, deleted).reverse(),
      );
      expect(await keysOf(tree.prefix(b('k02')))).to.deep.equal([]);
      expect(await keysOf(tree.prefix(b('k04')))).to.deep.equal(expectedKeys(40, 50, deleted));
      expect(await tree.len()).to.equal(80);
      expect(await tree.len(100)).to.equal(100);
      expect(s((await tree.firstKeyValue())?.key)).to.equal('k000');
      expect(s((await tree.lastKeyValue())?.key)).to.equal('k099');
    });

    it('first/last/isEmpty see through a tombstone at either end', async () => {
      tree.removeRange(key(0), key(10), 101);
      tree.removeRange(key(90), b('l'), 102);
      expect(s((await tree.firstKeyValue())?.key)).to.equal('k010');
      expect(s((await tree.lastKeyValue())?.key)).to.equal('k089');
      tree.removeRange(b('a'), b('z'), 103);
      expect(await tree.isEmpty()).to.equal(true);
      expect(await tree.firstKeyValue()).to.equal(undefined);
      expect(await tree.isEmpty(103)).to.equal(false);
    });

    it('iterators meet in the middle across covered keys', async () => {
      const iterator = tree.iter();
      const front: string[] = [];
      const back: string[] = [];
      for (let turn = 0; ; turn++) {
        const pair = turn % 3 === 0 ? await iterator.nextBack() : await iterator.next();
        if (pair === undefined) break;
        (turn % 3 === 0 ? back : front).push(pair.key.toString());
      }
      expect([...front, ...back.reverse()]).to.deep.equal(expectedKeys(0, 100, deleted));
    });

    it('snapshots below the tombstone keep seeing the keys', async () => {
      const before = tree.snapshot(100);
      const after = tree.snapshot(101);
      expect(await before.len()).to.equal(100);
      expect(await after.len()).to.equal(80);
      expect(s(await before.get(key(21)))).to.equal('v21');
      expect(await after.get(key(21))).to.equal(undefined);
      before.close();
      after.close();
    });
  });
}

describe('Tree.removeRange: arguments, memtables and reopen', () => {
  it('refuses start >= end, bad keys and seqnos, and a closed tree', async () => {
    const { tree } = await openSimulated();
    expect(codeOf(() => tree.removeRange(b('b'), b('a'), 1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.removeRange(b('a'), b('a'), 1))).to.equal('INVALID_ARGUMENT');
    // A range may start at the empty key (the smallest key); it cannot end there.
    expect(codeOf(() => tree.removeRange(b('a'), b(''), 1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.removeRange(b(''), b(''), 1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.removeRange(b('a'), b('b'), -1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.removeRange(b('a'), Buffer.alloc(70_000, 1), 1))).to.equal(
      'KEY_TOO_LARGE',
    );
    const record = b('..ba..');
    expect(codeOf(() => tree.removeRangeFrom(record, 2, 1, 3, 1, 1))).to.equal('INVALID_ARGUMENT');
    // Nothing refused reached the memtable.
    expect(tree.rotateMemtable()).to.equal(undefined);
    expect(tree.getHighestSeqno()).to.equal(undefined);
    await tree.close();
    expect(codeOf(() => tree.removeRange(b('a'), b('b'), 1))).to.equal('CLOSED');
  });

  it('removeRangeFrom takes the bounds out of a record and returns the memtable size', async () => {
    const { tree } = await openSimulated();
    tree.insert(b('user/1'), b('x'), 1);
    tree.insert(b('user0'), b('y'), 2);
    const record = b('##user/@@user0##');
    const size = tree.removeRangeFrom(record, 2, 5, 9, 5, 3);
    record.fill(0);
    expect(size).to.equal(tree.activeMemtableSize());
    expect(await tree.get(b('user/1'))).to.equal(undefined);
    expect(s(await tree.get(b('user0')))).to.equal('y');
    const [itemSizeBytes, memtableSizeBytes] = tree.removeRange(b('a'), b('b'), 4);
    expect(itemSizeBytes).to.be.greaterThan(2);
    expect(memtableSizeBytes).to.equal(tree.activeMemtableSize());
    expect(tree.getHighestSeqno()).to.equal(4);
    await tree.close();
  });

  it('a memtable holding only range tombstones is flushed to a segment and survives a reopen', async () => {
    const fs = new SimulatedFileSystem();
    const { tree } = await openSimulated(tinyOptions, fs);
    for (let i = 0; i < 50; i++) tree.insert(key(i), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    tree.removeRange(key(10), key(20), 50);
    tree.removeRange(key(15), key(30), 51);
    // Fragments [10, 15)@50, [15, 20)@50 and @51, [20, 30)@51: four pieces.
    expect(tree.approximateLen()).to.equal(50 + 4);
    expect(await tree.flushActiveMemtable()).to.match(/segments\/2\.seg$/);
    expect(tree.getHighestPersistedSeqno()).to.equal(51);
    await tree.close();
    // A segment with range tombstones and no entry: no data block, checked all the same.
    const info = await inspectTree('/tree', { fileSystem: fs });
    expect(info.levels[0]![0]).to.deep.include({ itemCount: 0, blockCount: 0, keyCount: 0 });
    expect((await verifyTree('/tree', { fileSystem: fs })).segments).to.equal(2);
    const reopened = await TreeClass.open('/tree', { fileSystem: fs });
    expect(await reopened.len()).to.equal(30);
    expect(await reopened.get(key(25))).to.equal(undefined);
    expect(s(await reopened.get(key(25), 51))).to.equal('v25');
    expect(s(await reopened.get(key(12), 50))).to.equal('v12');
    expect(await keysOf(reopened.range({ gte: key(5), lt: key(35) }).reverse())).to.deep.equal(
      expectedKeys(5, 35, (i) => i >= 10 && i < 30).reverse(),
    );
    await reopened.close();
  });

  it('a flush without a snapshot drops the versions a range tombstone hides, keeps the rest', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 100; i++) tree.insert(key(i), b(`v${i}`), i);
    tree.removeRange(key(20), key(40), 100);
    tree.insert(key(30), b('new'), 101);
    // The oldest reader sees the tombstone: below it, nobody sees keys 20..39 any more.
    const snapshot = tree.snapshot(101);
    await tree.flushActiveMemtable();
    // Keys 20..39 (seqnos 20..39) dropped; k030@101 (at the watermark) and the tombstone kept.
    expect(tree.approximateLen()).to.equal(100 - 20 + 1 + 1);
    expect(s(await snapshot.get(key(45)))).to.equal('v45');
    expect(await snapshot.get(key(30))).to.equal(undefined);
    expect(s(await tree.get(key(30)))).to.equal('new');
    expect(await tree.len()).to.equal(81);
    snapshot.close();
    await tree.close();
  });

  it('a flush keeps the versions a snapshot below the range tombstone sees', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 100; i++) tree.insert(key(i), b(`v${i}`), i);
    tree.removeRange(key(20), key(40), 100);
    const snapshot = tree.snapshot(50);
    await tree.flushActiveMemtable();
    expect(tree.approximateLen()).to.equal(100 + 1);
    expect(s(await snapshot.get(key(30)))).to.equal('v30');
    expect(await snapshot.len()).to.equal(50);
    expect(await tree.len()).to.equal(80);
    snapshot.close();
    await tree.close();
  });

  it('discardActiveAbove drops range tombstones above the seqno too', async () => {
    const { tree } = await openSimulated();
    tree.insert(b('a1'), b('x'), 1);
    tree.removeRange(b('a'), b('b'), 2);
    tree.removeRange(b('a'), b('c'), 3);
    tree.insert(b('b1'), b('y'), 4);
    // The pieces [a, b)@3 and [b, c)@3, and b1@4.
    expect(tree.discardActiveAbove(2)).to.equal(3);
    expect(await tree.get(b('a1'))).to.equal(undefined);
    tree.insert(b('b1'), b('z'), 3);
    expect(s(await tree.get(b('b1')))).to.equal('z');
    expect(tree.discardActiveAbove(1)).to.equal(2);
    expect(s(await tree.get(b('a1')))).to.equal('x');
    await tree.close();
  });

  it('a memtable filled by recovery carries its range tombstones into the tree', async () => {
    const { tree } = await openSimulated();
    const memtable = new Memtable();
    memtable.insert(b('a'), b('1'), 1, ValueKind.Value);
    memtable.insertRangeTombstone(b('a'), b('b'), 2);
    memtable.insert(b('c'), b('3'), 3, ValueKind.Value);
    expect(codeOf(() => memtable.insertRangeTombstone(b('b'), b('a'), 4))).to.equal(
      'INVALID_ARGUMENT',
    );
    tree.setActiveMemtable(memtable);
    expect(await tree.get(b('a'))).to.equal(undefined);
    expect(await keysOf(tree.iter())).to.deep.equal(['c']);
    expect(tree.getHighestMemtableSeqno()).to.equal(3);
    await tree.close();
  });
});
