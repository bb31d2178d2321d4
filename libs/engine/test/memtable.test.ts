import { expect } from 'chai';
import { MAX_SEQNO } from '../src/entry.js';
import { Memtable, ValueKind } from '../src/index.js';
import { MemtableCursor } from '../src/memtable/memtable-cursor.js';
import { b } from './helpers.js';

function drain(cursor: MemtableCursor): string[] {
  const out: string[] = [];
  cursor.start();
  while (!cursor.done) {
    out.push(`${cursor.key.toString()}@${cursor.seqno}`);
    cursor.advance();
  }
  return out;
}

describe('Memtable', () => {
  it('orders by key ascending, seqno descending, and iterates both ways', () => {
    const m = new Memtable(4);
    const inserts: [string, number][] = [
      ['b', 1],
      ['a', 2],
      ['b', 5],
      ['c', 3],
      ['a', 9],
      ['b', 3],
    ];
    for (const [k, seq] of inserts) m.insert(b(k), b(`${k}${seq}`), seq, ValueKind.Value);
    expect(m.length).to.equal(6);
    const forward = drain(new MemtableCursor(m, 'forward', undefined));
    expect(forward).to.deep.equal(['a@9', 'a@2', 'b@5', 'b@3', 'b@1', 'c@3']);
    expect(drain(new MemtableCursor(m, 'backward', undefined))).to.deep.equal(
      [...forward].reverse(),
    );
    expect(drain(new MemtableCursor(m, 'forward', { key: b('b'), exclusive: true }))).to.deep.equal(
      ['c@3'],
    );
    expect(
      drain(new MemtableCursor(m, 'backward', { key: b('b'), exclusive: false })),
    ).to.deep.equal(['b@1', 'b@3', 'b@5', 'a@2', 'a@9']);
    expect(m.get(b('b'), 4)?.seqno).to.equal(3);
    expect(m.get(b('b'), 1)).to.equal(undefined);
    expect(m.get(b('b'), Number.MAX_SAFE_INTEGER)?.value.toString()).to.equal('b5');
    expect(m.getHighestSeqno()).to.equal(9);
  });

  it('lets a repeated (key, seqno) shadow the earlier one', () => {
    const m = new Memtable();
    m.insert(b('k'), b('first'), 7, ValueKind.Value);
    m.insert(b('k'), b(''), 7, ValueKind.Tombstone);
    expect(m.get(b('k'), 8)?.kind).to.equal(ValueKind.Tombstone);
  });

  it('grows past its initial capacity with random keys and stays sorted', () => {
    const m = new Memtable(16);
    const keys = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const k = Math.random()
        .toString(36)
        .slice(2, 2 + (i % 7) + 1);
      keys.add(k);
      m.insert(b(k), Buffer.alloc(i % 300), i, ValueKind.Value);
    }
    const seen: string[] = [];
    for (let node = m.first(); node !== -1; node = m.next(node)) {
      const k = m.keyAt(node).toString();
      if (seen[seen.length - 1] !== k) seen.push(k);
    }
    expect(seen).to.deep.equal([...keys].sort((x, y) => Buffer.compare(b(x), b(y))));
  });

  it('jumps to its large reservation past 64k entries and stays sorted and readable', () => {
    const m = new Memtable();
    const n = 250_000;
    const key = (i: number): Buffer => {
      const k = Buffer.alloc(8);
      // A multiplicative permutation of 0..2^32: random order, every key distinct.
      k.writeUInt32BE(Math.imul(i, 0x9e3779b1) >>> 0, 0);
      k.writeUInt32BE(i, 4);
      return k;
    };
    for (let i = 0; i < n; i++) m.insert(key(i), key(i).subarray(4), i, ValueKind.Value);
    expect(m.length).to.equal(n);
    let count = 0;
    let previous: Buffer | undefined;
    for (let node = m.first(); node !== -1; node = m.next(node)) {
      const k = Buffer.from(m.keyAt(node));
      if (previous) expect(Buffer.compare(previous, k)).to.equal(-1);
      previous = k;
      count++;
    }
    expect(count).to.equal(n);
    for (const i of [0, 1, 65_535, 65_536, 123_457, n - 1]) {
      expect(m.get(key(i), MAX_SEQNO)?.seqno).to.equal(i);
    }
    const shared = Memtable.fromShared(m.toShared());
    expect(shared.get(key(200_000), MAX_SEQNO)?.value.readUInt32BE(0)).to.equal(200_000);
  });

  it('is readable from its shared state (as a flush worker sees it)', () => {
    const m = new Memtable();
    for (let i = 0; i < 100; i++) m.insert(b(`k${i}`), b(`v${i}`), i, ValueKind.Value);
    const copy = Memtable.fromShared(structuredClone(m.toShared()));
    expect(copy.length).to.equal(100);
    expect(copy.get(b('k42'), 1000)?.value.toString()).to.equal('v42');
    expect(() => copy.insert(b('x'), b('y'), 1, ValueKind.Value)).to.throw(/frozen/);
  });
});
