import { expect } from 'chai';
import type { VarintCursor } from '../src/index.js';
import { isStrataError, readVarint, skipVarint, varintBytes, writeVarint } from '../src/index.js';

const cases: [number, string][] = [
  [0, '00'],
  [1, '01'],
  [127, '7f'],
  [128, '8001'],
  [300, 'ac02'],
  [2 ** 32, '8080808010'],
  [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
];

function cursorAt(offset: number): VarintCursor {
  return { offset, file: '/data/segment-7', errorOffset: 4096, what: 'data block' };
}

/** The CORRUPTION error `read` throws; fails the test when it throws nothing or something else. */
function corruptionOf(read: () => unknown): { message: string; file: unknown; offset: unknown } {
  try {
    read();
  } catch (error) {
    if (!isStrataError(error, 'CORRUPTION')) throw error;
    return { message: error.message, file: error.details.file, offset: error.details.offset };
  }
  throw new Error('expected a CORRUPTION error');
}

describe('varints', () => {
  it('writes LEB128 bytes and counts them, up to 2^53 - 1', () => {
    for (const [value, hex] of cases) {
      const target = Buffer.alloc(12, 0xee);
      const end = writeVarint(target, 2, value);
      expect(target.subarray(2, end).toString('hex'), String(value)).to.equal(hex);
      expect(end - 2, String(value)).to.equal(varintBytes(value));
      expect(target[1]).to.equal(0xee);
      expect(target[end]).to.equal(0xee);
    }
  });

  it('reads back what it writes and leaves the cursor just past each varint', () => {
    const bytes = Buffer.alloc(64);
    let end = 3;
    for (const [value] of cases) end = writeVarint(bytes, end, value);
    const cursor = cursorAt(3);
    for (const [value, hex] of cases) {
      const start = cursor.offset;
      expect(readVarint(bytes, cursor, end), hex).to.equal(value);
      expect(cursor.offset - start, hex).to.equal(hex.length / 2);
    }
    expect(cursor.offset).to.equal(end);
  });

  it('reads a varint that ends exactly at the limit, not one that runs past it', () => {
    const bytes = Buffer.from('ac02ac02', 'hex');
    expect(readVarint(bytes, cursorAt(0), 2)).to.equal(300);
    // The bytes after the limit exist, but belong to something else: the varint is truncated.
    const cursor = cursorAt(2);
    const error = corruptionOf(() => readVarint(bytes, cursor, 3));
    expect(error).to.deep.equal({
      message: 'corruption in /data/segment-7 at offset 4096: data block: truncated varint',
      file: '/data/segment-7',
      offset: 4096,
    });
    expect(cursor.offset, 'a failed read leaves the cursor where it was').to.equal(2);
    expect(corruptionOf(() => readVarint(bytes, cursorAt(4), 4)).message).to.match(
      /truncated varint$/,
    );
  });

  it('refuses more than 8 bytes and values above 2^53 - 1 as CORRUPTION', () => {
    const nineBytes = Buffer.from('818080808080808001', 'hex');
    expect(corruptionOf(() => readVarint(nineBytes, cursorAt(0), 9)).message).to.match(
      /data block: varint too long$/,
    );
    // 2^53: eight bytes, but one past the largest safe integer.
    const twoTo53 = Buffer.from('8080808080808010', 'hex');
    const error = corruptionOf(() => readVarint(twoTo53, cursorAt(0), 8));
    expect(error.message).to.match(/varint too long$/);
    expect([error.file, error.offset]).to.deep.equal(['/data/segment-7', 4096]);
  });

  it('skips a varint to where a read would end, with the same truncation and length checks', () => {
    const bytes = Buffer.alloc(64);
    let end = 0;
    for (const [value] of cases) end = writeVarint(bytes, end, value);
    const source = cursorAt(0);
    const reading = cursorAt(0);
    let at = 0;
    for (const [, hex] of cases) {
      at = skipVarint(bytes, at, end, source);
      readVarint(bytes, reading, end);
      expect(at, hex).to.equal(reading.offset);
    }
    expect(corruptionOf(() => skipVarint(Buffer.from('ac02', 'hex'), 0, 1, source))).to.deep.equal({
      message: 'corruption in /data/segment-7 at offset 4096: data block: truncated varint',
      file: '/data/segment-7',
      offset: 4096,
    });
    const nineBytes = Buffer.from('818080808080808001', 'hex');
    expect(corruptionOf(() => skipVarint(nineBytes, 0, 9, source)).message).to.match(
      /varint too long$/,
    );
  });
});
