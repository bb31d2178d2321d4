import { expect } from 'chai';
import fc from 'fast-check';
import { isStrataError } from '@strata/core';
import {
  decodeRangeTombstoneBlock,
  encodeRangeTombstoneBlock,
} from '../src/range-tombstones/block.js';
import { TombstoneCoverage } from '../src/range-tombstones/coverage.js';
import type { RangeTombstone } from '../src/range-tombstones/fragments.js';
import { NOT_COVERED, RangeTombstoneFragments } from '../src/range-tombstones/fragments.js';
import { MemtableTombstones } from '../src/range-tombstones/memtable-tombstones.js';
import { b } from './helpers.js';

/** The covering seqno by brute force: the highest seqno below `readSeqno` of a tombstone over `key`. */
function bruteForce(tombstones: readonly RangeTombstone[], key: Buffer, readSeqno: number): number {
  let best = NOT_COVERED;
  for (const t of tombstones) {
    if (
      Buffer.compare(t.start, key) <= 0 &&
      Buffer.compare(key, t.end) < 0 &&
      t.seqno < readSeqno
    ) {
      best = Math.max(best, t.seqno);
    }
  }
  return best;
}

/** Fragments must be ordered, disjoint, non-empty, with ascending distinct seqnos. */
function expectWellFormed(fragments: RangeTombstoneFragments): void {
  const list = fragments.fragments();
  let pieces = 0;
  list.forEach((f, i) => {
    expect(Buffer.compare(f.start, f.end), `fragment ${i} non-empty`).to.be.lessThan(0);
    if (i > 0) expect(Buffer.compare(list[i - 1]!.end, f.start)).to.be.at.most(0);
    expect(f.seqnos.length).to.be.greaterThan(0);
    for (let n = 1; n < f.seqnos.length; n++)
      expect(f.seqnos[n]).to.be.greaterThan(f.seqnos[n - 1]!);
    pieces += f.seqnos.length;
  });
  expect(fragments.count).to.equal(pieces);
}

// Keys from the empty key (the smallest: a tombstone may start there) to three bytes.
const keyArb = fc.uint8Array({ minLength: 0, maxLength: 3, max: 4 }).map((k) => Buffer.from(k));
const tombstoneArb = fc
  .tuple(keyArb, keyArb, fc.integer({ min: 0, max: 30 }))
  .filter(([x, y]) => !x.equals(y))
  .map(([x, y, seqno]) =>
    Buffer.compare(x, y) < 0 ? { start: x, end: y, seqno } : { start: y, end: x, seqno },
  );

