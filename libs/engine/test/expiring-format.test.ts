import { expect } from 'chai';
import { SimulatedFileSystem, crc32c, isStrataError } from '@strata/core';
import type { ValueKindCode } from '../src/entry.js';
import { Tree, inspectTree, verifyTree } from '../src/index.js';
import { BlockBuilder, decodeBlock } from '../src/segment/block.js';
import { frameBlock, unframeBlock } from '../src/segment/block-codec.js';
import type { BlockHit } from '../src/segment/block-search.js';
import { searchBlock } from '../src/segment/block-search.js';
import { decodeExpiryBlock } from '../src/segment/expiry-block.js';
import {
  FOOTER_BYTES,
  checkFooterAgainstMetadata,
  decodeFooter,
  metadataFromJson,
  metadataToJson,
} from '../src/segment/metadata.js';
import { b, s, tinyOptions } from './helpers.js';
import { segmentMetadataOf } from './segment-files.js';

const SEGMENT = '/tree/segments/1.seg';
const key = (i: number): Buffer => b(`key-${String(i).padStart(4, '0')}`);

/** A tree whose only segment holds 200 keys, every third expiring, and optionally range tombstones. */
async function buildSegment(withRangeTombstones: boolean) {
  const fs = new SimulatedFileSystem();
  const options = {
    ...tinyOptions,
    targetSegmentSizeBytes: 1 << 20,
    fileSystem: fs,
    clock: () => 1000,
  };
  const tree = await Tree.open('/tree', options);
  for (let i = 0; i < 200; i++) tree.insert(key(i), b(`value-${i}`), i, i % 3 === 0 ? 5000 + i : 0);
  if (withRangeTombstones) tree.removeRange(key(50), key(80), 200);
  await tree.flushActiveMemtable();
  await tree.close();
  const file = fs.peek(SEGMENT);
  return { fs, file, meta: segmentMetadataOf(file, SEGMENT), options };
}

/** The error `promise` rejects with, as a StrataError (fails the test otherwise). */
async function failure(
  promise: Promise<unknown>,
): Promise<{ code: string; file: unknown; offset: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (!isStrataError(error)) throw error;
    return {
      code: error.code,
      file: error.details.file,
      offset: error.details.offset,
      message: error.message,
    };
  }
  return expect.fail('expected a StrataError');
}

async function listAll(tree: Tree): Promise<number> {
  let n = 0;
  for await (const _entry of tree.expiringEntries()) n++;
  return n;
}

/** Replaces the expiry block's bytes by `raw` framed again (same length: offsets stay right). */
function reframeExpiryBlock(fs: SimulatedFileSystem, at: number, size: number, raw: Buffer): void {
  const framed = frameBlock(raw, 'none');
  expect(framed.length).to.equal(size);
  const file = fs.peek(SEGMENT);
  for (let i = 0; i < size; i++) {
    const mask = file[at + i]! ^ framed[i]!;
    if (mask !== 0) fs.corruptByte(SEGMENT, at + i, mask);
  }
}

