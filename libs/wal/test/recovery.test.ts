import { expect } from 'chai';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SimulatedFileSystem } from '@strata/core';
import type { StrataError } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { LogOp, Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import { batchAt, put, readAll, rejectionOf } from './helpers.js';
import { buildLog, fsWithSegment } from './fixtures.js';

describe('Wal: recovery on open', () => {
  it('truncating the last record at every byte offset recovers exactly the complete records', async () => {
    const { bytes, recordEnds } = await buildLog(4);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const fs = await fsWithSegment(bytes.subarray(0, cut));
      const wal = await Wal.open('/wal', { fileSystem: fs });
      const complete = recordEnds.filter((end) => end <= cut).length;
      const batches = await readAll(wal);
      expect(batches.length, `cut at ${cut}`).to.equal(complete);
      expect(wal.nextSeqno, `cut at ${cut}`).to.equal(1 + complete * 2);
      const atBoundary = cut === 0 || recordEnds.includes(cut);
      if (atBoundary) {
        expect(wal.recovery.tornTail, `cut at ${cut}`).to.equal(undefined);
      } else {
        expect(wal.recovery.tornTail?.offset, `cut at ${cut}`).to.equal(
          recordEnds.filter((end) => end <= cut).pop() ?? 0,
        );
      }
      // The torn bytes are gone from disk (cut and fsynced), and the log goes on from there.
      expect(fs.peek(`/wal/${segmentFileName(1)}`).length).to.equal(recordEnds[complete - 1] ?? 0);
      await wal.append(batchAt(wal.nextSeqno, 2));
      expect((await readAll(wal)).length).to.equal(complete + 1);
      await wal.close();
    }
  });

  it('trailing zeros after the last record are a torn tail', async () => {
    const { bytes, recordEnds } = await buildLog(3);
    for (const zeros of [1, 7, 8, 100, 5000]) {
      const fs = await fsWithSegment(Buffer.concat([bytes, Buffer.alloc(zeros)]));
      const wal = await Wal.open('/wal', { fileSystem: fs });
      expect(wal.recovery.tornTail).to.include({
        offset: recordEnds[2],
        droppedBytes: zeros,
        damage: 'zeros',
      });
      expect((await readAll(wal)).length).to.equal(3);
      await wal.close();
    }
  });

  it('every flipped byte anywhere in the log is CORRUPTION at its record, the last record too; never cut or served', async () => {
    const { bytes, recordEnds } = await buildLog(5);
    for (let offset = 0; offset < bytes.length; offset++) {
      const damaged = Buffer.from(bytes);
      damaged[offset] = damaged[offset]! ^ 0x5a;
      const fs = await fsWithSegment(damaged);
      const error = await rejectionOf(Wal.open('/wal', { fileSystem: fs }));
      expect(error.code, `flip at ${offset}`).to.equal('CORRUPTION');
      expect(error.details?.file).to.equal(`/wal/${segmentFileName(1)}`);
      const recordStart = [0, ...recordEnds].filter((end) => end <= offset).pop();
      expect(error.details?.offset, `flip at ${offset}`).to.equal(recordStart);
      // Nothing was cut: the damage stays on disk for the operator to look at.
      expect(fs.peek(`/wal/${segmentFileName(1)}`).equals(damaged)).to.equal(true);
    }
  });

  it('a record with a valid checksum that does not chain from its predecessor is CORRUPTION', async () => {
    const a = await buildLog(3);
    const fsB = new SimulatedFileSystem();
    const walB = await Wal.open('/wal', { fileSystem: fsB });
    await walB.append({ ...batchAt(1, 2), timestampMs: 42 });
    await walB.append(batchAt(3, 2));
    await walB.close();
    const b = fsB.peek(`/wal/${segmentFileName(1)}`);
    const bFirstEnd = b.readUInt32LE(0) + 8;
    // A's first record, then B's second record (same seqnos, other history), then A's third.
    const spliced = Buffer.concat([
      a.bytes.subarray(0, a.recordEnds[0]),
      b.subarray(bFirstEnd),
      a.bytes.subarray(a.recordEnds[1]),
    ]);
    const error = await rejectionOf(Wal.open('/wal', { fileSystem: await fsWithSegment(spliced) }));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details).to.include({ offset: a.recordEnds[0] });
    expect(error.message).to.match(/chain/);
  });

  it('point-in-time recovery stops at the last good record, sets the rest aside and reports it', async () => {
    const { bytes, recordEnds } = await buildLog(5);
    const damaged = Buffer.from(bytes);
    damaged[recordEnds[1]! + 12] = damaged[recordEnds[1]! + 12]! ^ 1;
    const fs = await fsWithSegment(damaged);
    expect((await rejectionOf(Wal.open('/wal', { fileSystem: fs }))).code).to.equal('CORRUPTION');
    const wal = await Wal.open('/wal', { fileSystem: fs, recovery: 'point-in-time' });
    const report = wal.recovery.pointInTime!;
    expect(report).to.include({
      offset: recordEnds[1],
      droppedFromSeqno: 5,
      droppedBytes: bytes.length - recordEnds[1]!,
    });
    expect(report.droppedFiles).to.have.length(1);
    expect(fs.peek(report.droppedFiles[0]!).equals(damaged.subarray(recordEnds[1]))).to.equal(true);
    expect(await readAll(wal)).to.have.length(2);
    expect(wal.nextSeqno).to.equal(5);
    await wal.append(batchAt(5, 2));
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect((await readAll(reopened)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 3, 5]);
    await reopened.close();
  });

  it('damage in an older sealed segment: reads and verify report it, full verification refuses to open', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    for (let seqno = 1; seqno <= 300; seqno += 3)
      await wal.append(batchAt(seqno, 3, 1, '-'.repeat(60)));
    const segments = wal.segments();
    await wal.close();
    expect(segments.length).to.be.greaterThan(2);
    const victim = segments[1]!;
    fs.corruptByte(victim.path, 100);

    const lazily = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    expect(lazily.nextSeqno).to.equal(301);
    const readError = await rejectionOf(readAll(lazily, victim.firstSeqno));
    expect(readError.code).to.equal('CORRUPTION');
    expect(readError.details?.file).to.equal(victim.path);
    const verifyError = await rejectionOf(lazily.verify());
    expect(verifyError.code).to.equal('CORRUPTION');
    expect(verifyError.details?.file).to.equal(victim.path);
    // Records before the damaged segment are still served.
    expect((await readAll(lazily, 1, segments[0]!.lastSeqno)).length).to.be.greaterThan(0);
    await lazily.close();

    const strict = await rejectionOf(Wal.open('/wal', { fileSystem: fs, verifyOnOpen: 'full' }));
    expect(strict.code).to.equal('CORRUPTION');
    expect(strict.details?.file).to.equal(victim.path);
  });

  it('a segment that does not continue the previous one is CORRUPTION', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    for (let seqno = 1; seqno <= 200; seqno += 2)
      await wal.append(batchAt(seqno, 2, 1, '-'.repeat(60)));
    const segments = wal.segments();
    await wal.close();
    // Remove a middle segment: the log now has a hole.
    await fs.unlink(segments[1]!.path);
    await fs.syncDirectory('/wal');
    const error = await rejectionOf(Wal.open('/wal', { fileSystem: fs, verifyOnOpen: 'full' }));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details?.file).to.equal(segments[2]!.path);
  });
});

