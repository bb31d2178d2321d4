import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from '@strata/core';
import { armPowerFailure } from '@strata/testing';
import { Wal } from '../src/index.js';
import type { WalOptions } from '../src/index.js';
import {
  decodeSeekIndexFile,
  encodeSeekIndexFile,
  seekIndexFileName,
} from '../src/segments/seek-index-file.js';
import type { SeekIndexFile } from '../src/segments/seek-index-file.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

/** Counts the bytes read from each file, to tell a seek from a full verification of a segment. */
class CountingFileSystem implements FileSystem {
  readonly bytesRead = new Map<string, number>();

  constructor(private readonly inner: FileSystem) {}

  read(path: string): number {
    return this.bytesRead.get(path) ?? 0;
  }

  reset(): void {
    this.bytesRead.clear();
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    const handle = await this.inner.open(path, mode, options);
    const count = (bytes: number): number => {
      this.bytesRead.set(path, this.read(path) + bytes);
      return bytes;
    };
    return {
      read: async (buffer, offset, length, position) =>
        count(await handle.read(buffer, offset, length, position)),
      readSync: (buffer, offset, length, position) =>
        count(handle.readSync(buffer, offset, length, position)),
      writev: (buffers, position) => handle.writev(buffers, position),
      writevSync: (buffers, position) => handle.writevSync(buffers, position),
      datasync: () => handle.datasync(),
      truncate: (lengthBytes) => handle.truncate(lengthBytes),
      sizeBytes: () => handle.sizeBytes(),
      close: () => handle.close(),
    };
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  mkdir(path: string): Promise<void> {
    return this.inner.mkdir(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  removeTree(path: string): Promise<void> {
    return this.inner.removeTree(path);
  }
  link(from: string, to: string): Promise<void> {
    return this.inner.link(from, to);
  }
  stat(path: string): Promise<FileStat> {
    return this.inner.stat(path);
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }
  syncDirectory(path: string): Promise<void> {
    return this.inner.syncDirectory(path);
  }
  async readFile(path: string): Promise<Buffer> {
    const bytes = await this.inner.readFile(path);
    this.bytesRead.set(path, this.read(path) + bytes.length);
    return bytes;
  }
}

const ENTRIES = 2;
const PADDING = '-'.repeat(40);
// Small segments and a small index interval: a dozen segments, a few records between entries.
const SMALL: WalOptions = { segmentSizeBytes: 4096, indexIntervalBytes: 512, readChunkBytes: 64 };

interface StoredRecord {
  readonly file: string;
  readonly offset: number;
  readonly firstSeqno: number;
  readonly lastSeqno: number;
}

interface CrashedLog {
  readonly fs: SimulatedFileSystem;
  /** Every record, as the log that wrote them saw them. */
  readonly records: readonly StoredRecord[];
  /** Segments as the writer left them (the last one active). */
  readonly segments: ReturnType<Wal['segments']>;
  readonly lastSeqno: number;
}

/**
 * Writes `entryCount` entries (batches of two) and abandons the log without closing it, as a
 * process crash does: everything written is in the file system, no CLEAN-CLOSE marker exists.
 */
async function crashedLog(entryCount = 800, fs = new SimulatedFileSystem()): Promise<CrashedLog> {
  const wal = await Wal.open('/wal', { ...SMALL, fileSystem: fs });
  for (let seqno = 1; seqno <= entryCount; seqno += ENTRIES)
    await wal.append(batchAt(seqno, ENTRIES, 1, PADDING));
  const records: StoredRecord[] = [];
  for await (const record of wal.readRecords())
    records.push({
      file: record.file,
      offset: record.offset,
      firstSeqno: record.firstSeqno,
      lastSeqno: record.lastSeqno,
    });
  expect(await fs.exists('/wal/CLEAN-CLOSE')).to.equal(false);
  return { fs, records, segments: wal.segments(), lastSeqno: wal.lastSeqno };
}

/** What a read from `fromSeqno` to `toSeqno` must return: batch starts and keys. */
function expected(
  records: readonly StoredRecord[],
  fromSeqno: number,
  toSeqno: number,
): { firstSeqno: number; keys: string[] }[] {
  return records
    .filter((record) => record.lastSeqno >= fromSeqno && record.firstSeqno <= toSeqno)
    .map((record) => ({
      firstSeqno: record.firstSeqno,
      keys: Array.from(
        { length: record.lastSeqno - record.firstSeqno + 1 },
        (_, index) => `k${record.firstSeqno + index}`,
      ),
    }));
}

function sidecarPath(segmentPath: string): string {
  return segmentPath.replace(/\.log$/, '.idx');
}

async function sidecarNames(fs: FileSystem): Promise<string[]> {
  return (await fs.readdir('/wal')).filter((name) => name.endsWith('.idx')).sort();
}

/** Whether a file exists, synchronously (for use inside a fault injector). */
function existsNow(fs: SimulatedFileSystem, path: string): boolean {
  try {
    fs.peek(path);
    return true;
  } catch {
    return false;
  }
}

/** Replaces a file's content durably (a test's stand-in for whatever left it there). */
async function overwrite(fs: SimulatedFileSystem, path: string, bytes: Buffer): Promise<void> {
  if (await fs.exists(path)) await fs.unlink(path);
  const handle = await fs.open(path, 'create-exclusive');
  await handle.writev([bytes], 0);
  await handle.datasync();
  await handle.close();
  await fs.syncDirectory('/wal');
}

/** A seqno three quarters into the sealed segment `segment`, at the start of a record. */
function seqnoInside(log: CrashedLog, segmentIndex: number): number {
  const segment = log.segments[segmentIndex]!;
  const inside = log.records.filter((record) => record.file === segment.path);
  return inside[Math.floor((inside.length * 3) / 4)]!.firstSeqno;
}

describe('Wal: seek-index sidecars', () => {
  it('sealing writes a sidecar per sealed segment; after a crash, reads seek through them without verifying the segment', async () => {
    const log = await crashedLog();
    expect(log.segments.length).to.be.greaterThan(6);
    expect(await sidecarNames(log.fs)).to.deep.equal(
      log.segments.filter((segment) => !segment.active).map((s) => seekIndexFileName(s.firstSeqno)),
    );

    const counting = new CountingFileSystem(log.fs);
    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: counting });
    expect(wal.recovery.cleanClose).to.equal(undefined);
    for (let index = 0; index < log.segments.length - 1; index++) {
      const segment = log.segments[index]!;
      const from = seqnoInside(log, index);
      counting.reset();
      expect(await readAll(wal, from, from + 5), `segment ${index}`).to.deep.equal(
        expected(log.records, from, from + 5),
      );
      // A full verification reads the whole segment; a seek reads from an index entry on.
      expect(counting.read(segment.path), `segment ${index}`).to.be.lessThan(segment.sizeBytes / 2);
      expect(counting.read(sidecarPath(segment.path))).to.be.greaterThan(0);
    }
    // Reads that run on into later segments and up to the live end are whole and in order.
    const from = seqnoInside(log, 2);
    expect(await readAll(wal, from)).to.deep.equal(expected(log.records, from, log.lastSeqno));
    await wal.close();

    // The control: without the sidecars the same read verifies the whole segment first.
    const bare = await crashedLog();
    for (const name of await sidecarNames(bare.fs)) await bare.fs.unlink(`/wal/${name}`);
    const control = new CountingFileSystem(bare.fs);
    const slow = await Wal.open('/wal', { ...SMALL, fileSystem: control });
    const target = bare.segments[3]!;
    const seqno = seqnoInside(bare, 3);
    expect(await readAll(slow, seqno, seqno + 5)).to.deep.equal(
      expected(bare.records, seqno, seqno + 5),
    );
    expect(control.read(target.path)).to.be.at.least(target.sizeBytes);
    await slow.close();
  });

  it('a corrupt record before the hinted offset does not stop a read after it; a read through it is CORRUPTION with file and offset', async () => {
    const log = await crashedLog();
    const victim = log.segments[2]!;
    const inSegment = log.records.filter((record) => record.file === victim.path);
    const damaged = inSegment[1]!;
    log.fs.corruptByte(victim.path, damaged.offset + 12);

    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    const from = seqnoInside(log, 2);
    expect(await readAll(wal, from, from + 9)).to.deep.equal(expected(log.records, from, from + 9));
    for (const start of [1, victim.firstSeqno, inSegment[0]!.firstSeqno]) {
      const error = await rejectionOf(readAll(wal, start));
      expect(error.code, `from ${start}`).to.equal('CORRUPTION');
      expect(error.details, `from ${start}`).to.include({
        file: victim.path,
        offset: damaged.offset,
      });
    }
    // Full verification still finds it too.
    const verifyError = await rejectionOf(wal.verify());
    expect(verifyError.details).to.include({ file: victim.path, offset: damaged.offset });
    await wal.close();
  });

  it('a damaged sidecar is never trusted: every flipped byte, every truncation, extra bytes', async () => {
    const log = await crashedLog(400);
    const segment = log.segments[1]!;
    const path = sidecarPath(segment.path);
    const good = log.fs.peek(path);
    expect(decodeSeekIndexFile(good)).to.not.equal(undefined);
    const from = seqnoInside(log, 1);
    const want = expected(log.records, from, from + 3);

    const check = async (bytes: Buffer, label: string): Promise<void> => {
      await overwrite(log.fs, path, bytes);
      const counting = new CountingFileSystem(log.fs);
      const wal = await Wal.open('/wal', { ...SMALL, fileSystem: counting, readOnly: true });
      expect(await readAll(wal, from, from + 3), label).to.deep.equal(want);
      // Refused: the segment was verified in full instead.
      expect(counting.read(segment.path), label).to.be.at.least(segment.sizeBytes);
      await wal.close();
    };
    for (let offset = 0; offset < good.length; offset++) {
      const flipped = Buffer.from(good);
      flipped[offset] = flipped[offset]! ^ 0xff;
      await check(flipped, `byte ${offset} flipped`);
    }
    for (let length = 0; length < good.length; length += 3)
      await check(good.subarray(0, length), `truncated to ${length}`);
    await check(Buffer.concat([good, Buffer.alloc(16)]), 'zeros appended');
    await check(Buffer.concat([good, good.subarray(64, 80)]), 'an entry appended');
  });

  it('a sidecar with a valid CRC but wrong offsets, a wrong size or another segment is never trusted, and never causes a false CORRUPTION', async () => {
    const log = await crashedLog(400);
    const segment = log.segments[1]!;
    const path = sidecarPath(segment.path);
    const good = decodeSeekIndexFile(log.fs.peek(path))!;
    const other = decodeSeekIndexFile(log.fs.peek(sidecarPath(log.segments[2]!.path)))!;
    const count = good.indexOffsets.length;
    expect(count).to.be.greaterThan(3);
    const variants: [string, SeekIndexFile][] = [
      [
        'offsets shifted by 8',
        {
          ...good,
          indexSeqnos: good.indexSeqnos.slice(0, -1),
          indexOffsets: good.indexOffsets.slice(0, -1).map((offset) => offset + 8),
        },
      ],
      [
        'offsets paired with the next seqnos',
        {
          ...good,
          indexSeqnos: good.indexSeqnos.slice(1),
          indexOffsets: good.indexOffsets.slice(0, -1),
        },
      ],
      [
        'seqnos one higher',
        { ...good, indexSeqnos: good.indexSeqnos.map((seqno, index) => seqno + (index ? 1 : 0)) },
      ],
      ['a wrong size', { ...good, sizeBytes: good.sizeBytes + 1 }],
      ['a wrong last seqno', { ...good, lastSeqno: good.lastSeqno - 1 }],
      ['another segment', other],
    ];
    const from = seqnoInside(log, 1);
    for (const [label, content] of variants) {
      await overwrite(log.fs, path, encodeSeekIndexFile(content));
      const counting = new CountingFileSystem(log.fs);
      const wal = await Wal.open('/wal', { ...SMALL, fileSystem: counting, readOnly: true });
      counting.reset();
      expect(await readAll(wal, from, from + 1), label).to.deep.equal(
        expected(log.records, from, from + 1),
      );
      // Refused, at load or at the record it points to: the segment was verified in full.
      expect(counting.read(segment.path), label).to.be.at.least(segment.sizeBytes);
      for (let seqno = segment.firstSeqno; seqno <= (segment.lastSeqno ?? 0); seqno += ENTRIES)
        expect(await readAll(wal, seqno, seqno + 1), `${label}, from ${seqno}`).to.deep.equal(
          expected(log.records, seqno, seqno + 1),
        );
      expect(await readAll(wal, from), label).to.deep.equal(
        expected(log.records, from, log.lastSeqno),
      );
      await wal.close();
    }
  });

  it('truncateAfter removes the sidecars of the cut and dropped segments before cutting; sealing again writes a fresh one', async () => {
    const log = await crashedLog();
    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    const cutSegment = log.segments[3]!;
    const cutAt = seqnoInside(log, 3);
    const stale = log.fs.peek(sidecarPath(cutSegment.path));
    let removedBeforeCut = false;
    log.fs.setFaultInjector((operation, path) => {
      // When the segment is cut, its sidecar must already be gone.
      if (operation === 'truncate' && path === cutSegment.path)
        removedBeforeCut = !existsNow(log.fs, sidecarPath(cutSegment.path));
      return undefined;
    });
    await wal.truncateAfter(cutAt - 1);
    log.fs.setFaultInjector(undefined);
    expect(removedBeforeCut).to.equal(true);
    expect(await sidecarNames(log.fs)).to.deep.equal(
      log.segments.slice(0, 3).map((segment) => seekIndexFileName(segment.firstSeqno)),
    );
    // Grow back with other content until the cut segment is sealed again: a new sidecar.
    let seqno = cutAt;
    while (wal.segments().length < 5) {
      await wal.append(batchAt(seqno, 3, 2, '+'.repeat(seqno % 30)));
      seqno += 3;
    }
    const fresh = log.fs.peek(sidecarPath(cutSegment.path));
    expect(fresh.equals(stale)).to.equal(false);
    const resealed = wal.segments()[3]!;
    expect(decodeSeekIndexFile(fresh)).to.include({
      firstSeqno: resealed.firstSeqno,
      sizeBytes: resealed.sizeBytes,
      lastSeqno: resealed.lastSeqno,
    });
    const wanted: { firstSeqno: number; keys: string[] }[] = [];
    for (let start = cutAt; start < seqno; start += 3)
      wanted.push({ firstSeqno: start, keys: [0, 1, 2].map((i) => `k${start + i}`) });
    // A crash, then reads through the fresh sidecar.
    const reopened = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    expect(await readAll(reopened, cutAt + 3)).to.deep.equal(wanted.slice(1));
    await reopened.close();
    // Even if the stale sidecar came back, it would not be trusted (another size).
    await overwrite(log.fs, sidecarPath(cutSegment.path), stale);
    const again = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs, readOnly: true });
    expect(await readAll(again, cutAt + 6)).to.deep.equal(wanted.slice(2));
    await again.close();
  });

