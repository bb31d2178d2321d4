import { expect } from 'chai';
import { seededRandom } from '@strata/core';
import { BlockBuilder, decodeBlock } from '../src/segment/block.js';
import type { BlockHit } from '../src/segment/block-search.js';
import { ABSENT, PAST_END, searchBlock } from '../src/segment/block-search.js';
import type { ValueKindCode } from '../src/entry.js';
import { compareKeys } from '../src/util/bytes.js';

interface Version {
  key: Buffer;
  seqno: number;
  kind: ValueKindCode;
  value: Buffer;
}

/** Sorted (key asc, seqno desc) versions with shared prefixes of every length, a few per key. */
function randomVersions(random: () => number, count: number): Version[] {
  const alphabet = 'ab';
  const keys = new Set<string>();
  while (keys.size < count) {
    const length = 1 + Math.floor(random() * 6);
    let key = '';
    for (let i = 0; i < length; i++) key += alphabet[Math.floor(random() * alphabet.length)];
    keys.add(key);
  }
  const versions: Version[] = [];
  for (const key of keys) {
    const n = 1 + Math.floor(random() * 3);
    for (let v = 0; v < n; v++) {
      const seqno = Math.floor(random() * 300);
      const value = Buffer.from(`v${seqno}`.repeat(1 + Math.floor(random() * 4)));
      versions.push({ key: Buffer.from(key), seqno, kind: random() < 0.2 ? 1 : 0, value });
    }
  }
  versions.sort((a, b) => compareKeys(a.key, b.key) || b.seqno - a.seqno);
  // Keep one version per (key, seqno): the builder requires a strict order.
  return versions.filter(
    (v, i) =>
      i === 0 || !(v.seqno === versions[i - 1]!.seqno && v.key.equals(versions[i - 1]!.key)),
  );
}

describe('searchBlock', () => {
  it('agrees with a full decode for every key, seqno and restart interval', () => {
    const random = seededRandom(7);
    const hit: BlockHit = { valueOffset: 0, valueLength: 0, seqno: 0, kind: 0 };
    for (let round = 0; round < 60; round++) {
      const versions = randomVersions(random, 5 + Math.floor(random() * 40));
      const builder = new BlockBuilder(1 + Math.floor(random() * 8));
      for (const v of versions) builder.add(v.key, v.value, v.seqno, v.kind);
      const data = builder.finish();
      const block = decodeBlock(data, 'test', 0);
      // Probe stored keys, keys between them (any string over a wider alphabet) and seqnos.
      const probes = versions.map((v) => v.key);
      for (let i = 0; i < 40; i++) {
        let key = '';
        const length = Math.floor(random() * 7);
        for (let j = 0; j < length; j++) key += 'abc'[Math.floor(random() * 3)];
        if (key !== '') probes.push(Buffer.from(key));
      }
      for (const key of probes) {
        for (const seqno of [0, 1, 50, 150, 299, 300, 1e9]) {
          const expected = block.lowerBound(key, seqno);
          const got = searchBlock(data, key, seqno, hit, 'test', 0);
          if (expected === block.count) {
            expect(got, `${key.toString()}@${seqno}`).to.equal(PAST_END);
          } else if (block.compareKeyAt(key, expected) !== 0) {
            expect(got, `${key.toString()}@${seqno}`).to.equal(ABSENT);
          } else {
            expect(got, `${key.toString()}@${seqno}`).to.be.at.least(0);
            expect(hit.seqno).to.equal(block.seqnos[expected]);
            expect(hit.kind).to.equal(block.kinds[expected]);
            const value = data.subarray(hit.valueOffset, hit.valueOffset + hit.valueLength);
            expect(value.equals(block.valueAt(expected))).to.equal(true);
          }
        }
      }
    }
  });
});

describe('decodeBlock', () => {
  it('round-trips blocks of many entries and of long keys (scratch growth)', () => {
    for (const [count, keyBytes] of [
      [1000, 12],
      [3, 5000],
      [300, 40],
    ] as const) {
      const builder = new BlockBuilder(16);
      const expected: Version[] = [];
      for (let i = 0; i < count; i++) {
        const key = Buffer.alloc(keyBytes, 0x61);
        key.write(String(i).padStart(6, '0'), keyBytes - 6);
        const value = Buffer.from(`value-${i}`);
        const kind: ValueKindCode = i % 5 === 0 ? 1 : 0;
        builder.add(key, value, 1000 - i, kind);
        expected.push({ key, seqno: 1000 - i, kind, value });
      }
      const block = decodeBlock(builder.finish(), 'test', 0);
      expect(block.count).to.equal(count);
      for (let i = 0; i < count; i++) {
        const want = expected[i]!;
        expect(block.keyAt(i).equals(want.key)).to.equal(true);
        expect(block.valueAt(i).equals(want.value)).to.equal(true);
        expect(block.seqnos[i]).to.equal(want.seqno);
        expect(block.kinds[i]).to.equal(want.kind);
      }
    }
  });
});
