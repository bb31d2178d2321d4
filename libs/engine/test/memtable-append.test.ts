import { expect } from 'chai';
import fc from 'fast-check';
import { Memtable, ValueKind } from '../src/index.js';

/**
 * The insert paths a log replay takes: keys and values as byte ranges of one record buffer
 * (insertFrom, copied through DataViews), keys mostly in ascending order (appends after the last
 * leaf's last slot skip the descent), and memtables that grow past the size from which they
 * reserve their arrays. Each is checked against a sorted model.
 */
interface ModelEntry {
  readonly key: Buffer;
  readonly seqno: number;
  readonly value: Buffer;
}

function order(a: ModelEntry, b: ModelEntry): number {
  return Buffer.compare(a.key, b.key) || b.seqno - a.seqno;
}

/** Before any entry with an equal (key, seqno), as the memtable inserts. */
function modelInsert(model: ModelEntry[], entry: ModelEntry): void {
  let low = 0;
  let high = model.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (order(model[middle]!, entry) < 0) low = middle + 1;
    else high = middle;
  }
  model.splice(low, 0, entry);
}

function contents(m: Memtable): string[] {
  const out: string[] = [];
  for (let at = m.first(); at !== -1; at = m.next(at))
    out.push(`${m.keyAt(at).toString('hex')}@${m.seqnoAt(at)}=${m.valueAt(at).toString('hex')}`);
  return out;
}

function describe_(model: readonly ModelEntry[]): string[] {
  return model.map((e) => `${e.key.toString('hex')}@${e.seqno}=${e.value.toString('hex')}`);
}

/**
 * Packs the entries into one buffer the way a record does (a few bytes of framing before each
 * key and between key and value) and inserts them with insertFrom.
 */
function insertAsRecord(m: Memtable, model: ModelEntry[], entries: readonly ModelEntry[]): void {
  const parts: Buffer[] = [];
  const ranges: [number, number, number, number][] = [];
  let at = 0;
  for (const entry of entries) {
    parts.push(Buffer.from([0x2a, 0x08, 0x12]), entry.key, Buffer.from([0x1a, 0x00]), entry.value);
    ranges.push([at + 3, entry.key.length, at + 5 + entry.key.length, entry.value.length]);
    at += 5 + entry.key.length + entry.value.length;
  }
  // Offset inside a larger allocation: the record is a view, as the log's reader yields.
  const record = Buffer.concat([Buffer.alloc(7, 0xee), ...parts]).subarray(7);
  entries.forEach((entry, index) => {
    const [keyStart, keyLength, valueStart, valueLength] = ranges[index]!;
    m.insertFrom(
      record,
      keyStart,
      keyLength,
      valueStart,
      valueLength,
      entry.seqno,
      ValueKind.Value,
    );
    modelInsert(model, entry);
  });
}

describe('Memtable: replay-shaped inserts', () => {
  it('keys mostly ascending, from record buffers, match the model (fast-check)', () => {
    const stepArb = fc.record({
      // Mostly forward (appends), sometimes back (a descent), sometimes the same key again.
      move: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -50, max: -1 }) },
      ),
      seqnoDelta: fc.integer({ min: -1, max: 1 }),
      valueLength: fc.integer({ min: 0, max: 41 }),
      longKey: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 900, size: 'max' }), (steps) => {
        const m = new Memtable(16);
        const model: ModelEntry[] = [];
        let position = 1_000_000;
        let seqno = 100;
        let batch: ModelEntry[] = [];
        steps.forEach((step, index) => {
          position += step.move;
          seqno += step.seqnoDelta;
          const key = Buffer.alloc(step.longKey ? 19 : 6);
          key.writeUInt32BE(position, 0);
          const value = Buffer.alloc(step.valueLength, index & 0xff);
          batch.push({ key, seqno, value });
          if (batch.length === 17 || index === steps.length - 1) {
            insertAsRecord(m, model, batch);
            batch = [];
          }
        });
        expect(contents(m)).to.deep.equal(describe_(model));
      }),
      { numRuns: 80 },
    );
  });

  it('a 100k-entry sequential replay grows past the reservation and keeps every byte', () => {
    const m = new Memtable();
    const model: ModelEntry[] = [];
    let batch: ModelEntry[] = [];
    for (let index = 0; index < 100_000; index++) {
      const key = Buffer.from(`k${String(index * 2).padStart(15, '0')}`);
      const value = Buffer.alloc(100, 0x61);
      value.writeUInt32LE((index * 2654435761) >>> 0, 3);
      batch.push({ key, seqno: index + 1, value });
      if (batch.length === 1000) {
        insertAsRecord(m, model, batch);
        batch = [];
      }
    }
    // One random key and one repeated key (a newer version) after the appends.
    const repeated = model[500]!;
    insertAsRecord(m, model, [
      { key: Buffer.from('k000000000000001'), seqno: 100_001, value: Buffer.from('odd') },
      { key: repeated.key, seqno: 100_002, value: Buffer.from('newer') },
    ]);
    expect(m.length).to.equal(100_002);
    expect(contents(m)).to.deep.equal(describe_(model));
    expect(m.get(repeated.key, 200_000)?.value.toString()).to.equal('newer');
  });
});
