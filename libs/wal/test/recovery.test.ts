import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Wal, segmentFileName } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';
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

  it('every flipped byte is detected: open fails with CORRUPTION or cuts the damaged record; never served', async () => {
    const { bytes, recordEnds } = await buildLog(5);
    const original = await readAll(
      await Wal.open('/wal', { fileSystem: await fsWithSegment(bytes) }),
    );
    let corruptionErrors = 0;
    let tornTails = 0;
    for (let offset = 0; offset < bytes.length; offset++) {
      const damaged = Buffer.from(bytes);
      damaged[offset] = damaged[offset]! ^ 0x5a;
      const fs = await fsWithSegment(damaged);
      let wal: Wal;
      try {
        wal = await Wal.open('/wal', { fileSystem: fs });
      } catch (error) {
        const failure = error as { code?: string; details?: { file?: string; offset?: number } };
        expect(failure.code, `flip at ${offset}`).to.equal('CORRUPTION');
        expect(failure.details?.file).to.equal(`/wal/${segmentFileName(1)}`);
        const recordStart = [0, ...recordEnds].filter((end) => end <= offset).pop();
        expect(failure.details?.offset, `flip at ${offset}`).to.equal(recordStart);
        corruptionErrors++;
        continue;
      }
      // Only a flip in the last record can look like a torn write; that record is then cut.
      expect(offset, `flip at ${offset} was silently accepted`).to.be.at.least(recordEnds[3]!);
      expect(wal.recovery.tornTail?.offset).to.equal(recordEnds[3]);
      const recovered = await readAll(wal);
      expect(recovered).to.deep.equal(original.slice(0, 4));
      tornTails++;
      await wal.close();
    }
    expect(corruptionErrors).to.be.greaterThan(0);
    expect(tornTails).to.equal(bytes.length - recordEnds[3]!);
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
