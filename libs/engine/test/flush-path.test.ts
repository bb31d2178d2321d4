import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { SimulatedFileSystem, isStrataError, seededRandom } from '@strata/core';
import type { WriterSettings } from '../src/compaction/merge-job.js';
import { runJob, writeMerged } from '../src/compaction/merge-job.js';
import type { ValueKindCode } from '../src/entry.js';
import { segmentFileName } from '../src/file-names.js';
import { NIL } from '../src/memtable/layout.js';
import { Memtable } from '../src/memtable/memtable.js';
import { MemtableCursor } from '../src/memtable/memtable-cursor.js';
import { BlockBuilder } from '../src/segment/block.js';
import { compareKeys } from '../src/util/bytes.js';

interface TestEntry {
  key: Buffer;
  value: Buffer;
  seqno: number;
  kind: ValueKindCode;
}

const FOLDER = '/segments';
const SEGMENT_ID = 7;
const NOW_MS = 1_700_000_000_000;

function memtableOf(entries: readonly TestEntry[]): Memtable {
  const memtable = new Memtable();
  for (const e of entries) memtable.insert(e.key, e.value, e.seqno, e.kind);
  return memtable;
}

/** The segment bytes a flush job writes (the slab-copying path), or undefined when none. */
async function flushBySlabCopy(
  memtable: Memtable,
  writer: WriterSettings,
  gcWatermark: number,
): Promise<Buffer | undefined> {
  const fs = new SimulatedFileSystem();
  await fs.mkdir(FOLDER);
  const metas = await runJob(
    {
      kind: 'flush',
      memtable: memtable.toShared(),
      folder: FOLDER,
      segmentId: SEGMENT_ID,
      writer,
      gcWatermark,
      nowMs: NOW_MS,
    },
    fs,
  );
  if (metas.length === 0) return undefined;
  return fs.readFile(posix.join(FOLDER, segmentFileName(SEGMENT_ID)));
}

/** The same flush through the generic merge loop: a cursor's Buffer views into `add`. */
async function flushThroughCursor(
  memtable: Memtable,
  writer: WriterSettings,
  gcWatermark: number,
): Promise<Buffer | undefined> {
  const fs = new SimulatedFileSystem();
  await fs.mkdir(FOLDER);
  const ids = [SEGMENT_ID];
  const metas = await writeMerged(new MemtableCursor(memtable, 'forward', undefined), {
    fileSystem: fs,
    folder: FOLDER,
    writer,
    nextId: () => ids.shift(),
    targetSegmentSizeBytes: Number.POSITIVE_INFINITY,
    gcWatermark,
    canDropTombstone: () => false,
    newestDataAtMs: NOW_MS,
  });
  if (metas.length === 0) return undefined;
  return fs.readFile(posix.join(FOLDER, segmentFileName(SEGMENT_ID)));
}

const sha256 = (bytes: Buffer | undefined): string =>
  createHash('sha256')
    .update(bytes ?? Buffer.alloc(0))
    .digest('hex');

/**
 * A fixed entry set covering what a flush must get right: duplicate keys with several seqnos,
 * exact (key, seqno) repeats, tombstones, empty values and an empty key, keys longer than the
 * memtable's 16-byte prefix that differ only after it, keys that differ only in trailing zero
 * bytes, values around the copy thresholds, and one value larger than a write buffer.
 */
function goldenEntries(): TestEntry[] {
  const random = seededRandom(20240611);
  const out: TestEntry[] = [];
  const valueOf = (length: number, seed: number): Buffer => {
    const v = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) v[i] = (seed + i * 7 + (i >> 3)) & 0xff;
    return v;
  };
  const counterKey = (): Buffer =>
    Buffer.from(`k${String(Math.floor(random() * 40_000)).padStart(15, '0')}`);
  let seqno = 1;
  for (let i = 0; i < 20_000; i++) {
    const shape = random();
    let key: Buffer;
    if (shape < 0.5) key = counterKey();
    else if (shape < 0.7) {
      key = Buffer.from(
        `long-key-prefix-${Math.floor(random() * 2000)}-${'x'.repeat(Math.floor(random() * 150))}`,
      );
    } else if (shape < 0.8) {
      key = Buffer.concat([Buffer.from('z'), Buffer.alloc(Math.floor(random() * 20))]);
    } else if (shape < 0.9) {
      key = Buffer.from(
        [Math.floor(random() * 4) * 0x55, 0, 0xff].slice(0, 1 + Math.floor(random() * 3)),
      );
    } else key = counterKey().subarray(0, 1 + Math.floor(random() * 16));
    const tombstone = random() < 0.1;
    const r = random();
    let length = 0;
    if (tombstone || r < 0.15) length = 0;
    else if (r < 0.5) length = Math.floor(random() * 32);
    else if (r < 0.9) length = 32 + Math.floor(random() * 224);
    else length = 256 + Math.floor(random() * 3000);
    // Some writes reuse the previous seqno: for the same key, an exact repeat that shadows it.
    const s = random() < 0.05 && seqno > 1 ? seqno - 1 : seqno++;
    out.push({ key, value: valueOf(length, i), seqno: s, kind: tombstone ? 1 : 0 });
  }
  out.push({ key: Buffer.alloc(0), value: valueOf(10, 1), seqno: seqno++, kind: 0 });
  out.push({ key: Buffer.from('huge'), value: valueOf(1_500_000, 3), seqno: seqno++, kind: 0 });
  return out;
}