describe('Wal: recovery when the torn tail empties the last segment', () => {
  it('finds the tail in the segment before it, keeping lastSeqno and the chain', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    let seqno = 1;
    while (wal.segments().length < 2) {
      await wal.append(batchAt(seqno, 1, 1, '.'.repeat(300)));
      seqno++;
    }
    const segments = wal.segments();
    const lastAcknowledged = seqno - 1;
    const expectedChainAfterSealed = await (async () => {
      // The chain the first record of the new segment must carry: read it from that record.
      for await (const record of wal.readRecords({ fromSeqno: segments[1]!.firstSeqno }))
        return record.chain;
      return undefined;
    })();
    await wal.close();
    // Cut the new segment's only record in half, as a crash during its first write would.
    const newest = segments[1]!;
    const bytes = fs.peek(newest.path);
    const handle = await fs.open(newest.path, 'read-write');
    await handle.truncate(Math.floor(bytes.length / 2));
    await handle.datasync();
    await handle.close();
    await fs.unlink('/wal/CLEAN-CLOSE');
    await fs.syncDirectory('/wal');

    const reopened = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    expect(reopened.recovery.tornTail?.file).to.equal(newest.path);
    expect(reopened.lastSeqno).to.equal(lastAcknowledged - 1);
    expect(reopened.nextSeqno).to.equal(lastAcknowledged);
    expect(reopened.nextChain).to.equal(expectedChainAfterSealed);
    await reopened.append(batchAt(lastAcknowledged));
    expect((await reopened.verify()).lastSeqno).to.equal(lastAcknowledged);
    await reopened.close();
    const again = await Wal.open('/wal', { fileSystem: fs, verifyOnOpen: 'full' });
    expect(again.lastSeqno).to.equal(lastAcknowledged);
    await again.close();
  });
});

/**
 * Torn tail or corruption, on real files: a log of `a` and then `last` (a 256-byte value), both
 * acknowledged (fsynced), closed without the clean-close marker as after a SIGKILL. The segment's
 * bytes are then damaged or cut the way a disk or a crash would, and the log is reopened.
 *
 * Every offset of the last record is tried, so its size sets the time these tests take (about a
 * second per 100 bytes on a loaded CI machine); `STRATA_TEST_LAST_VALUE_BYTES=2048` runs the
 * 2 KiB record of the original report.
 */