describe('Tree: expiring values, segment format', () => {
  for (const withRangeTombstones of [false, true]) {
    it(`writes a version-3 segment with an expiry block before the index${withRangeTombstones ? ', beside range tombstones' : ''}`, async () => {
      const { fs, file, meta, options } = await buildSegment(withRangeTombstones);
      expect(meta.formatVersion).to.equal(3);
      expect(file.readUInt32LE(file.length - FOOTER_BYTES + 4)).to.equal(3);
      // The flush drops the versions the range tombstone covers (no snapshot needs them).
      const expiringCount = withRangeTombstones ? 57 : 67;
      expect(meta.expiringCount).to.equal(expiringCount);
      expect(meta.rangeTombstoneCount).to.equal(withRangeTombstones ? 1 : undefined);
      const footer = decodeFooter(
        file.subarray(file.length - FOOTER_BYTES),
        SEGMENT,
        file.length,
        crc32c,
      );
      expect(meta.expiryOffset! + meta.expirySizeBytes!).to.equal(footer.indexOffset);
      expect(footer.rangeTombstoneSizeBytes > 0).to.equal(withRangeTombstones);
      const expiryAt = meta.expiryOffset!;
      const entries = decodeExpiryBlock(
        unframeBlock(file.subarray(expiryAt, footer.indexOffset), SEGMENT, expiryAt),
        SEGMENT,
        expiryAt,
      );
      expect(entries.map((e) => `${s(e.key)}@${e.seqno}:${e.expiresAtMs}`)).to.deep.equal(
        [...Array(200).keys()]
          .filter((i) => i % 3 === 0 && !(withRangeTombstones && i >= 50 && i < 80))
          .map((i) => `${s(key(i))}@${i}:${5000 + i}`),
      );
      const info = await inspectTree('/tree', { fileSystem: fs });
      expect(info.levels[0]![0]).to.include({ formatVersion: 3, expiringCount });
      expect((await verifyTree('/tree', { fileSystem: fs })).segments).to.equal(1);
      // Reads after a reopen: deadlines, and range tombstones when present.
      let nowMs = 1000;
      const tree = await Tree.open('/tree', { ...options, clock: () => nowMs });
      expect(s(await tree.get(key(3)))).to.equal('value-3');
      expect(s(await tree.get(key(60)))).to.equal(withRangeTombstones ? undefined : 'value-60');
      nowMs = 5003;
      expect(await tree.get(key(3))).to.equal(undefined);
      expect(s(await tree.get(key(6)))).to.equal('value-6');
      expect(await tree.len()).to.equal(200 - 2 - (withRangeTombstones ? 30 : 0));
      await tree.close();
    });
  }

  it('still writes versions 1 and 2 without expiring entries', async () => {
    const fs = new SimulatedFileSystem();
    const tree = await Tree.open('/tree', { ...tinyOptions, fileSystem: fs });
    tree.insert(b('a'), b('1'), 1);
    await tree.flushActiveMemtable();
    tree.removeRange(b('a'), b('b'), 2);
    await tree.flushActiveMemtable();
    const segments = (await inspectTree('/tree', { fileSystem: fs })).levels[0]!;
    expect(segments.map((segment) => [segment.formatVersion, segment.expiringCount])).to.deep.equal(
      [
        [2, 0],
        [1, 0],
      ],
    );
    await tree.close();
  });

  it('metadata: expiry fields exactly in version 3, range tombstones optional there, version 4 unknown', async () => {
    const { meta } = await buildSegment(true);
    const json = metadataToJson(meta);
    const code = (value: unknown): string | undefined => {
      try {
        metadataFromJson(value, 'f');
        return undefined;
      } catch (error) {
        return isStrataError(error) ? error.code : 'untyped';
      }
    };
    expect(code(json)).to.equal(undefined);
    expect(code({ ...json, formatVersion: 4 })).to.equal('UNSUPPORTED_FORMAT');
    expect(code({ ...json, expiringCount: undefined })).to.equal('CORRUPTION');
    expect(code({ ...json, expiringCount: 0 })).to.equal('CORRUPTION');
    expect(code({ ...json, expiryOffset: undefined })).to.equal('CORRUPTION');
    expect(code({ ...json, expirySizeBytes: 0 })).to.equal('CORRUPTION');
    expect(code({ ...json, rangeTombstoneCount: 0 })).to.equal('CORRUPTION');
    const { rangeTombstoneCount: _count, maxKeyExclusive: _exclusive, ...withoutTombstones } = json;
    expect(code(withoutTombstones)).to.equal(undefined);
    expect(code({ ...withoutTombstones, maxKeyExclusive: true })).to.equal('CORRUPTION');
    for (const version of [1, 2]) {
      expect(code({ ...json, formatVersion: version }), `version ${version}`).to.equal(
        'CORRUPTION',
      );
    }
    const { expiringCount: _e, expiryOffset: _o, expirySizeBytes: _z, ...plain } = json;
    expect(code({ ...plain, formatVersion: 2 })).to.equal(undefined);
  });

  it('footer and metadata must agree: version, range-tombstone block, expiry block before the index', async () => {
    const { file, meta } = await buildSegment(true);
    const footer = decodeFooter(
      file.subarray(file.length - FOOTER_BYTES),
      SEGMENT,
      file.length,
      crc32c,
    );
    expect(() => checkFooterAgainstMetadata(footer, meta, SEGMENT)).not.to.throw();
    const disagreeing = [
      { ...meta, formatVersion: 2 },
      { ...meta, rangeTombstoneCount: undefined },
      { ...meta, expiryOffset: meta.expiryOffset! + 1 },
      { ...meta, expirySizeBytes: meta.expirySizeBytes! - 1 },
    ];
    for (const other of disagreeing) {
      expect(() => checkFooterAgainstMetadata(footer, other, SEGMENT)).to.throw(/disagrees/);
    }
    // A version-3 footer may have no range-tombstone block; a version-2 one must have one.
    const plain = await buildSegment(false);
    const bytes = Buffer.from(plain.file.subarray(plain.file.length - FOOTER_BYTES));
    expect(
      decodeFooter(bytes, SEGMENT, plain.file.length, crc32c).rangeTombstoneSizeBytes,
    ).to.equal(0);
    bytes.writeUInt32LE(2, 4);
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 44)), 44);
    expect(() => decodeFooter(bytes, SEGMENT, plain.file.length, crc32c)).to.throw(/inconsistent/);
    // A footer that says version 1 over version-3 metadata: the segment is refused when loaded.
    bytes.writeUInt32LE(1, 4);
    bytes.writeUInt32LE(crc32c(bytes.subarray(0, 44)), 44);
    const at = plain.file.length - FOOTER_BYTES;
    for (let i = 0; i < FOOTER_BYTES; i++) {
      const mask = plain.file[at + i]! ^ bytes[i]!;
      if (mask !== 0) plain.fs.corruptByte(SEGMENT, at + i, mask);
    }
    const tree = await Tree.open('/tree', plain.options);
    const error = await failure(tree.get(key(1)));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.message).to.match(/footer disagrees with its metadata/);
    expect((await failure(verifyTree('/tree', { fileSystem: plain.fs }))).code).to.equal(
      'CORRUPTION',
    );
    await tree.close();
  });

  it('data blocks: kind 2 needs its 8-byte deadline, a kind above 2 is CORRUPTION', () => {
    const hit: BlockHit = { valueOffset: 0, valueLength: 0, seqno: 0, kind: 0 };
    const build = (kind: number, value: Buffer): Buffer => {
      const builder = new BlockBuilder(4);
      builder.add(b('k'), value, 1, kind as ValueKindCode);
      return Buffer.from(builder.finish());
    };
    const good = build(2, Buffer.alloc(8 + 3));
    expect(decodeBlock(good, 'f', 0).kinds[0]).to.equal(2);
    expect(searchBlock(good, b('k'), 5, hit, 'f', 0)).to.equal(0);
    expect(hit.kind).to.equal(2);
    for (const bad of [build(2, Buffer.alloc(7)), build(3, Buffer.alloc(8))]) {
      expect(() => decodeBlock(bad, 'f', 64)).to.throw(/corruption in f at offset 64/);
      expect(() => searchBlock(bad, b('k'), 5, hit, 'f', 64)).to.throw(
        /corruption in f at offset 64/,
      );
    }
  });
});

