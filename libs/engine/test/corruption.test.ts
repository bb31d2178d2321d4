import { expect } from 'chai';
import { isStrataError, seededRandom } from '@strata/core';
import { Tree } from '../src/index.js';
import { b, openSimulated, tinyOptions } from './helpers.js';

const N = 300;
const key = (i: number): Buffer => b(`key-${String(i).padStart(5, '0')}`);
const value = (i: number): Buffer => b(`value-${i}-${'x'.repeat(i % 40)}`);

interface Regions {
  data: [number, number];
  index: [number, number];
  filter: [number, number];
  meta: [number, number];
  footer: [number, number];
}

function regionsOf(file: Buffer): Regions {
  const f = file.length - 48;
  const indexOffset = file.readUInt32LE(f + 8);
  const filterOffset = file.readUInt32LE(f + 20);
  const metaOffset = file.readUInt32LE(f + 32);
  return {
    data: [0, indexOffset],
    index: [indexOffset, filterOffset],
    filter: [filterOffset, metaOffset],
    meta: [metaOffset, f],
    footer: [f, file.length],
  };
}

/**
 * Reads everything back; each read must give the right value or a CORRUPTION error, never a wrong
 * value. Returns how many reads reported corruption.
 */
async function readAll(tree: Tree): Promise<number> {
  let corrupt = 0;
  for (let i = 0; i < N; i++) {
    try {
      const got = await tree.get(key(i));
      expect(got?.toString()).to.equal(value(i).toString());
    } catch (error) {
      if (!isStrataError(error, 'CORRUPTION')) throw error;
      expect(error.details.file).to.match(/segments\/\d+\.seg$/);
      corrupt++;
    }
  }
  try {
    const all = await tree.iter().toArray();
    expect(all.length).to.equal(N);
    all.forEach((kv, i) => expect(kv.value.toString()).to.equal(value(i).toString()));
  } catch (error) {
    if (!isStrataError(error, 'CORRUPTION')) throw error;
    corrupt++;
  }
  return corrupt;
}

for (const compressed of [false, true]) {
  describe(`Tree: corruption is reported, never served (${compressed ? 'lz4' : 'uncompressed'} blocks)`, () => {
    async function build() {
      const { tree, fs } = await openSimulated({
        ...tinyOptions,
        blockSizeBytes: 256,
        targetSegmentSizeBytes: 1 << 20,
        compressionByLevel: [compressed ? 'lz4' : 'none'],
      });
      for (let i = 0; i < N; i++) tree.insert(key(i), value(i), i);
      await tree.flushActiveMemtable();
      await tree.close();
      const path = '/tree/segments/1.seg';
      return { fs, path, file: fs.peek(path) };
    }

    for (const region of ['data', 'index', 'filter', 'meta', 'footer'] as const) {
      it(`flipped byte in the ${region} gives CORRUPTION`, async () => {
        const { fs, path, file } = await build();
        const [start, end] = regionsOf(file)[region];
        expect(end).to.be.greaterThan(start);
        const random = seededRandom(start + end);
        for (let attempt = 0; attempt < 4; attempt++) {
          const offset = start + Math.floor(random() * (end - start));
          const mask = 1 << Math.floor(random() * 8);
          fs.corruptByte(path, offset, mask);
          const tree = await Tree.open('/tree', { fileSystem: fs });
          expect(await readAll(tree), `offset ${offset}`).to.be.greaterThan(0);
          await tree.close();
          fs.corruptByte(path, offset, mask); // flip back: each attempt tests one damaged byte
          expect(fs.peek(path).equals(file)).to.equal(true);
        }
      });
    }

    it('any flipped byte of the file is detected by some read', async () => {
      const { fs, path, file } = await build();
      const random = seededRandom(compressed ? 11 : 7);
      for (let attempt = 0; attempt < 25; attempt++) {
        const offset = Math.floor(random() * file.length);
        fs.corruptByte(path, offset, 0x10);
        const tree = await Tree.open('/tree', { fileSystem: fs });
        expect(await readAll(tree), `offset ${offset}`).to.be.greaterThan(0);
        await tree.close();
        fs.corruptByte(path, offset, 0x10);
      }
    });
  });
}

describe('Tree: corruption found by compaction', () => {
  it('fails the compaction with CORRUPTION and keeps the old segments', async () => {
    const { tree, fs } = await openSimulated({ ...tinyOptions, blockSizeBytes: 256 });
    for (let i = 0; i < N; i++) tree.insert(key(i), value(i), i);
    await tree.flushActiveMemtable();
    fs.corruptByte('/tree/segments/1.seg', 10);
    try {
      await tree.majorCompact();
      expect.fail('compaction should fail');
    } catch (error) {
      expect(isStrataError(error, 'CORRUPTION'), String(error)).to.equal(true);
    }
    expect(tree.levelSegmentIds()[0]).to.deep.equal([1]);
    expect(tree.isCompacting()).to.equal(false);
    await tree.close();
  });
});