describe('range tombstone fragments', () => {
  it('fragments overlapping tombstones like RocksDB does', () => {
    const tombstones = new MemtableTombstones();
    tombstones.add(b('c'), b('d'), 4);
    tombstones.add(b('g'), b('h'), 7);
    tombstones.add(b('a'), b('z'), 10);
    expect(tombstones.coveringSeqno(b('c'), 10)).to.equal(4);
    const fragments = tombstones.fragments();
    const described = fragments
      .fragments()
      .map((f) => `[${f.start.toString()},${f.end.toString()})@${f.seqnos.join('/')}`);
    expect(described).to.deep.equal([
      '[a,c)@10',
      '[c,d)@4/10',
      '[d,g)@10',
      '[g,h)@7/10',
      '[h,z)@10',
    ]);
    expect(fragments.count).to.equal(7);
    expect(fragments.minSeqno).to.equal(4);
    expect(fragments.maxSeqno).to.equal(10);
    expect(fragments.coveringSeqno(b('e'), Infinity)).to.equal(10);
    expect(fragments.coveringSeqno(b('c'), 10)).to.equal(4);
    expect(fragments.coveringSeqno(b('c'), 4)).to.equal(NOT_COVERED);
    expect(fragments.coveringSeqno(b('z'), Infinity)).to.equal(NOT_COVERED);
    expect(fragments.coveringSeqno(b('0'), Infinity)).to.equal(NOT_COVERED);
  });

  it('reuses the bytes of a bound it already holds (repeated range deletes copy nothing)', () => {
    const tombstones = new MemtableTombstones();
    const record = b('xxuser/user0yy');
    tombstones.addFrom(record, 2, 5, record, 7, 5, 1);
    const [first] = tombstones.fragments().fragments();
    tombstones.addFrom(record, 2, 5, record, 7, 5, 2);
    tombstones.add(b('user/'), b('user0'), 3);
    const fragments = tombstones.fragments();
    expect(fragments.fragmentCount).to.equal(1);
    expect(fragments.fragments()[0]!.start).to.equal(first!.start);
    expect(fragments.fragments()[0]!.end).to.equal(first!.end);
    expect(fragments.fragments()[0]!.seqnos).to.deep.equal([1, 2, 3]);
    // The bounds were copied out of the record: changing it changes nothing.
    record.fill(0);
    expect(tombstones.coveringSeqno(b('user/7'), Infinity)).to.equal(3);
  });

  it('ignores an empty range and a repeated (range, seqno)', () => {
    const tombstones = new MemtableTombstones();
    tombstones.add(b('b'), b('b'), 1);
    tombstones.add(b('c'), b('a'), 1);
    expect(tombstones.isEmpty()).to.equal(true);
    tombstones.add(b('a'), b('c'), 5);
    tombstones.add(b('a'), b('c'), 5);
    tombstones.add(b('a'), b('b'), 5);
    expect(tombstones.count).to.equal(2);
    expectWellFormed(tombstones.fragments());
  });

  it('agrees with brute force, built incrementally (in chunks) or in one sweep', () => {
    fc.assert(
      fc.property(
        fc.array(tombstoneArb, { maxLength: 60 }),
        fc.array(keyArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 32 }),
        fc.constantFrom(1, 2, 3, 128),
        (tombstones, probes, readSeqno, chunkFragments) => {
          // Tiny chunks: adds split chunks and span several of them.
          const growing = new MemtableTombstones(chunkFragments);
          for (const t of tombstones) {
            growing.add(t.start, t.end, t.seqno);
            expectWellFormed(growing.fragments());
          }
          const incremental = growing.fragments();
          expect(growing.count).to.equal(incremental.count);
          const swept = RangeTombstoneFragments.fromPieces(tombstones);
          expectWellFormed(swept);
          for (const probe of probes) {
            const expected = bruteForce(tombstones, probe, readSeqno);
            expect(growing.coveringSeqno(probe, readSeqno)).to.equal(expected);
            expect(incremental.coveringSeqno(probe, readSeqno)).to.equal(expected);
            expect(swept.coveringSeqno(probe, readSeqno)).to.equal(expected);
          }
          // Both describe the same deletions: rebuilt from each other's pieces, they agree.
          const again = RangeTombstoneFragments.fromPieces(incremental.pieces());
          expect(again.pieces()).to.deep.equal(swept.pieces());
        },
      ),
      { numRuns: 400 },
    );
  });

  it('filters, clips and looks up in order (coverage) like brute force', () => {
    fc.assert(
      fc.property(
        fc.array(tombstoneArb, { minLength: 1, maxLength: 30 }),
        fc.array(keyArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 32 }),
        fc.boolean(),
        (tombstones, probes, readSeqno, backward) => {
          const fragments = RangeTombstoneFragments.fromPieces(tombstones);
          const even = fragments.filter((_f, seqno) => seqno % 2 === 0);
          expectWellFormed(even);
          const evenTombstones = tombstones.filter((t) => t.seqno % 2 === 0);
          const sorted = [...probes].sort((x, y) => Buffer.compare(x, y));
          if (backward) sorted.reverse();
          const coverage = new TombstoneCoverage(fragments, readSeqno);
          for (const probe of sorted) {
            expect(coverage.seqnoAt(probe)).to.equal(bruteForce(tombstones, probe, readSeqno));
            expect(even.coveringSeqno(probe, readSeqno)).to.equal(
              bruteForce(evenTombstones, probe, readSeqno),
            );
          }
          // Clipped at a key: the two halves together cover what the whole did, each only its side.
          const cut = probes[0]!;
          const low = RangeTombstoneFragments.fromPieces(fragments.clip(undefined, cut));
          const high = RangeTombstoneFragments.fromPieces(fragments.clip(cut, undefined));
          for (const probe of probes) {
            const below = Buffer.compare(probe, cut) < 0;
            const whole = fragments.coveringSeqno(probe, readSeqno);
            expect(low.coveringSeqno(probe, readSeqno)).to.equal(below ? whole : NOT_COVERED);
            expect(high.coveringSeqno(probe, readSeqno)).to.equal(below ? NOT_COVERED : whole);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('adds many tombstones in scattered order, each found again', () => {
    // 20,000 disjoint tombstones: the chunks keep each add to two binary searches and a small
    // splice (a flat array made adding them quadratic).
    const tombstones = new MemtableTombstones();
    const n = 20_000;
    const bound = (i: number, suffix: string): Buffer =>
      b(`k${String(i).padStart(6, '0')}${suffix}`);
    const seqnoOf: number[] = [];
    for (let j = 0; j < n; j++) {
      const i = (j * 7919) % n;
      seqnoOf[i] = j;
      tombstones.add(bound(i, 'a'), bound(i, 'b'), j);
    }
    expect(tombstones.count).to.equal(n);
    for (let i = 0; i < n; i += 7) {
      expect(tombstones.coveringSeqno(bound(i, 'a5'), Infinity)).to.equal(seqnoOf[i]);
      expect(tombstones.coveringSeqno(bound(i, 'b'), Infinity)).to.equal(NOT_COVERED);
    }
    expectWellFormed(tombstones.fragments());
    expect(tombstones.fragments().fragmentCount).to.equal(n);
  });

  it('joins the pieces of a tombstone split at a segment boundary', () => {
    const whole = RangeTombstoneFragments.fromPieces([
      { start: b('a'), end: b('m'), seqno: 3 },
      { start: b('m'), end: b('z'), seqno: 3 },
    ]);
    expect(whole.fragmentCount).to.equal(1);
    expect(whole.count).to.equal(1);
  });
});

describe('range tombstone block', () => {
  const file = '/tree/segments/9.seg';

  it('round-trips fragments', () => {
    fc.assert(
      fc.property(fc.array(tombstoneArb, { minLength: 1, maxLength: 30 }), (tombstones) => {
        const fragments = RangeTombstoneFragments.fromPieces(tombstones);
        const decoded = decodeRangeTombstoneBlock(encodeRangeTombstoneBlock(fragments), file, 100);
        expect(decoded.pieces()).to.deep.equal(fragments.pieces());
        expect(decoded.count).to.equal(fragments.count);
      }),
    );
  });

  it('reports damaged structure as CORRUPTION with file and offset', () => {
    const fragments = RangeTombstoneFragments.fromPieces([
      { start: b('a'), end: b('c'), seqno: 1 },
      { start: b('b'), end: b('d'), seqno: 2 },
    ]);
    const good = encodeRangeTombstoneBlock(fragments);
    const damaged: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['zero fragments', Buffer.from([0])],
      ['truncated', good.subarray(0, good.length - 1)],
      ['trailing bytes', Buffer.concat([good, Buffer.from([0])])],
      // [a, a): start and end equal.
      ['empty fragment', Buffer.from([1, 1, 0x61, 1, 0x61, 1, 5])],
      // [b, c) then [a, c): out of order.
      ['unordered', Buffer.from([2, 1, 0x62, 1, 0x63, 1, 5, 1, 0x61, 1, 0x63, 1, 5])],
      // Seqnos 5 then 4.
      ['seqnos descending', Buffer.from([1, 1, 0x61, 1, 0x62, 2, 5, 4])],
      ['no seqno', Buffer.from([1, 1, 0x61, 1, 0x62, 0, 0])],
    ];
    for (const [name, bytes] of damaged) {
      try {
        decodeRangeTombstoneBlock(bytes, file, 4242);
        expect.fail(`${name}: decoded`);
      } catch (error) {
        expect(isStrataError(error, 'CORRUPTION'), `${name}: ${String(error)}`).to.equal(true);
        if (isStrataError(error)) {
          expect(error.details.file).to.equal(file);
          expect(error.details.offset).to.equal(4242);
        }
      }
    }
  });
});
