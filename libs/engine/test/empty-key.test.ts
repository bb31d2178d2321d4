import { expect } from 'chai';
import { Tree, inspectTree, verifyTree } from '../src/index.js';
import type { KeyValue } from '../src/index.js';
import { b, collect, openSimulated, s, tinyOptions, withTempDir } from './helpers.js';

/*
 * The empty key (0 bytes) is an ordinary key, the smallest of all: in memtables, in segments (data
 * blocks, block index, bloom filter, expiry block, key range in the metadata), under range
 * tombstones that start at it, in both iteration directions, through flushes, compactions and
 * reopens.
 */

const EMPTY = Buffer.alloc(0);

async function keysOf(iterator: AsyncIterable<KeyValue>): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of iterator) out.push(`<${key.toString('hex')}>`);
  return out;
}

/** Every way to read the tree that sees the empty key, checked against `value` (undefined: gone). */
async function expectEmptyKey(
  tree: Tree,
  value: string | undefined,
  others: string[],
): Promise<void> {
  expect(s(await tree.get(EMPTY))).to.equal(value);
  expect(await tree.containsKey(EMPTY)).to.equal(value !== undefined);
  const all = [...(value === undefined ? [] : [`=${value}`]), ...others];
  expect(await collect(tree.iter())).to.deep.equal(all);
  expect(await collect(tree.iter().reverse())).to.deep.equal([...all].reverse());
  // No lower bound, a lower bound at the empty key, the empty prefix: all include it.
  expect(await collect(tree.range({ lt: b('zz') }))).to.deep.equal(all);
  expect(await collect(tree.range({ gte: EMPTY, lt: b('zz') }))).to.deep.equal(all);
  expect(await collect(tree.range({ lte: EMPTY }))).to.deep.equal(all.slice(0, value ? 1 : 0));
  expect(await collect(tree.range({ lte: EMPTY }).reverse())).to.deep.equal(
    all.slice(0, value ? 1 : 0),
  );
  expect(await collect(tree.prefix(EMPTY))).to.deep.equal(all);
  // Strictly above the empty key: everything else.
  expect(await collect(tree.range({ gt: EMPTY }))).to.deep.equal(others);
  expect(await collect(tree.range({ gt: EMPTY }).reverse())).to.deep.equal([...others].reverse());
  const first = await tree.firstKeyValue();
  if (value === undefined) expect(first?.key.length ?? -1).to.not.equal(0);
  else expect([first?.key.length, s(first?.value)]).to.deep.equal([0, value]);
  const last = await tree.lastKeyValue();
  if (others.length === 0) expect(last?.key.length).to.equal(value === undefined ? undefined : 0);
  // Meeting in the middle from both ends never returns the empty key twice.
  const iterator = tree.iter();
  const seen: string[] = [];
  for (;;) {
    const back = await iterator.nextBack();
    if (!back) break;
    seen.push(s(back.key)!);
    const front = await iterator.next();
    if (!front) break;
    seen.push(s(front.key)!);
  }
  expect(seen.length).to.equal(all.length);
}