const LAST_VALUE_BYTES = Number(process.env.STRATA_TEST_LAST_VALUE_BYTES ?? 256);

describe('Wal: torn tail or corruption in the last record (real files)', () => {
  let dir: { path: string; remove(): Promise<void> };
  let log: Buffer;
  let lastStart: number;
  let walDirectory: string;
  let segmentPath: string;

  before(async () => {
    dir = await createTempDirectory('wal-torn-');
    walDirectory = join(dir.path, 'wal');
    segmentPath = join(walDirectory, segmentFileName(1));
    const wal = await Wal.open(walDirectory);
    await wal.append({ epoch: 1, firstSeqno: 1, entries: [put('a', '1')] });
    await wal.append({
      epoch: 1,
      firstSeqno: 2,
      entries: [put('last', 'x'.repeat(LAST_VALUE_BYTES))],
    });
    const offsets: number[] = [];
    for await (const record of wal.readRecords()) offsets.push(record.offset);
    await wal.close();
    log = await readFile(segmentPath);
    lastStart = offsets[1]!;
  });
  after(async () => dir.remove());

  /** Replaces the log with one segment holding `bytes`, no marker, no sidecars. */
  async function writeSegment(bytes: Buffer): Promise<void> {
    await rm(walDirectory, { recursive: true, force: true });
    await mkdir(walDirectory);
    await writeFile(segmentPath, bytes);
  }

  async function keys(wal: Wal): Promise<string[]> {
    return (await readAll(wal)).flatMap((batch) => batch.keys);
  }

  it('a flipped byte or bit at every offset of the last record is CORRUPTION naming the file and the record start', async () => {
    for (const mask of [0xff, 0x01]) {
      for (let offset = lastStart; offset < log.length; offset++) {
        const damaged = Buffer.from(log);
        damaged[offset] = damaged[offset]! ^ mask;
        await writeSegment(damaged);
        const error = await rejectionOf(Wal.open(walDirectory));
        const where = `mask ${mask} at ${offset}`;
        expect(error.code, where).to.equal('CORRUPTION');
        expect(error.details, where).to.include({ file: segmentPath, offset: lastStart });
        // A read-only open (what `strata verify` uses) refuses it the same way.
        const readOnly = await rejectionOf(Wal.open(walDirectory, { readOnly: true }));
        expect(readOnly.details, where).to.include({ file: segmentPath, offset: lastStart });
        expect((await readFile(segmentPath)).equals(damaged), where).to.equal(true);
      }
    }
  });

  it('a damaged length that points past the end of the file is CORRUPTION, not a torn write', async () => {
    for (const length of [log.length, 0x7fff, 200 * 1024 * 1024, 0xffffffff]) {
      const damaged = Buffer.from(log);
      damaged.writeUInt32LE(length, lastStart);
      await writeSegment(damaged);
      const error = await rejectionOf(Wal.open(walDirectory));
      expect(error.code, `length ${length}`).to.equal('CORRUPTION');
      expect(error.details).to.include({ file: segmentPath, offset: lastStart });
    }
  });

  it('point-in-time recovery can still cut a damaged last record, and reports it', async () => {
    const damaged = Buffer.from(log);
    damaged[log.length - 100] = damaged[log.length - 100]! ^ 0xff;
    await writeSegment(damaged);
    const wal = await Wal.open(walDirectory, { recovery: 'point-in-time' });
    expect(wal.recovery.pointInTime).to.include({
      file: segmentPath,
      offset: lastStart,
      droppedFromSeqno: 2,
      droppedBytes: log.length - lastStart,
    });
    expect(wal.recovery.tornTail).to.equal(undefined);
    expect(await keys(wal)).to.deep.equal(['a']);
    await wal.close();
  });

  it('a write torn at every offset of the last record is cut there and reported; earlier records stay', async () => {
    for (let cut = lastStart; cut < log.length; cut++) {
      await writeSegment(log.subarray(0, cut));
      const wal = await Wal.open(walDirectory);
      if (cut === lastStart) expect(wal.recovery.tornTail).to.equal(undefined);
      else {
        expect(wal.recovery.tornTail, `cut at ${cut}`).to.deep.equal({
          file: segmentPath,
          offset: lastStart,
          droppedBytes: cut - lastStart,
          damage: 'incomplete',
        });
      }
      expect(await keys(wal), `cut at ${cut}`).to.deep.equal(['a']);
      expect(wal.nextSeqno).to.equal(2);
      await wal.close();
      expect((await stat(segmentPath)).size, `cut at ${cut}`).to.equal(lastStart);
    }
  });

  it('zeros after the last complete record are cut, however many', async () => {
    for (const zeros of [1, 7, 8, 9, 4096, 1024 * 1024 + 3]) {
      await writeSegment(Buffer.concat([log, Buffer.alloc(zeros)]));
      const wal = await Wal.open(walDirectory);
      expect(wal.recovery.tornTail).to.deep.equal({
        file: segmentPath,
        offset: log.length,
        droppedBytes: zeros,
        damage: 'zeros',
      });
      expect(await keys(wal)).to.deep.equal(['a', 'last']);
      await wal.close();
      expect((await stat(segmentPath)).size).to.equal(log.length);
    }
  });

  it('a torn append whose end reads as zeros (size persisted before data) is cut, up to and past its declared end', async () => {
    const recordBytes = log.length - lastStart;
    for (const kept of [1, 7, 8, 9, 40, recordBytes - 1]) {
      for (const zeros of [1, recordBytes - kept, recordBytes - kept + 500]) {
        const where = `kept ${kept}, zeros ${zeros}`;
        await writeSegment(Buffer.concat([log.subarray(0, lastStart + kept), Buffer.alloc(zeros)]));
        const wal = await Wal.open(walDirectory);
        expect(wal.recovery.tornTail, where).to.include({
          file: segmentPath,
          offset: lastStart,
          droppedBytes: kept + zeros,
        });
        expect(await keys(wal), where).to.deep.equal(['a']);
        await wal.close();
      }
    }
  });

  it('bytes after the last record that no append wrote are CORRUPTION', async () => {
    const tails: [string, Buffer][] = [
      ['text', Buffer.from('not a record at all, just some text')],
      // A plausible header, then bytes that are not the start of a LogBatch.
      [
        'header + junk',
        Buffer.concat([Buffer.from([40, 0, 0, 0, 1, 2, 3, 4]), Buffer.alloc(12, 0xee)]),
      ],
      // The last record again, complete, with one payload byte changed: not a prefix of anything.
      [
        'damaged copy',
        (() => {
          const copy = Buffer.from(log.subarray(lastStart));
          copy[20] = copy[20]! ^ 0xff;
          return copy;
        })(),
      ],
    ];
    for (const [name, tail] of tails) {
      await writeSegment(Buffer.concat([log, tail]));
      const error = await rejectionOf(Wal.open(walDirectory));
      expect(error.code, name).to.equal('CORRUPTION');
      expect(error.details, name).to.include({ file: segmentPath, offset: log.length });
    }
  });

  it('the one undecidable case: a record that itself ends in zero bytes, damaged before them, reads as a torn append', async () => {
    // `last` holds a binary value ending in 32 zero bytes (a little-endian counter, say).
    const value = Buffer.concat([Buffer.from('counter:'), Buffer.alloc(32)]);
    const scratch = new SimulatedFileSystem();
    const writer = await Wal.open('/wal', { fileSystem: scratch });
    await writer.append({ epoch: 1, firstSeqno: 1, entries: [put('a', '1')] });
    await writer.append({
      epoch: 1,
      firstSeqno: 2,
      entries: [{ op: LogOp.Put, key: Buffer.from('last'), value }],
    });
    await writer.close();
    const bytes = scratch.peek(`/wal/${segmentFileName(1)}`);
    const start = bytes.readUInt32LE(0) + 8;
    const outcomes: string[] = [];
    for (let offset = start; offset < bytes.length; offset++) {
      const damaged = Buffer.from(bytes);
      damaged[offset] = damaged[offset]! ^ 0x5a;
      await writeSegment(damaged);
      const opened = await Wal.open(walDirectory).catch((error: unknown) => error as StrataError);
      if (opened instanceof Wal) {
        // Cut as a torn append: reported, and only that record is gone.
        expect(opened.recovery.tornTail).to.include({ file: segmentPath, offset: start });
        expect(await keys(opened)).to.deep.equal(['a']);
        await opened.close();
        outcomes.push('torn');
      } else {
        expect(opened.code).to.equal('CORRUPTION');
        expect(opened.details).to.include({ file: segmentPath, offset: start });
        outcomes.push('corrupt');
      }
    }
    const at = (offset: number) => outcomes[offset - start];
    // The length field: a complete record with a damaged length is always recognised.
    for (let offset = start; offset < start + 4; offset++) expect(at(offset)).to.equal('corrupt');
    // The checksum field and the zeros (but the last byte) are bytes a crash could have left.
    for (let offset = start + 4; offset < start + 8; offset++) expect(at(offset)).to.equal('torn');
    for (let offset = bytes.length - 32; offset < bytes.length - 1; offset++)
      expect(at(offset), `flip at ${offset}`).to.equal('torn');
    // A record whose last byte is not zero was written whole: damage is corruption.
    expect(at(bytes.length - 1)).to.equal('corrupt');
  });
});
