import { expect } from 'chai';
import { crc32c, isStrataError } from '@strata/core';
import { Tree, inspectTree, verifyTree } from '../src/index.js';
import {
  FOOTER_BYTES,
  decodeFooter,
  metadataFromJson,
  metadataToJson,
} from '../src/segment/metadata.js';
import { b, openSimulated, s, tinyOptions } from './helpers.js';

const key = (i: number): Buffer => b(`key-${String(i).padStart(4, '0')}`);
const SEGMENT = '/tree/segments/1.seg';

/** A tree whose only segment holds 200 keys and range tombstones over part of them. */
async function buildSegmentWithTombstones() {
  const { tree, fs } = await openSimulated({ ...tinyOptions, targetSegmentSizeBytes: 1 << 20 });
  for (let i = 0; i < 200; i++) tree.insert(key(i), b(`value-${i}`), i);
  tree.removeRange(key(50), key(80), 200);
  tree.removeRange(key(70), key(120), 201);
  // Kept by a snapshot: the covered versions stay in the segment beside the tombstones.
  const snapshot = tree.snapshot(0);
  await tree.flushActiveMemtable();
  snapshot.close();
  await tree.close();
  return { fs, file: fs.peek(SEGMENT) };
}

/** Where the range-tombstone block of a segment file lies (between filter and metadata). */
function tombstoneRegion(file: Buffer): [number, number] {
  const f = file.length - FOOTER_BYTES;
  const filterEnd = file.readUInt32LE(f + 20) + file.readUInt32LE(f + 28);
  return [filterEnd, file.readUInt32LE(f + 32)];
}

describe('Tree.removeRange: segment format', () => {
  it('writes range tombstones into a version-2 segment, read back after a reopen', async () => {
    const { fs, file } = await buildSegmentWithTombstones();
    expect(file.readUInt32LE(file.length - FOOTER_BYTES + 4)).to.equal(2);
    const [start, end] = tombstoneRegion(file);
    expect(end).to.be.greaterThan(start);
    const info = await inspectTree('/tree', { fileSystem: fs });
    // Fragments [50, 70)@200, [70, 80)@200 and @201, [80, 120)@201.
    expect(info.levels[0]![0]).to.deep.include({ formatVersion: 2, rangeTombstoneCount: 4 });
    const report = await verifyTree('/tree', { fileSystem: fs });
    // Data blocks, index, filter, range tombstones, metadata.
    expect(report.blocks).to.equal(info.levels[0]![0]!.blockCount + 4);
    const tree = await Tree.open('/tree', { fileSystem: fs });
    expect(await tree.len()).to.equal(130);
    expect(s(await tree.get(key(49)))).to.equal('value-49');
    expect(await tree.get(key(75))).to.equal(undefined);
    expect(s(await tree.get(key(75), 200))).to.equal('value-75');
    expect(s(await tree.get(key(100), 201))).to.equal('value-100');
    await tree.close();
  });

  it('segments without range tombstones stay version 1', async () => {
    const { tree, fs } = await openSimulated(tinyOptions);
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    await tree.close();
    const file = fs.peek(SEGMENT);
    expect(file.readUInt32LE(file.length - FOOTER_BYTES + 4)).to.equal(1);
    const info = await inspectTree('/tree', { fileSystem: fs });
    expect(info.levels[0]![0]).to.deep.include({ formatVersion: 1, rangeTombstoneCount: 0 });
  });

  it('a flipped byte in the range-tombstone block is CORRUPTION naming the file and the block', async () => {
    const { fs, file } = await buildSegmentWithTombstones();
    const [start, end] = tombstoneRegion(file);
    for (const offset of [start, start + 5, Math.floor((start + end) / 2), end - 1]) {
      fs.corruptByte(SEGMENT, offset, 0x04);
      const tree = await Tree.open('/tree', { fileSystem: fs });
      for (const read of [
        () => tree.get(key(75)),
        () => tree.len(),
        () => verifyTree('/tree', { fileSystem: fs }),
      ]) {
        try {
          await read();
          expect.fail(`read served despite the flipped byte at ${offset}`);
        } catch (error) {
          expect(isStrataError(error, 'CORRUPTION'), String(error)).to.equal(true);
          if (isStrataError(error)) {
            expect(error.details).to.deep.include({ file: SEGMENT, offset: start });
          }
        }
      }
      await tree.close();
      fs.corruptByte(SEGMENT, offset, 0x04);
    }
    expect(fs.peek(SEGMENT).equals(file)).to.equal(true);
  });

  it('metadata and footer: version 2 only with range tombstones, unknown versions refused', async () => {
    const { fs, file } = await buildSegmentWithTombstones();
    const info = await inspectTree('/tree', { fileSystem: fs });
    expect(info.levels[0]![0]!.formatVersion).to.equal(2);
    const tree = await Tree.open('/tree', { fileSystem: fs });
    const meta = metadataToJson({
      id: 1,
      formatVersion: 2,
      itemCount: 1,
      tombstoneCount: 0,
      keyCount: 1,
      minKey: b('a'),
      maxKey: b('c'),
      maxKeyExclusive: true,
      minSeqno: 1,
      maxSeqno: 2,
      fileSizeBytes: 100,
      blockCount: 1,
      uncompressedSizeBytes: 10,
      compression: 'none',
      newestDataAtMs: 0,
      rangeTombstoneCount: 1,
    });
    expect(metadataFromJson(meta, 'f').maxKeyExclusive).to.equal(true);
    const code = (json: unknown): string | undefined => {
      try {
        metadataFromJson(json, 'f');
        return undefined;
      } catch (error) {
        return isStrataError(error) ? error.code : 'untyped';
      }
    };
    expect(code({ ...meta, formatVersion: 4 })).to.equal('UNSUPPORTED_FORMAT');
    expect(code({ ...meta, rangeTombstoneCount: undefined })).to.equal('CORRUPTION');
    expect(code({ ...meta, formatVersion: 1 })).to.equal('CORRUPTION');
    expect(code({ ...meta, maxKeyExclusive: false })).to.equal('CORRUPTION');
    const { rangeTombstoneCount: _count, maxKeyExclusive: _exclusive, ...plain } = meta;
    expect(code({ ...plain, formatVersion: 1 })).to.equal(undefined);
    // A version-2 footer needs a range-tombstone block, a version-1 footer must have none.
    const footer = Buffer.from(file.subarray(file.length - FOOTER_BYTES));
    expect(
      decodeFooter(footer, 'f', file.length, crc32c).rangeTombstoneSizeBytes,
    ).to.be.greaterThan(0);
    footer.writeUInt32LE(1, 4);
    footer.writeUInt32LE(crc32c(footer.subarray(0, 44)), 44);
    expect(() => decodeFooter(footer, 'f', file.length, crc32c)).to.throw(/inconsistent/);
    await tree.close();
  });
});