describe('Tree: the empty key', () => {
  it('is put, read, iterated both ways and deleted like any key, in the memtable and in segments, through a major compaction', async () => {
    const { tree } = await openSimulated(tinyOptions);
    tree.insert(EMPTY, b('empty-1'), 1);
    tree.insert(Buffer.from([0]), b('zero'), 2);
    tree.insert(b('a'), b('A'), 3);
    const others = ['\u0000=zero', 'a=A'];
    await expectEmptyKey(tree, 'empty-1', others);
    await tree.flushActiveMemtable();
    await expectEmptyKey(tree, 'empty-1', others);
    // A newer version in the memtable over the one in a segment; a snapshot keeps the older one.
    tree.insert(EMPTY, b('empty-2'), 4);
    const before = tree.snapshot(5);
    await expectEmptyKey(tree, 'empty-2', others);
    tree.remove(EMPTY, 5);
    await expectEmptyKey(tree, undefined, others);
    expect(s(await before.get(EMPTY))).to.equal('empty-2');
    expect(s(await tree.get(EMPTY, 4))).to.equal('empty-1');
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    await expectEmptyKey(tree, undefined, others);
    expect(s(await before.get(EMPTY))).to.equal('empty-2');
    before.close();
    tree.insert(EMPTY, b('empty-3'), 6);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    await expectEmptyKey(tree, 'empty-3', others);
    await tree.close();
  });

  it('a range delete from the empty key covers it, in the memtable, in segments and after compaction; one from above it does not', async () => {
    const { tree } = await openSimulated(tinyOptions);
    tree.insert(EMPTY, b('e'), 1);
    tree.insert(b('a'), b('A'), 2);
    tree.insert(b('c'), b('C'), 3);
    await tree.flushActiveMemtable();
    tree.removeRange(Buffer.from([0]), b('b'), 4);
    await expectEmptyKey(tree, 'e', ['c=C']);
    tree.removeRange(EMPTY, b('b'), 5);
    await expectEmptyKey(tree, undefined, ['c=C']);
    expect(s(await tree.get(EMPTY, 5))).to.equal('e');
    await tree.flushActiveMemtable();
    await expectEmptyKey(tree, undefined, ['c=C']);
    await tree.majorCompact();
    await expectEmptyKey(tree, undefined, ['c=C']);
    // Written after the range delete: visible again.
    tree.insert(EMPTY, b('again'), 6);
    await expectEmptyKey(tree, 'again', ['c=C']);
    await tree.close();
  });

  it('a segment holding only the empty key has it as its key range; an expiring empty key is in the expiry block; verify and inspect pass; all survive a reopen on disk', async () => {
    await withTempDir(async (dir) => {
      let nowMs = 1000;
      const options = { ...tinyOptions, clock: () => nowMs };
      const tree = await Tree.open(dir, options);
      tree.insert(EMPTY, b('soon-gone'), 1, 5000);
      await tree.flushActiveMemtable();
      // A second segment without the empty key: its bloom filter must not answer for it.
      tree.insert(b('k'), b('K'), 2);
      await tree.flushActiveMemtable();
      const listed: [number, number, number][] = [];
      for await (const entry of tree.expiringEntries()) {
        listed.push([entry.key.length, entry.seqno, entry.expiresAtMs]);
      }
      expect(listed).to.deep.equal([[0, 1, 5000]]);
      await tree.close();

      const inspection = await inspectTree(dir);
      const segments = inspection.levels.flat();
      expect(
        segments.map((segment) => [segment.minKey.toString('hex'), segment.maxKey.toString('hex')]),
      ).to.have.deep.members([
        ['', ''],
        ['6b', '6b'],
      ]);
      expect((await verifyTree(dir)).segments).to.equal(2);

      const reopened = await Tree.open(dir, options);
      await expectEmptyKey(reopened, 'soon-gone', ['k=K']);
      nowMs = 5000;
      await expectEmptyKey(reopened, undefined, ['k=K']);
      nowMs = 1000;
      await reopened.majorCompact();
      await expectEmptyKey(reopened, 'soon-gone', ['k=K']);
      await reopened.close();
      expect((await verifyTree(dir)).segments).to.be.greaterThan(0);
    });
  });

  it('sorts before every other key, also many versions of it across blocks and segments', async () => {
    const { tree } = await openSimulated(tinyOptions);
    let seqno = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 60; i++) {
        tree.insert(
          i % 10 === 0 ? EMPTY : Buffer.from([i % 7, round]),
          b(`v${round}-${i}`),
          seqno++,
        );
      }
      await tree.flushActiveMemtable();
    }
    await tree.compact();
    const keys = await keysOf(tree.iter());
    expect(keys[0]).to.equal('<>');
    expect(keys.filter((key) => key === '<>')).to.have.length(1);
    expect(s(await tree.get(EMPTY))).to.equal('v3-50');
    const reversed = await keysOf(tree.iter().reverse());
    expect(reversed).to.deep.equal([...keys].reverse());
    await tree.close();
  });
});
