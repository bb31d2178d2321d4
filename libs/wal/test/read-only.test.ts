import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { rejectionOf } from '@strata/testing';
import { Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import { batchAt, readAll } from './helpers.js';

describe('Wal: read-only open', () => {
  it('reads next to a writer, leaves a torn tail in place and never writes anything', async () => {
    const fs = new SimulatedFileSystem();
    const writer = await Wal.open('/wal', { fileSystem: fs, sync: 'none' });
    for (let seqno = 1; seqno <= 9; seqno += 3) await writer.append(batchAt(seqno, 3));
    const path = `/wal/${segmentFileName(1)}`;
    // A record being written right now: only its first bytes are in the file.
    const partial = (
      await (async () => {
        const other = await Wal.open('/other', { fileSystem: fs });
        await other.append(batchAt(1, 2));
        await other.close();
        return fs.peek(`/other/${segmentFileName(1)}`);
      })()
    ).subarray(0, 11);
    const handle = await fs.open(path, 'read-write');
    await handle.writev([partial], fs.peek(path).length);
    await handle.close();
    const before = fs.peek(path);
    const namesBefore = (await fs.readdir('/wal')).sort();

    const reader = await Wal.open('/wal', { fileSystem: fs, readOnly: true });
    expect(reader.recovery.tornTail).to.include({ file: path, droppedBytes: 11 });
    expect((await readAll(reader)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 4, 7]);
    const records = [];
    for await (const record of reader.readRecords({ fromSeqno: 4 }))
      records.push({ file: record.file, offset: record.offset });
    expect(records[0]).to.deep.equal({ file: path, offset: before.readUInt32LE(0) + 8 });
    expect((await reader.verify()).lastSeqno).to.equal(9);
    expect((await rejectionOf(reader.append(batchAt(10)))).code).to.equal('READ_ONLY');
    expect((await rejectionOf(reader.truncateAfter(3))).code).to.equal('READ_ONLY');
    expect((await rejectionOf(reader.dropBefore(5))).code).to.equal('READ_ONLY');
    await reader.close();

    expect(fs.peek(path).equals(before)).to.equal(true);
    expect((await fs.readdir('/wal')).sort()).to.deep.equal(namesBefore);
    await writer.close();
  });

  it('a directory without a log reads as an empty log and is not created', async () => {
    const fs = new SimulatedFileSystem();
    const reader = await Wal.open('/nothing/wal', { fileSystem: fs, readOnly: true });
    expect(reader.lastSeqno).to.equal(0);
    expect(await readAll(reader)).to.deep.equal([]);
    await reader.close();
    expect(await fs.exists('/nothing/wal')).to.equal(false);
  });

  it('refuses point-in-time recovery read-only', async () => {
    const error = await rejectionOf(
      Wal.open('/wal', {
        fileSystem: new SimulatedFileSystem(),
        readOnly: true,
        recovery: 'point-in-time',
      }),
    );
    expect(error.code).to.equal('INVALID_ARGUMENT');
  });
});