  it('a whole-segment cut removes the sidecar of the segment that becomes active again', async () => {
    const log = await crashedLog();
    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    await wal.truncateAfter(log.segments[4]!.firstSeqno - 1);
    expect(wal.segments().length).to.equal(4);
    expect(await sidecarNames(log.fs)).to.deep.equal(
      log.segments.slice(0, 3).map((segment) => seekIndexFileName(segment.firstSeqno)),
    );
    await wal.close();
  });

  it('retention removes the sidecars of the segments it drops', async () => {
    const log = await crashedLog();
    const wal = await Wal.open('/wal', {
      ...SMALL,
      fileSystem: log.fs,
      retention: { kind: 'max-bytes', maxBytes: 3 * 4096 },
    });
    const result = await wal.dropBefore(Number.MAX_SAFE_INTEGER);
    expect(result.droppedFiles.length).to.be.greaterThan(2);
    const kept = wal.segments();
    expect(await sidecarNames(log.fs)).to.deep.equal(
      kept.filter((s) => !s.active).map((segment) => seekIndexFileName(segment.firstSeqno)),
    );
    for (const file of result.droppedFiles)
      expect(await log.fs.exists(sidecarPath(file))).to.equal(false);
    await wal.close();
  });

  it('point-in-time recovery removes the sidecars of the segments it cuts or sets aside', async () => {
    const log = await crashedLog();
    const victim = log.segments[3]!;
    const inSegment = log.records.filter((record) => record.file === victim.path);
    log.fs.corruptByte(victim.path, inSegment[2]!.offset + 12);
    const stillThere: string[] = [];
    log.fs.setFaultInjector((operation, path) => {
      // Before a segment is cut or moved aside, its sidecar must already be gone.
      if (
        (operation === 'truncate' || operation === 'rename') &&
        existsNow(log.fs, sidecarPath(path))
      )
        stillThere.push(path);
      return undefined;
    });
    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs, recovery: 'point-in-time' });
    log.fs.setFaultInjector(undefined);
    expect(stillThere).to.deep.equal([]);
    expect(wal.recovery.pointInTime?.file).to.equal(victim.path);
    expect(await sidecarNames(log.fs)).to.deep.equal(
      log.segments.slice(0, 3).map((segment) => seekIndexFileName(segment.firstSeqno)),
    );
    const quarantine = wal.recovery.pointInTime!.quarantineDirectory;
    expect((await log.fs.readdir(quarantine)).some((name) => name.endsWith('.idx'))).to.equal(
      false,
    );
    await wal.close();
  });

  it("cutting a torn tail removes the last segment's sidecar first", async () => {
    const log = await crashedLog(400);
    const active = log.segments[log.segments.length - 1]!;
    // A sidecar for the last segment: a crash right after sealing it, before the next one existed.
    await overwrite(
      log.fs,
      sidecarPath(active.path),
      log.fs.peek(sidecarPath(log.segments[0]!.path)),
    );
    const bytes = log.fs.peek(active.path);
    const handle = await log.fs.open(active.path, 'read-write');
    await handle.writev([bytes.subarray(0, 20)], bytes.length);
    await handle.datasync();
    await handle.close();
    let sidecarAtCut: boolean | undefined;
    log.fs.setFaultInjector((operation, path) => {
      if (operation === 'truncate' && path === active.path)
        sidecarAtCut = existsNow(log.fs, sidecarPath(path));
      return undefined;
    });
    const wal = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    log.fs.setFaultInjector(undefined);
    expect(wal.recovery.tornTail?.file).to.equal(active.path);
    expect(sidecarAtCut).to.equal(false);
    await wal.close();
  });

  it('a read-only open writes and removes nothing; a writable open removes orphaned and active-segment sidecars', async () => {
    const log = await crashedLog(400);
    const active = log.segments[log.segments.length - 1]!;
    const sealed = log.fs.peek(sidecarPath(log.segments[0]!.path));
    await overwrite(log.fs, `/wal/${seekIndexFileName(99_999)}`, sealed);
    await overwrite(log.fs, sidecarPath(active.path), sealed);
    const snapshot = async (): Promise<[string, string][]> =>
      (await log.fs.readdir('/wal'))
        .sort()
        .map((name) => [name, log.fs.peek(`/wal/${name}`).toString('hex')]);
    const before = await snapshot();

    const reader = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs, readOnly: true });
    const from = seqnoInside(log, 1);
    expect(await readAll(reader, from)).to.deep.equal(expected(log.records, from, log.lastSeqno));
    await reader.close();
    expect(await snapshot()).to.deep.equal(before);

    const writer = await Wal.open('/wal', { ...SMALL, fileSystem: log.fs });
    expect(await sidecarNames(log.fs)).to.deep.equal(
      log.segments.slice(0, -1).map((segment) => seekIndexFileName(segment.firstSeqno)),
    );
    expect(await readAll(writer, from)).to.deep.equal(expected(log.records, from, log.lastSeqno));
    await writer.close();
  });

  for (const [operation, fault] of [
    ['open', 'EIO'],
    ['write', 'ENOSPC'],
    ['write', 'EIO'],
    ['unlink', 'EIO'],
  ] as const) {
    it(`a sidecar that cannot be written (${operation} ${fault}) fails no append and leaves the log open`, async () => {
      const fs = new SimulatedFileSystem();
      fs.setFaultInjector((op, path) =>
        op === operation && path.endsWith('.idx') ? fault : undefined,
      );
      const log = await crashedLog(600, fs);
      fs.setFaultInjector(undefined);
      expect(log.segments.length).to.be.greaterThan(4);
      expect(await sidecarNames(fs)).to.deep.equal([]);
      const wal = await Wal.open('/wal', { ...SMALL, fileSystem: fs });
      expect(wal.status).to.equal('open');
      expect(wal.nextSeqno).to.equal(601);
      const from = seqnoInside(log, 2);
      expect(await readAll(wal, from)).to.deep.equal(expected(log.records, from, 600));
      await wal.close();
    });
  }

  it('power loss at random points: reads from any batch of a sealed segment return exactly the log', async () => {
    let sealedReads = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const random = seededRandom(seed);
      const fs = new SimulatedFileSystem();
      const wal = await Wal.open('/wal', { ...SMALL, fileSystem: fs });
      const failure = armPowerFailure(fs, 40 + Math.floor(random() * 400), random);
      let seqno = 1;
      while (!failure.happened) {
        try {
          await wal.append(batchAt(seqno, ENTRIES, 1, PADDING));
          seqno += ENTRIES;
        } catch {
          break;
        }
      }
      await wal.close().catch(() => undefined);
      const reopened = await Wal.open('/wal', { ...SMALL, fileSystem: failure.disk });
      const all: StoredRecord[] = [];
      for await (const record of reopened.readRecords())
        all.push({
          file: record.file,
          offset: record.offset,
          firstSeqno: record.firstSeqno,
          lastSeqno: record.lastSeqno,
        });
      const lastSeqno = reopened.lastSeqno;
      // A fresh open per read, so no seek index is left in memory from the full read above.
      const reader = await Wal.open('/wal', {
        ...SMALL,
        fileSystem: failure.disk,
        readOnly: true,
      });
      const sealed = reader.segments().filter((segment) => !segment.active);
      for (const record of all.filter((r) => sealed.some((s) => s.path === r.file))) {
        if (random() > 0.3) continue;
        sealedReads++;
        expect(
          await readAll(reader, record.firstSeqno + 1, record.firstSeqno + 4),
          `seed ${seed}`,
        ).to.deep.equal(expected(all, record.firstSeqno + 1, record.firstSeqno + 4));
      }
      expect(await readAll(reader, 1), `seed ${seed}`).to.deep.equal(expected(all, 1, lastSeqno));
      await reader.close();
      await reopened.close();
    }
    expect(sealedReads).to.be.greaterThan(500);
  });

  it('encodes and decodes a sidecar, and refuses a content that is not well formed', () => {
    const content: SeekIndexFile = {
      firstSeqno: 1001,
      sizeBytes: 64 * 1024 * 1024,
      lastSeqno: 2_000_000_000_123,
      lastRecordOffset: 67_000_000,
      lastChain: 0xdeadbeef,
      lastChecksum: 0x12345678,
      lastEpoch: 7,
      indexSeqnos: [1001, 1500, 2_000_000_000_000],
      indexOffsets: [0, 65_600, 66_000_000],
    };
    expect(decodeSeekIndexFile(encodeSeekIndexFile(content))).to.deep.equal(content);
    expect(() =>
      encodeSeekIndexFile({ ...content, indexOffsets: [0, 70_000_000, 66_000_000] }),
    ).to.throw();
  });
});
