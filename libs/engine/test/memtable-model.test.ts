import { expect } from 'chai';
import fc from 'fast-check';
import { Memtable, ValueKind } from '../src/index.js';
import { MemtableCursor } from '../src/memtable/memtable-cursor.js';
import type { Direction } from '../src/iterators/cursor.js';

/** One model entry: the memtable orders by key ascending, then seqno descending. */
interface ModelEntry {
  readonly key: Buffer;
  readonly seqno: number;
  readonly value: string;
}

function order(a: { key: Buffer; seqno: number }, b: { key: Buffer; seqno: number }): number {
  return Buffer.compare(a.key, b.key) || b.seqno - a.seqno;
}

/** Inserts like the memtable: before any entry with an equal (key, seqno), which it shadows. */
function modelInsert(model: ModelEntry[], entry: ModelEntry): void {
  let at = 0;
  while (at < model.length && order(model[at]!, entry) < 0) at++;
  model.splice(at, 0, entry);
}

function describeAll(m: Memtable, direction: Direction, bound?: Buffer, exclusive = false) {
  const cursor = new MemtableCursor(m, direction, bound ? { key: bound, exclusive } : undefined);
  const out: string[] = [];
  cursor.start();
  while (!cursor.done) {
    out.push(`${cursor.key.toString('hex')}@${cursor.seqno}=${cursor.value().toString()}`);
    cursor.advance();
  }
  return out;
}

function describeModel(entries: readonly ModelEntry[]): string[] {
  return entries.map((e) => `${e.key.toString('hex')}@${e.seqno}=${e.value}`);
}

// Short keys over a tiny alphabet force equal 16-byte prefixes, long keys force slab compares.
const keyArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 3, max: 3 }),
  fc.uint8Array({ minLength: 15, maxLength: 20, max: 2 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const opsArb = fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 40 })), {
  minLength: 1,
  maxLength: 1500,
  // Large sizes, so that leaves (64 slots) and inner nodes split.
  size: 'max',
});

describe('Memtable (B+tree) against a sorted-array model', () => {
  it('iterates, seeks and gets like the model in both directions', () => {
    fc.assert(
      fc.property(opsArb, keyArb, fc.integer({ min: 0, max: 42 }), (ops, probe, readSeqno) => {
        const m = new Memtable(16);
        const model: ModelEntry[] = [];
        ops.forEach(([k, seqno], i) => {
          const key = Buffer.from(k);
          m.insert(key, Buffer.from(`v${i}`), seqno, ValueKind.Value);
          modelInsert(model, { key, seqno, value: `v${i}` });
        });
        expect(m.length).to.equal(model.length);
        expect(describeAll(m, 'forward')).to.deep.equal(describeModel(model));
        expect(describeAll(m, 'backward')).to.deep.equal(describeModel([...model].reverse()));
        const p = Buffer.from(probe);
        const cmp = (e: ModelEntry) => Buffer.compare(e.key, p);
        for (const exclusive of [false, true]) {
          const after = model.filter((e) => (exclusive ? cmp(e) > 0 : cmp(e) >= 0));
          const before = model.filter((e) => (exclusive ? cmp(e) < 0 : cmp(e) <= 0)).reverse();
          expect(describeAll(m, 'forward', p, exclusive)).to.deep.equal(describeModel(after));
          expect(describeAll(m, 'backward', p, exclusive)).to.deep.equal(describeModel(before));
        }
        const expected = model.find((e) => cmp(e) === 0 && e.seqno < readSeqno);
        const got = m.get(p, readSeqno);
        expect(got && `${got.seqno}=${got.value.toString()}`).to.equal(
          expected && `${expected.seqno}=${expected.value}`,
        );
        const shared = Memtable.fromShared(structuredClone(m.toShared()));
        expect(describeAll(shared, 'backward')).to.deep.equal(describeAll(m, 'backward'));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps cursors correct while entries are inserted between their steps', () => {
    fc.assert(
      fc.property(
        opsArb,
        opsArb,
        fc.constantFrom<Direction>('forward', 'backward'),
        (initial, interleaved, direction) => {
          const m = new Memtable(16);
          // Distinct seqnos: after an insert the cursor seeks past (key, seqno), which would also
          // skip an older entry with the same (key, seqno); that one is shadowed anyway.
          initial.forEach(([k], i) => m.insert(Buffer.from(k), Buffer.from(`a${i}`), i, 0));
          const expected = describeAll(m, direction);
          // New entries get seqnos above every existing one (as in the tree): a cursor may or may
          // not see them, but it must see every old entry exactly once and in order.
          const cursor = new MemtableCursor(m, direction, undefined);
          const seen: string[] = [];
          cursor.start();
          let i = 0;
          while (!cursor.done) {
            if (cursor.seqno < 10_000) {
              seen.push(
                `${cursor.key.toString('hex')}@${cursor.seqno}=${cursor.value().toString()}`,
              );
            }
            const next = interleaved[i++ % interleaved.length]!;
            if (i < 3000) m.insert(Buffer.from(next[0]), Buffer.from('new'), 10_000 + i, 0);
            cursor.advance();
          }
          expect(seen).to.deep.equal(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('stays sorted over many sequential and random inserts (deep trees)', () => {
    const m = new Memtable();
    const keys: Buffer[] = [];
    for (let i = 0; i < 60_000; i++) {
      const key = Buffer.alloc(8);
      key.writeUInt32BE(i < 30_000 ? i : (i * 2654435761) >>> 0, 0);
      keys.push(key);
      m.insert(key, Buffer.alloc(3), i, ValueKind.Value);
    }
    keys.sort((a, b) => Buffer.compare(a, b));
    let position = m.first();
    for (const key of keys) {
      expect(m.keyAt(position).equals(key)).to.equal(true);
      position = m.next(position);
    }
    expect(position).to.equal(-1);
  });
});
