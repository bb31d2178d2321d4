import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { isStrataError } from '@strata/core';
import { MajorCompactionStrategy } from '../src/compaction/major.js';
import { Tree, inspectTree, verifyTree } from '../src/index.js';
import { unframeBlock } from '../src/segment/block-codec.js';
import { BlockIndex } from '../src/segment/block-index.js';
import { b, tinyOptions, withTempDir } from './helpers.js';

const key = (i: number): Buffer => b(`key-${String(i).padStart(5, '0')}`);

/** A tree with a compacted level and a fresh level-0 segment holding tombstones. */
async function buildTree(path: string): Promise<void> {
  const tree = await Tree.open(path, { ...tinyOptions, jobExecution: 'inline' });
  for (let i = 0; i < 300; i++) tree.insert(key(i), b(`value-${i}`), i);
  await tree.flushActiveMemtable();
  await tree.compact(new MajorCompactionStrategy());
  for (let i = 0; i < 10; i++) tree.remove(key(i), 300 + i);
  tree.insert(key(1000), b('last'), 310);
  await tree.flushActiveMemtable();
  await tree.close();
}

async function expectCorruption(
  promise: Promise<unknown>,
  file: string,
  offset: number,
): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(isStrataError(error) && error.code, String(error)).to.equal('CORRUPTION');
    const details = (error as { details: { file: string; offset: number } }).details;
    expect(details.file).to.equal(file);
    expect(details.offset).to.equal(offset);
    return;
  }
  expect.fail('expected CORRUPTION');
}

async function flipByte(file: string, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at]! ^= 0x40;
  await writeFile(file, bytes);
}

/** Every file under `dir` with its size and mtime. */
async function snapshotFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    out.push(`${path} ${info.size} ${info.mtimeMs}`);
  }
  return out.sort();
}

describe('inspectTree and verifyTree (read-only)', () => {
  it('inspect reports config, format, flushed seqno and segment metadata', async () => {
    await withTempDir(async (path) => {
      await buildTree(path);
      const info = await inspectTree(path);
      expect(info.formatVersion).to.equal(1);
      expect(info.config.blockSizeBytes).to.equal(128);
      expect(info.config.levelCount).to.equal(7);
      expect(info.flushedSeqno).to.equal(310);
      expect(info.levels).to.have.length(7);
      const l0 = info.levels[0]!;
      expect(l0).to.have.length(1);
      expect(l0[0]!.itemCount).to.equal(11);
      expect(l0[0]!.tombstoneCount).to.equal(10);
      expect(l0[0]!.minKey.toString()).to.equal('key-00000');
      expect(l0[0]!.maxKey.toString()).to.equal('key-01000');
      expect(l0[0]!.minSeqno).to.equal(300);
      expect(l0[0]!.maxSeqno).to.equal(310);
      expect(l0[0]!.file).to.equal(join(path, 'segments', `${l0[0]!.id}.seg`));
      expect(l0[0]!.sizeBytes).to.equal((await stat(l0[0]!.file)).size);
      const deeper = info.levels.slice(1).flat();
      expect(deeper.reduce((n, s) => n + s.itemCount, 0)).to.equal(300);
      expect(deeper.every((s) => s.tombstoneCount === 0)).to.equal(true);
      expect(deeper[0]!.minKey.toString()).to.equal('key-00000');
      expect(deeper.at(-1)!.maxKey.toString()).to.equal('key-00299');
    });
  });

  it('verify checks every segment and reports what it covered', async () => {
    await withTempDir(async (path) => {
      await buildTree(path);
      const info = await inspectTree(path);
      const seen: number[] = [];
      const report = await verifyTree(path, { onSegment: (s) => seen.push(s.id) });
      const all = info.levels.flat();
      expect(report.segments).to.equal(all.length);
      expect(seen.sort()).to.deep.equal(all.map((s) => s.id).sort());
      expect(report.items).to.equal(311);
      expect(report.bytes).to.equal(all.reduce((n, s) => n + s.sizeBytes, 0));
      const dataBlocks = all.reduce((n, s) => n + s.blockCount, 0);
      expect(report.blocks).to.equal(dataBlocks + 3 * all.length);
    });
  });

  it('verify names file and offset of a flipped byte in a data block, an index, the manifest', async () => {
    await withTempDir(async (path) => {
      await buildTree(path);
      const segment = (await inspectTree(path)).levels.slice(1).flat()[0]!;
      const bytes = await readFile(segment.file);
      const footer = bytes.length - 48;
      const indexOffset = bytes.readUInt32LE(footer + 8);
      const indexSize = bytes.readUInt32LE(footer + 16);
      const index = BlockIndex.decode(
        unframeBlock(bytes.subarray(indexOffset, indexOffset + indexSize), 'x', indexOffset),
        'x',
        indexOffset,
        indexOffset,
      );
      expect(index.count).to.be.greaterThan(3);
      const third = index.offsetOf(2);

      await flipByte(segment.file, third + 20);
      await expectCorruption(verifyTree(path), segment.file, third);
      await flipByte(segment.file, third + 20);
      await verifyTree(path);

      await flipByte(segment.file, indexOffset + 17);
      await expectCorruption(verifyTree(path), segment.file, indexOffset);
      await flipByte(segment.file, indexOffset + 17);

      await flipByte(join(path, 'levels'), 30);
      await expectCorruption(verifyTree(path), join(path, 'levels'), 20);
      await expectCorruption(inspectTree(path), join(path, 'levels'), 20);
    });
  });

  it('neither inspect nor verify writes or deletes anything (orphans are kept)', async () => {
    await withTempDir(async (path) => {
      await buildTree(path);
      await writeFile(join(path, 'segments', '999.seg'), 'orphan');
      await writeFile(join(path, 'segments', '5.seg.tmp'), 'unfinished');
      const before = await snapshotFiles(path);
      await inspectTree(path);
      await verifyTree(path);
      expect(await snapshotFiles(path)).to.deep.equal(before);
      expect(before.some((line) => line.includes('999.seg '))).to.equal(true);
    });
  });

  it('reports an unsupported format version as open does', async () => {
    await withTempDir(async (path) => {
      await buildTree(path);
      const marker = join(path, 'STRATA-TREE');
      const bytes = await readFile(marker);
      bytes.writeUInt16LE(99, bytes.length - 2);
      await writeFile(marker, bytes);
      for (const run of [() => inspectTree(path), () => verifyTree(path)]) {
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isStrataError(error) && error.code).to.equal('UNSUPPORTED_FORMAT');
      }
    });
  });
});
