import { expect } from 'chai';
import { SimulatedFileSystem, isStrataError, seededRandom } from '@strata/core';
import { Tree } from '../src/index.js';
import { b, collect, openSimulated, s, tinyOptions } from './helpers.js';

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    expect(isStrataError(error), String(error)).to.equal(true);
    expect((error as { code: string }).code).to.equal(code);
    return error as Error;
  }
  expect.fail(`expected ${code}`);
}

describe('Tree: recovery', () => {
  it('recovers segments, levels, config and the highest seqno after reopen', async () => {
    const { tree, fs } = await openSimulated({ ...tinyOptions, levelCount: 4 });
    for (let i = 0; i < 300; i++) tree.insert(b(`k${String(i).padStart(4, '0')}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    tree.remove(b('k0005'), 300);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    const ids = tree.levelSegmentIds();
    tree.insert(b('unflushed'), b('lost'), 301);
    await tree.close();

    const reopened = await Tree.open('/tree', { fileSystem: fs });
    expect(reopened.config.levelCount).to.equal(4);
    expect(reopened.config.blockSizeBytes).to.equal(128);
    expect(reopened.levelSegmentIds()).to.deep.equal(ids);
    expect(reopened.getHighestPersistedSeqno()).to.equal(300);
    expect(reopened.getHighestSeqno()).to.equal(300);
    expect(await reopened.get(b('unflushed'))).to.equal(undefined);
    expect(await reopened.get(b('k0005'))).to.equal(undefined);
    expect(s(await reopened.get(b('k0299')))).to.equal('v299');
    expect(await reopened.len()).to.equal(299);
    await reopened.close();
  });

  it('removes orphaned segment files and temporary files on open', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    await tree.close();
    const h = await fs.open('/tree/segments/999.seg', 'create-exclusive');
    await h.writev([b('junk')], 0);
    await h.close();
    const t = await fs.open('/tree/segments/5.seg.tmp', 'create-exclusive');
    await t.close();
    await fs.mkdir('/tree/segments/old-folder');
    const reopened = await Tree.open('/tree', { fileSystem: fs });
    const names = await fs.readdir('/tree/segments');
    expect(names.sort()).to.deep.equal(['1.seg']);
    expect(s(await reopened.get(b('a')))).to.equal('1');
    await reopened.close();
  });

  it('survives a power loss after a flush: the registered segment is durable', async () => {
    const fs = new SimulatedFileSystem();
    const { tree } = await openSimulated(tinyOptions, fs);
    for (let i = 0; i < 50; i++) tree.insert(b(`k${i}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    await tree.compact();
    const rebooted = fs.crash({ random: Math.random });
    const reopened = await Tree.open('/tree', { fileSystem: rebooted });
    expect(await reopened.len()).to.equal(50);
    await reopened.close();
  });

  it('rejects an unknown format version with UNSUPPORTED_FORMAT', async () => {
    const { tree, fs } = await openSimulated();
    await tree.close();
    const marker = fs.peek('/tree/STRATA-TREE');
    marker.writeUInt16LE(99, marker.length - 2);
    await fs.unlink('/tree/STRATA-TREE');
    const h = await fs.open('/tree/STRATA-TREE', 'create-exclusive');
    await h.writev([marker], 0);
    await h.close();
    const error = await expectCode(Tree.open('/tree', { fileSystem: fs }), 'UNSUPPORTED_FORMAT');
    expect(error.message).to.contain('99');
  });

  it('fails with CORRUPTION naming the file when a listed segment is missing', async () => {
    const { tree, fs } = await openSimulated();
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    await tree.close();
    await fs.unlink('/tree/segments/1.seg');
    const error = await expectCode(Tree.open('/tree', { fileSystem: fs }), 'CORRUPTION');
    expect((error as unknown as { details: { file: string } }).details.file).to.equal(
      '/tree/segments/1.seg',
    );
  });

  it('fails with CORRUPTION for a damaged config or manifest', async () => {
    const { tree, fs } = await openSimulated();
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    await tree.close();
    fs.corruptByte('/tree/levels', 30);
    const error = await expectCode(Tree.open('/tree', { fileSystem: fs }), 'CORRUPTION');
    expect((error as unknown as { details: { file: string } }).details.file).to.equal(
      '/tree/levels',
    );
    fs.corruptByte('/tree/levels', 30);
    fs.corruptByte('/tree/config.json', 0);
    await expectCode(Tree.open('/tree', { fileSystem: fs }), 'CORRUPTION');
  });

  it('keeps iterating a pinned version while compaction replaces its segments', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 40; i++)
        tree.insert(b(`k${String(i).padStart(3, '0')}`), b(`r${round}`), round * 100 + i);
      await tree.flushActiveMemtable();
    }
    const before = (await fs.readdir('/tree/segments')).length;
    const iterator = tree.iter();
    const first = await iterator.next();
    expect(s(first?.value)).to.equal('r3');
    await tree.majorCompact();
    // The old files stay while the iterator holds them.
    expect((await fs.readdir('/tree/segments')).length).to.be.greaterThan(before - 1);
    const rest = await collect(iterator);
    expect(rest.length).to.equal(39);
    await new Promise((resolve) => setImmediate(resolve));
    const after = await fs.readdir('/tree/segments');
    expect(after.length).to.equal(tree.segmentCount());
    await tree.close();
  });
});

