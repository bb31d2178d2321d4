import { expect } from 'chai';
import { Memtable, ValueKind } from '../src/index.js';
import { b, codeOf, collect, openSimulated, s, tinyOptions } from './helpers.js';

describe('Tree: writes and reads in memory and on disk', () => {
  it('inserts, gets, removes and answers containsKey', async () => {
    const { tree } = await openSimulated();
    expect(await tree.isEmpty()).to.equal(true);
    const [itemSize, memtableSize] = tree.insert(b('a'), b('abc'), 0);
    expect(itemSize).to.be.greaterThan(4);
    expect(memtableSize).to.equal(itemSize);
    tree.insert(b('b'), b('xyz'), 1);
    expect(s(await tree.get(b('a')))).to.equal('abc');
    expect(await tree.containsKey(b('b'))).to.equal(true);
    tree.remove(b('a'), 2);
    expect(await tree.get(b('a'))).to.equal(undefined);
    expect(await tree.containsKey(b('a'))).to.equal(false);
    expect(s(await tree.get(b('a'), 2))).to.equal('abc');
    const internal = await tree.getInternalEntry(b('a'), false);
    expect(internal?.kind).to.equal(ValueKind.Tombstone);
    expect(await tree.getInternalEntry(b('a'), true)).to.equal(undefined);
    expect(await tree.len()).to.equal(1);
    expect(tree.approximateLen()).to.equal(3);
    expect(tree.getHighestSeqno()).to.equal(2);
    expect(tree.getHighestMemtableSeqno()).to.equal(2);
    expect(tree.getHighestPersistedSeqno()).to.equal(undefined);
    expect(tree.activeMemtableSize()).to.be.greaterThan(0);
    await tree.close();
  });

  it('insertFrom and removeFrom take keys and values as byte ranges of one buffer', async () => {
    const { tree } = await openSimulated({ maxValueSizeBytes: 10 });
    // A record-like buffer: "..key-a..value-1..key-b..", with keys longer and shorter than the
    // memtable's 16-byte key prefix.
    const source = Buffer.from('##key-a-0123456789abcdef##value-1##b##');
    const longKey = { start: 2, length: 22 };
    const value = { start: 26, length: 7 };
    expect(
      tree.insertFrom(source, longKey.start, longKey.length, value.start, value.length, 1),
    ).to.equal(tree.activeMemtableSize());
    tree.insertFrom(source, 35, 1, 0, 0, 2);
    tree.insert(b('key-a-0123456789abcdeZ'), b('other'), 3);
    expect(s(await tree.get(b('key-a-0123456789abcdef')))).to.equal('value-1');
    expect(s(await tree.get(b('b')))).to.equal('');
    tree.removeFrom(source, longKey.start, longKey.length, 4);
    expect(await tree.get(b('key-a-0123456789abcdef'))).to.equal(undefined);
    expect(s(await tree.get(b('key-a-0123456789abcdef'), 4))).to.equal('value-1');
    // The source can change afterwards: the memtable holds copies.
    source.fill(0);
    expect(await collect(tree.iter(4))).to.deep.equal([
      'b=',
      'key-a-0123456789abcdeZ=other',
      'key-a-0123456789abcdef=value-1',
    ]);
    // A zero-length key range is the empty key, an ordinary key.
    tree.insertFrom(source, 0, 0, 0, 1, 5);
    expect((await tree.get(Buffer.alloc(0)))?.toString('hex')).to.equal('00');
    expect(codeOf(() => tree.insertFrom(source, 0, 1, 0, 11, 5))).to.equal('VALUE_TOO_LARGE');
    expect(codeOf(() => tree.removeFrom(source, 0, 64 * 1024 + 1, 5))).to.equal('KEY_TOO_LARGE');
    expect(codeOf(() => tree.insertFrom(source, 0, 1, 0, 1, -1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.insertFrom(source, 30, 10, 0, 1, 5))).to.equal('INTERNAL');
    await tree.close();
  });

  it('flushes to segments and reads them back, with reads at older seqnos', async () => {
    const { tree } = await openSimulated(tinyOptions);
    for (let i = 0; i < 200; i++) tree.insert(b(`k${String(i).padStart(4, '0')}`), b(`v${i}`), i);
    const path = await tree.flushActiveMemtable();
    expect(path).to.match(/segments\/\d+\.seg$/);
    expect(tree.segmentCount()).to.equal(1);
    expect(tree.firstLevelSegmentCount()).to.equal(1);
    expect(tree.activeMemtableSize()).to.equal(0);
    expect(await tree.flushActiveMemtable()).to.equal(undefined);
    for (let i = 0; i < 200; i += 7) {
      expect(s(await tree.get(b(`k${String(i).padStart(4, '0')}`)))).to.equal(`v${i}`);
    }
    expect(await tree.get(b('k0100'), 100)).to.equal(undefined);
    expect(s(await tree.get(b('k0100'), 101))).to.equal('v100');
    expect(await tree.get(b('nope'))).to.equal(undefined);
    tree.insert(b('k0001'), b('new'), 500);
    await tree.flushActiveMemtable();
    expect(s(await tree.get(b('k0001')))).to.equal('new');
    expect(s(await tree.get(b('k0001'), 500))).to.equal('v1');
    expect(await tree.len()).to.equal(200);
    expect(tree.diskSpace()).to.be.greaterThan(1000);
    // Two flushes, two level-0 segments: their sizes add up to the tree's disk space.
    const levels = tree.levelSegments();
    expect(levels[0]!.map((segment) => segment.id)).to.deep.equal(tree.levelSegmentIds()[0]);
    expect(levels.flat()).to.have.length(2);
    expect(levels.flat().reduce((sum, segment) => sum + segment.fileSizeBytes, 0)).to.equal(
      tree.diskSpace(),
    );
    expect(tree.getHighestPersistedSeqno()).to.equal(500);
    expect((await tree.firstKeyValue())?.key.toString()).to.equal('k0000');
    expect((await tree.lastKeyValue())?.key.toString()).to.equal('k0199');
    await tree.close();
  });

  it('iterates ranges and prefixes in both directions across memtables and segments', async () => {
    const { tree } = await openSimulated(tinyOptions);
    const keys = ['a', 'ab', 'abc', 'b', 'ba', 'c'];
    keys.forEach((k, i) => tree.insert(b(k), b(k.toUpperCase()), i));
    await tree.flushActiveMemtable();
    tree.insert(b('abd'), b('ABD'), 10);
    tree.remove(b('b'), 11);
    expect(await collect(tree.iter())).to.deep.equal([
      'a=A',
      'ab=AB',
      'abc=ABC',
      'abd=ABD',
      'ba=BA',
      'c=C',
    ]);
    expect(await collect(tree.prefix(b('ab')))).to.deep.equal(['ab=AB', 'abc=ABC', 'abd=ABD']);
    expect(await collect(tree.range({ gt: b('a'), lte: b('ba') }))).to.deep.equal([
      'ab=AB',
      'abc=ABC',
      'abd=ABD',
      'ba=BA',
    ]);
    expect(await collect(tree.range({ gte: b('ab'), lt: b('ba') }).reverse())).to.deep.equal([
      'abd=ABD',
      'abc=ABC',
      'ab=AB',
    ]);
    const it = tree.iter();
    expect(s((await it.next())?.key)).to.equal('a');
    expect(s((await it.nextBack())?.key)).to.equal('c');
    expect(s((await it.nextBack())?.key)).to.equal('ba');
    expect(s((await it.next())?.key)).to.equal('ab');
    expect(s((await it.next())?.key)).to.equal('abc');
    expect(s((await it.next())?.key)).to.equal('abd');
    expect(await it.next()).to.equal(undefined);
    expect(await it.nextBack()).to.equal(undefined);
    // Chunks from both ends meet in the middle without yielding a pair twice.
    const chunked = tree.iter();
    expect((await chunked.nextChunk(2)).map((item) => s(item.key))).to.deep.equal(['a', 'ab']);
    expect((await chunked.nextBackChunk(2)).map((item) => s(item.key))).to.deep.equal(['c', 'ba']);
    expect((await chunked.nextBackChunk(10)).map((item) => s(item.key))).to.deep.equal([
      'abd',
      'abc',
    ]);
    expect(await chunked.nextChunk(10)).to.deep.equal([]);
    // Read at an old seqno sees the deleted key, not the later insert.
    expect(await collect(tree.iter(6))).to.deep.equal([
      'a=A',
      'ab=AB',
      'abc=ABC',
      'b=B',
      'ba=BA',
      'c=C',
    ]);
    await tree.close();
  });

  it('keeps sealed memtables readable until their segment is registered', async () => {
    const { tree } = await openSimulated();
    tree.insert(b('x'), b('1'), 1);
    const sealed = tree.rotateMemtable();
    expect(sealed).to.not.equal(undefined);
    expect(tree.rotateMemtable()).to.equal(undefined);
    expect(s(await tree.get(b('x')))).to.equal('1');
    expect(tree.getHighestSeqno()).to.equal(1);
    const segment = await tree.flushMemtable(sealed!.id, sealed!.memtable);
    expect(s(await tree.get(b('x')))).to.equal('1');
    await tree.registerSegments([segment]);
    expect(tree.segmentCount()).to.equal(1);
    expect(s(await tree.get(b('x')))).to.equal('1');

    const extra = new Memtable();
    extra.insert(b('y'), b('2'), 5, ValueKind.Value);
    tree.addSealedMemtable(1000, extra);
    expect(s(await tree.get(b('y')))).to.equal('2');
    tree.freeSealedMemtable(1000);
    expect(await tree.get(b('y'))).to.equal(undefined);

    const replay = new Memtable();
    replay.insert(b('z'), b('3'), 9, ValueKind.Value);
    tree.setActiveMemtable(replay);
    expect(s(await tree.get(b('z')))).to.equal('3');
    expect(tree.lockActiveMemtable()).to.equal(replay);
    expect(tree.getHighestMemtableSeqno()).to.equal(9);
    await tree.close();
  });

  it('discardActiveAbove drops only the active entries above a seqno, keeps open readers on the old memtable, keeps repeated writes at one seqno in order, and refuses when a sealed memtable holds such entries', async () => {
    const { tree } = await openSimulated();
    tree.insert(b('a'), b('1'), 1);
    tree.insert(b('b'), b('2'), 2);
    // The same key at the same seqno twice: the later write wins, before and after a discard.
    tree.insert(b('b'), b('2-again'), 2);
    tree.remove(b('a'), 3);
    tree.insert(b('c'), b('early'), 4);
    tree.insert(b('a'), b('early'), 5);
    // Reads at seqno 6: sees the entries about to be discarded.
    const reader = tree.iter();
    expect(tree.discardActiveAbove(3)).to.equal(2);
    expect(tree.getHighestMemtableSeqno()).to.equal(3);
    expect(tree.getHighestSeqno()).to.equal(3);
    expect(await tree.get(b('a'))).to.equal(undefined);
    expect(s(await tree.get(b('a'), 3))).to.equal('1');
    expect(s(await tree.get(b('b')))).to.equal('2-again');
    expect(await tree.get(b('c'))).to.equal(undefined);
    expect(tree.discardActiveAbove(3)).to.equal(0);
    // The discarded seqnos are taken again by other data.
    tree.insert(b('d'), b('4'), 4);
    expect(await collect(tree.iter())).to.deep.equal(['b=2-again', 'd=4']);
    // The reader opened before the discard still reads the old memtable.
    expect(await collect(reader)).to.deep.equal(['a=early', 'b=2-again', 'c=early']);
    tree.rotateMemtable();
    expect(codeOf(() => tree.discardActiveAbove(3))).to.equal('INTERNAL');
    await tree.close();
  });

  it('refuses bad keys, values and seqnos with typed errors', async () => {
    const { tree } = await openSimulated({ maxValueSizeBytes: 10 });
    // The empty key is an ordinary key, not a bad one.
    expect(codeOf(() => tree.insert(Buffer.alloc(0), b('v'), 1))).to.equal(undefined);
    expect(codeOf(() => tree.insert(Buffer.alloc(64 * 1024 + 1), b('v'), 1))).to.equal(
      'KEY_TOO_LARGE',
    );
    expect(codeOf(() => tree.insert(Buffer.alloc(64 * 1024, 1), b('v'), 1))).to.equal(undefined);
    expect(codeOf(() => tree.insert(b('k'), Buffer.alloc(11), 1))).to.equal('VALUE_TOO_LARGE');
    expect(codeOf(() => tree.insert(b('k'), b('v'), -1))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.insert(b('k'), b('v'), 1.5))).to.equal('INVALID_ARGUMENT');
    expect(codeOf(() => tree.remove('k' as unknown as Uint8Array, 1))).to.equal('INVALID_ARGUMENT');
    await tree.close();
    expect(codeOf(() => tree.insert(b('k'), b('v'), 1))).to.equal('CLOSED');
  });
});
