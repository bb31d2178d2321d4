import { expect } from 'chai';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import type { LogDamage } from '../src/index.js';

/** Start offsets of the framed records of a log segment: `[u32 length][u32 crc32c][payload]`. */
function recordOffsets(segment: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 8 <= segment.length; offset += 8 + segment.readUInt32LE(offset))
    offsets.push(offset);
  return offsets;
}

/** Flips one byte inside the payload of the `recordIndex`-th record; returns that record's offset. */
async function damageRecord(path: string, recordIndex: number): Promise<number> {
  const bytes = await readFile(path);
  const offset = recordOffsets(bytes)[recordIndex] as number;
  const at = offset + 8 + 3;
  bytes[at] = (bytes[at] as number) ^ 0x5a;
  await writeFile(path, bytes);
  return offset;
}

describe('Store.checkLog: the sealed log segments that opening did not read', () => {
  let dir: { path: string; remove(): Promise<void> };
  let segments: string[];
  const options = { walSegmentSizeBytes: 4096 } as const;

  beforeEach(async () => {
    dir = await createTempDirectory('log-check-');
    const store = await Store.open(dir.path, options);
    for (let index = 0; index < 400; index++)
      await store.put(`k${String(index).padStart(4, '0')}`, `value-${index}-${'x'.repeat(40)}`);
    // Flushed before closing: every record is below the flushed seqno.
    await store.close({ flushMemtable: true });
    segments = (await readdir(join(dir.path, 'wal')))
      .filter((name) => name.endsWith('.log'))
      .sort()
      .map((name) => join(dir.path, 'wal', name));
    expect(segments.length).to.be.greaterThan(4);
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('opening trusts the sealed segments; the check finds a flipped byte in one, naming file and record offset, and goes on', async () => {
    const second = segments[1] as string;
    const fourth = segments[3] as string;
    const secondOffset = await damageRecord(second, 5);
    const fourthOffset = await damageRecord(fourth, 0);
    const store = await Store.open(dir.path, options);
    try {
      // The damage is below the flushed seqno: open neither reads nor reports it.
      expect(store.status).to.equal('open');
      expect(store.logRecovery.tornTail).to.equal(undefined);
      const found: LogDamage[] = [];
      const report = await store.checkLog({ onDamage: (damage) => found.push(damage) });
      expect(report.damage.map(({ file, offset }) => ({ file, offset }))).to.deep.equal([
        { file: second, offset: secondOffset },
        { file: fourth, offset: fourthOffset },
      ]);
      expect(report.damage[0]?.reason).to.match(/checksum/);
      expect(found).to.deep.equal(report.damage);
      expect(report.stopped).to.equal(false);
      // Every segment but the active one was read.
      expect(report.checkedSegmentCount).to.equal(segments.length - 1);
      // Reads of the flushed data are not affected.
      expect((await store.get('k0000'))?.toString()).to.match(/^value-0-/);
    } finally {
      await store.close();
    }
  });

  it('an intact log: no damage, every sealed segment read', async () => {
    const store = await Store.open(dir.path, options);
    try {
      const report = await store.checkLog();
      expect(report.damage).to.deep.equal([]);
      expect(report.checkedSegmentCount).to.equal(segments.length - 1);
      expect(report.checkedBytes).to.be.greaterThan(4096 * (segments.length - 2));
    } finally {
      await store.close();
    }
  });

  it('a segment whose first record is damaged is reported once, and the segments after it are still read', async () => {
    const third = segments[2] as string;
    const last = segments[segments.length - 2] as string;
    await damageRecord(third, 0);
    const lastOffset = await damageRecord(last, 2);
    const store = await Store.open(dir.path, options);
    try {
      const report = await store.checkLog();
      expect(report.damage.map(({ file, offset }) => ({ file, offset }))).to.deep.equal([
        { file: third, offset: 0 },
        { file: last, offset: lastOffset },
      ]);
    } finally {
      await store.close();
    }
  });

  it('an aborted check resolves with what it found so far, marked stopped', async () => {
    const store = await Store.open(dir.path, options);
    try {
      const controller = new AbortController();
      controller.abort();
      const report = await store.checkLog({ signal: controller.signal });
      expect(report.stopped).to.equal(true);
      expect(report.damage).to.deep.equal([]);
    } finally {
      await store.close();
    }
  });
});
