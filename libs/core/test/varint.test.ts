import { expect } from 'chai';
import { varintBytes, writeVarint } from '../src/index.js';

describe('varints', () => {
  it('writes LEB128 bytes and counts them, up to 2^53 - 1', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [2 ** 32, '8080808010'],
      [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
    ];
    for (const [value, hex] of cases) {
      const target = Buffer.alloc(12, 0xee);
      const end = writeVarint(target, 2, value);
      expect(target.subarray(2, end).toString('hex'), String(value)).to.equal(hex);
      expect(end - 2, String(value)).to.equal(varintBytes(value));
      expect(target[1]).to.equal(0xee);
      expect(target[end]).to.equal(0xee);
    }
  });
});