const settings = (compression: WriterSettings['compression']): WriterSettings => ({
  blockSizeBytes: 4096,
  restartInterval: 16,
  bloomBitsPerKey: 10,
  compression,
});

describe('flush path (memtable slabs copied straight into blocks)', () => {
  // sha256 of the segments the engine wrote for goldenEntries() before flushes copied from the
  // memtable's slabs (Buffer views into SegmentWriter.add). A mismatch means the segment format
  // changed: existing segments would no longer match what is written now.
  const GOLDEN_UNCOMPRESSED: Record<string, string> = {
    Infinity: 'd7d361ec14879f6d8c93e4e755c6ea6560ca10309c078f4432d911ca793c6080',
    '12000': '037bd64a0821f64b9ada17152c79460161072d8043fb0dd992362cbe7e5b98fd',
  };

  it('writes the same bytes as the engine did before, through both write paths', async () => {
    const memtable = memtableOf(goldenEntries());
    for (const watermark of [Number.POSITIVE_INFINITY, 12_000]) {
      const golden = GOLDEN_UNCOMPRESSED[String(watermark)];
      const slabCopy = await flushBySlabCopy(memtable, settings('none'), watermark);
      const cursor = await flushThroughCursor(memtable, settings('none'), watermark);
      expect(slabCopy!.length).to.be.greaterThan(4 * 1024 * 1024);
      expect(sha256(slabCopy), `slab-copy flush, watermark ${watermark}`).to.equal(golden);
      expect(sha256(cursor), `cursor flush, watermark ${watermark}`).to.equal(golden);
    }
  });

  it('compresses to the same bytes through both write paths', async () => {
    const memtable = memtableOf(goldenEntries());
    for (const watermark of [Number.POSITIVE_INFINITY, 12_000]) {
      const slabCopy = await flushBySlabCopy(memtable, settings('lz4'), watermark);
      const cursor = await flushThroughCursor(memtable, settings('lz4'), watermark);
      expect(slabCopy).to.not.equal(undefined);
      expect(slabCopy!.equals(cursor!), `watermark ${watermark}`).to.equal(true);
    }
  });

  it('matches the cursor path for random entries, settings and watermarks', async () => {
    // Few byte values, so keys share prefixes, repeat, and differ only in trailing zeros.
    const keyArb = fc
      .array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { maxLength: 24 })
      .map((bytes) => Buffer.from(bytes));
    const valueArb = fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 700 }) },
    );
    const entryArb = fc.record({
      key: keyArb,
      value: valueArb.map((v) => Buffer.from(v)),
      seqno: fc.integer({ min: 0, max: 40 }),
      kind: fc.constantFrom<ValueKindCode>(0, 1),
    });
    // Exact (key, seqno) repeats with other values: in a memtable the newer one shadows the other.
    const entriesArb = fc
      .tuple(
        fc.array(entryArb, { maxLength: 120, size: 'medium' }),
        fc.array(fc.tuple(fc.nat(), valueArb), { maxLength: 12 }),
      )
      .map(([entries, repeats]) => {
        const out = [...entries];
        for (const [index, value] of repeats) {
          const original = entries[index % Math.max(1, entries.length)];
          if (original) out.push({ ...original, value: Buffer.from(value) });
        }
        return out;
      });
    await fc.assert(
      fc.asyncProperty(
        entriesArb,
        fc.record({
          blockSizeBytes: fc.constantFrom(64, 200, 4096),
          restartInterval: fc.integer({ min: 1, max: 16 }),
          bloomBitsPerKey: fc.constantFrom(0, 10),
          compression: fc.constantFrom<WriterSettings['compression']>('none', 'lz4'),
        }),
        fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 41 })),
        async (entries, writer, watermark) => {
          const memtable = memtableOf(entries);
          const slabCopy = await flushBySlabCopy(memtable, writer, watermark);
          const cursor = await flushThroughCursor(memtable, writer, watermark);
          expect(slabCopy === undefined).to.equal(entries.length === 0);
          expect(sha256(slabCopy)).to.equal(sha256(cursor));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the newest of exact repeats and the versions the watermark needs', async () => {
    const entries: TestEntry[] = [];
    for (const key of ['a', 'b'.repeat(40)]) {
      for (const seqno of [9, 7, 7, 7, 5, 3, 3]) {
        entries.push({ key: Buffer.from(key), value: Buffer.from(`${seqno}`), seqno, kind: 0 });
      }
      entries.push({ key: Buffer.from(key), value: Buffer.alloc(0), seqno: 4, kind: 1 });
    }
    const memtable = memtableOf(entries);
    for (const watermark of [0, 3, 4, 5, 6, 7, 8, 9, 10, Number.POSITIVE_INFINITY]) {
      const slabCopy = await flushBySlabCopy(memtable, settings('none'), watermark);
      const cursor = await flushThroughCursor(memtable, settings('none'), watermark);
      expect(sha256(slabCopy), `watermark ${watermark}`).to.equal(sha256(cursor));
    }
  });

  it('block builder: caller-computed shared prefixes give the same block as add', () => {
    const random = seededRandom(11);
    for (let round = 0; round < 50; round++) {
      const entries: TestEntry[] = [];
      const count = 1 + Math.floor(random() * 60);
      for (let i = 0; i < count; i++) {
        const key = Buffer.alloc(Math.floor(random() * 40), 'ab'[Math.floor(random() * 2)]);
        for (let j = 0; j < key.length; j++) if (random() < 0.1) key[j] = 0x61 + (j % 3);
        const value = Buffer.alloc(Math.floor(random() * 100), i);
        entries.push({ key, value, seqno: Math.floor(random() * 1000), kind: 0 });
      }
      entries.sort((a, b) => compareKeys(a.key, b.key) || b.seqno - a.seqno);
      const restartInterval = 1 + Math.floor(random() * 8);
      const byAdd = new BlockBuilder(restartInterval, 16);
      const byPrefix = new BlockBuilder(restartInterval, 16);
      // The key and value side by side in one buffer, as in a memtable slab, every other entry.
      const joined = Buffer.alloc(16 * 1024);
      let previous: Buffer | undefined;
      for (const [i, e] of entries.entries()) {
        byAdd.add(e.key, e.value, e.seqno, e.kind);
        let shared = 0;
        while (previous && shared < Math.min(previous.length, e.key.length)) {
          if (previous[shared] !== e.key[shared]) break;
          shared++;
        }
        if (i % 2 === 0) {
          e.key.copy(joined, 5);
          e.value.copy(joined, 5 + e.key.length);
          byPrefix.addWithSharedPrefix(
            shared,
            joined,
            5,
            e.key.length,
            joined,
            5 + e.key.length,
            e.value.length,
            e.seqno,
            e.kind,
          );
        } else {
          byPrefix.addWithSharedPrefix(
            shared,
            e.key,
            0,
            e.key.length,
            e.value,
            0,
            e.value.length,
            e.seqno,
            e.kind,
          );
        }
        previous = e.key;
      }
      expect(byPrefix.finish().equals(byAdd.finish()), `round ${round}`).to.equal(true);
    }
  });

  it('block builder: refuses add after addWithSharedPrefix in the same block', () => {
    const builder = new BlockBuilder(16);
    const key = Buffer.from('key');
    builder.addWithSharedPrefix(0, key, 0, 3, key, 0, 0, 2, 0);
    expect(() => builder.add(Buffer.from('kez'), Buffer.alloc(0), 1, 0)).to.throw(
      /addWithSharedPrefix/,
    );
    try {
      builder.add(Buffer.from('kez'), Buffer.alloc(0), 1, 0);
    } catch (error) {
      expect(isStrataError(error) && error.code).to.equal('INTERNAL');
    }
    builder.finish();
    builder.add(Buffer.from('kez'), Buffer.alloc(0), 1, 0);
    expect(builder.count).to.equal(1);
  });

  it('memtable accessors describe the entry keyAt and valueAt return', () => {
    const random = seededRandom(5);
    const memtable = new Memtable();
    for (let i = 0; i < 3000; i++) {
      // Long shared prefixes, trailing zeros and lengths around the 16-byte slot prefix.
      const key = Buffer.alloc(Math.floor(random() * 24), 0);
      key.fill(0x61, 0, Math.floor(random() * key.length));
      if (key.length > 0 && random() < 0.5) key[key.length - 1] = Math.floor(random() * 3);
      memtable.insert(key, Buffer.alloc(Math.floor(random() * 50), i), i, 0);
    }
    let previous = NIL;
    for (let p = memtable.first(); p !== NIL; p = memtable.next(p)) {
      const slab = memtable.slabAt(p);
      const offset = memtable.keyOffsetAt(p);
      const keyLength = memtable.keyLengthAt(p);
      const valueLength = memtable.valueLengthAt(p);
      expect(slab.subarray(offset, offset + keyLength).equals(memtable.keyAt(p))).to.equal(true);
      const valueStart = offset + keyLength;
      expect(
        slab.subarray(valueStart, valueStart + valueLength).equals(memtable.valueAt(p)),
      ).to.equal(true);
      if (previous !== NIL) {
        const same = compareKeys(memtable.keyAt(p), memtable.keyAt(previous)) === 0;
        expect(memtable.sameKeyAt(p, previous)).to.equal(same);
        expect(memtable.sameKeyAt(previous, p)).to.equal(same);
      }
      expect(memtable.sameKeyAt(p, p)).to.equal(true);
      previous = p;
    }
  });
});