describe('Tree.create: usable before its creation is durable', () => {
  it('a power loss before whenCreated() leaves no tree or an empty one; after it, the tree', async () => {
    let absent = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const fs = new SimulatedFileSystem();
      const tree = await Tree.create('/tree', { fileSystem: fs });
      tree.insert(b('a'), b('1'), 0);
      expect(s(await tree.get(b('a')))).to.equal('1');
      // Before the commit is durable: the marker may be missing, the tree is never torn.
      const early = fs.crash({ random: seededRandom(seed) });
      if (await Tree.exists('/tree', { fileSystem: early })) {
        const reopened = await Tree.open('/tree', { fileSystem: early });
        expect(reopened.getHighestPersistedSeqno()).to.equal(undefined);
        await reopened.close();
      } else absent++;
      const durable = new SimulatedFileSystem();
      const created = await Tree.create('/tree', { fileSystem: durable });
      await created.whenCreated();
      const late = durable.crash({ random: seededRandom(seed) });
      expect(await Tree.exists('/tree', { fileSystem: late })).to.equal(true);
      await (await Tree.open('/tree', { fileSystem: late })).close();
    }
    // The window exists: a crash right after create() can find no tree.
    expect(absent).to.be.greaterThan(0);
  });

  it('a failed fdatasync of its files rejects whenCreated(), the first flush and the close with IO_ERROR, and leaves no marker', async () => {
    const fs = new SimulatedFileSystem();
    fs.setFaultInjector((operation, path) =>
      operation === 'datasync' && path.endsWith('levels') ? 'EIO' : undefined,
    );
    const tree = await Tree.create('/tree', { fileSystem: fs });
    const created = await expectCode(tree.whenCreated(), 'IO_ERROR');
    expect(created.message).to.include('/tree/levels');
    tree.insert(b('a'), b('1'), 0);
    await expectCode(tree.flushActiveMemtable(), 'IO_ERROR');
    // The flush never started: no segment file in a tree that does not exist.
    expect(await fs.readdir('/tree/segments')).to.deep.equal([]);
    await expectCode(tree.close(), 'IO_ERROR');
    fs.setFaultInjector(undefined);
    expect(await Tree.exists('/tree', { fileSystem: fs })).to.equal(false);
    // The next open creates the tree again over what was left.
    const again = await Tree.open('/tree', { fileSystem: fs });
    expect(again.levelSegmentIds().flat()).to.deep.equal([]);
    await again.close();
  });
});

describe('Tree: reopen is lazy', () => {
  it('reads no segment file while opening, only on first use', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    for (let i = 0; i < 500; i++) tree.insert(b(`k${i}`), b(`v${i}`), i);
    await tree.flushActiveMemtable();
    await tree.majorCompact();
    await tree.close();
    const reads: string[] = [];
    fs.setFaultInjector((operation, path) => {
      if ((operation === 'read' || operation === 'open') && path.endsWith('.seg')) reads.push(path);
      return undefined;
    });
    const reopened = await Tree.open('/tree', { fileSystem: fs });
    expect(reads).to.deep.equal([]);
    expect(reopened.segmentCount()).to.be.greaterThan(1);
    expect(s(await reopened.get(b('k7')))).to.equal('v7');
    expect(reads.length).to.be.greaterThan(0);
    const touched = new Set(reads);
    expect(touched.size).to.be.lessThan(reopened.segmentCount() + 1);
    fs.setFaultInjector(undefined);
    await reopened.close();
  });
});
