import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { Wal } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

async function logWithSegments(fs: SimulatedFileSystem): Promise<Wal> {
  const wal = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
  for (let seqno = 1; seqno <= 300; seqno += 3)
    await wal.append(batchAt(seqno, 3, 1, '-'.repeat(60)));
  return wal;
}

describe('Wal: clean reopen', () => {
  it('after a clean close, open trusts the marker instead of scanning, and everything still reads', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const chain = wal.nextChain;
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    expect(reopened.recovery).to.include({ cleanClose: true, verifiedSegmentCount: 0 });
    expect(reopened.nextSeqno).to.equal(301);
    expect(reopened.nextChain).to.equal(chain);
    expect(await readAll(reopened, 298)).to.deep.equal([
      { firstSeqno: 298, keys: ['k298', 'k299', 'k300'] },
    ]);
    await reopened.append(batchAt(301));
    expect((await reopened.verify()).lastSeqno).to.equal(301);
    await reopened.close();
  });

  it('a marker that no longer matches the segment is ignored and the segment is scanned', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    let lastRecord = { file: '', offset: -1 };
    for await (const record of wal.readRecords({ fromSeqno: 298 }))
      lastRecord = { file: record.file, offset: record.offset };
    await wal.close();
    const last = wal.segments().pop()!;
    expect(lastRecord.file).to.equal(last.path);
    // Damage the last record after the clean close: the marker's check of it fails, the scan
    // finds a complete record with a bad checksum, which no crash leaves: CORRUPTION.
    fs.corruptByte(last.path, last.sizeBytes - 3);
    const error = await rejectionOf(Wal.open('/wal', { fileSystem: fs }));
    expect(error.code).to.equal('CORRUPTION');
    expect(error.details).to.include(lastRecord);
    // Undo the damage and add the start of a record the marker does not know: scanned and cut.
    fs.corruptByte(last.path, last.sizeBytes - 3);
    const handle = await fs.open(last.path, 'read-write');
    await handle.writev(
      [fs.peek(last.path).subarray(lastRecord.offset, lastRecord.offset + 30)],
      last.sizeBytes,
    );
    await handle.datasync();
    await handle.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect(reopened.recovery.cleanClose).to.equal(undefined);
    expect(reopened.recovery.tornTail).to.deep.equal({
      file: last.path,
      offset: last.sizeBytes,
      droppedBytes: 30,
      damage: 'incomplete',
    });
    expect(reopened.nextSeqno).to.equal(301);
    await reopened.close();
  });
});

describe('Wal: truncateAfter', () => {
  it('cuts the tail between batches, within a segment and across segments, and the log goes on', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const segments = wal.segments();
    expect(segments.length).to.be.greaterThan(3);
    expect(await wal.truncateAfter(270)).to.deep.equal({
      droppedFromSeqno: 271,
      droppedEntries: 30,
    });
    expect(wal.nextSeqno).to.equal(271);
    expect(wal.lastSeqno).to.equal(270);
    // Cut exactly at a segment boundary: the later segment goes whole.
    const boundary = segments[2]!.firstSeqno;
    await wal.truncateAfter(boundary - 1);
    expect(wal.segments().length).to.equal(2);
    expect(wal.lastSeqno).to.equal(boundary - 1);
    await wal.append(batchAt(boundary, 2));
    expect((await readAll(wal, boundary - 3)).map((batch) => batch.firstSeqno)).to.deep.equal([
      boundary - 3,
      boundary,
    ]);
    await wal.close();
    const rebooted = fs.crash({ random: seededRandom(3) });
    const reopened = await Wal.open('/wal', { fileSystem: rebooted, verifyOnOpen: 'full' });
    expect(reopened.nextSeqno).to.equal(boundary + 2);
    expect((await reopened.verify()).lastSeqno).to.equal(boundary + 1);
    await reopened.close();
  });

  it('refuses a cut inside a batch and leaves the log as it was', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await logWithSegments(fs);
    const error = await rejectionOf(wal.truncateAfter(5));
    expect(error.code).to.equal('INVALID_ARGUMENT');
    expect(wal.nextSeqno).to.equal(301);
    expect((await wal.verify()).lastSeqno).to.equal(300);
    await wal.close();
  });

  it('can cut everything back to an empty log', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1, 2));
    await wal.append(batchAt(3, 2));
    expect(await wal.truncateAfter(0)).to.deep.equal({ droppedFromSeqno: 1, droppedEntries: 4 });
    expect(wal.nextSeqno).to.equal(1);
    expect(await readAll(wal)).to.deep.equal([]);
    await wal.append(batchAt(1));
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect((await readAll(reopened)).map((batch) => batch.keys)).to.deep.equal([['k1']]);
    await reopened.close();
  });
});