describe('Tree: a damaged expiry block', () => {
  it('a flipped byte is CORRUPTION naming the file and the block offset; data reads are unaffected', async () => {
    const { fs, meta, options } = await buildSegment(false);
    const at = meta.expiryOffset!;
    for (const offset of [at, at + 5, at + 20, at + meta.expirySizeBytes! - 1]) {
      fs.corruptByte(SEGMENT, offset, 0x04);
      const tree = await Tree.open('/tree', options);
      const error = await failure(listAll(tree));
      expect([error.code, error.file, error.offset], `byte ${offset}`).to.deep.equal([
        'CORRUPTION',
        SEGMENT,
        at,
      ]);
      // The expiry block is read by the listing only.
      expect(s(await tree.get(key(3)))).to.equal('value-3');
      expect(await tree.len()).to.equal(200);
      await tree.close();
      const verified = await failure(verifyTree('/tree', { fileSystem: fs }));
      expect([verified.code, verified.file, verified.offset]).to.deep.equal([
        'CORRUPTION',
        SEGMENT,
        at,
      ]);
      fs.corruptByte(SEGMENT, offset, 0x04);
    }
    const tree = await Tree.open('/tree', options);
    expect(await listAll(tree)).to.equal(67);
    await tree.close();
  });

  it('a block with a valid checksum but a bad structure or count is CORRUPTION at its offset', async () => {
    const { fs, file, meta, options } = await buildSegment(false);
    const at = meta.expiryOffset!;
    const size = meta.expirySizeBytes!;
    const raw = Buffer.from(unframeBlock(file.subarray(at, at + size), SEGMENT, at));
    const damaged: [string, (block: Buffer) => void][] = [
      ['count one too high', (block) => block.writeUInt32LE(68, 0)],
      ['count zero', (block) => block.writeUInt32LE(0, 0)],
      // The first entry's key length (key-0000: 8 bytes) made longer: keys overrun or disorder.
      ['key length', (block) => (block[4] = 9)],
      // The deadline of the first entry set to 0.
      ['deadline 0', (block) => block.fill(0, 4 + 1 + 8 + 1, 4 + 1 + 8 + 1 + 8)],
      // Out of order: the second key's last byte lowered below the first's.
      ['order', (block) => (block[4 + 1 + 8 + 1 + 8 + 1 + 7] = 0x20)],
    ];
    for (const [what, damage] of damaged) {
      const block = Buffer.from(raw);
      damage(block);
      reframeExpiryBlock(fs, at, size, block);
      const tree = await Tree.open('/tree', options);
      const error = await failure(listAll(tree));
      expect([error.code, error.file, error.offset], what).to.deep.equal([
        'CORRUPTION',
        SEGMENT,
        at,
      ]);
      await tree.close();
      const verified = await failure(verifyTree('/tree', { fileSystem: fs }));
      expect([verified.code, verified.offset], what).to.deep.equal(['CORRUPTION', at]);
      reframeExpiryBlock(fs, at, size, raw);
    }
    expect((await verifyTree('/tree', { fileSystem: fs })).segments).to.equal(1);
  });

  it('verify finds a well-formed block that disagrees with the data blocks', async () => {
    const { fs, file, meta } = await buildSegment(false);
    const at = meta.expiryOffset!;
    const size = meta.expirySizeBytes!;
    const raw = Buffer.from(unframeBlock(file.subarray(at, at + size), SEGMENT, at));
    // The first entry's deadline moved by one millisecond: still a valid block.
    const deadlineAt = 4 + 1 + 8 + 1;
    raw.writeUInt32LE(raw.readUInt32LE(deadlineAt) + 1, deadlineAt);
    reframeExpiryBlock(fs, at, size, raw);
    const error = await failure(verifyTree('/tree', { fileSystem: fs }));
    expect([error.code, error.file]).to.deep.equal(['CORRUPTION', SEGMENT]);
    expect(error.message).to.match(/expiring entries disagree with the expiry block/);
  });
});
