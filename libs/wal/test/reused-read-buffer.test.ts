import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Wal } from '../src/index.js';
import type { WalOptions } from '../src/index.js';
import { batchAt, rejectionOf } from './helpers.js';

/**
 * Recovery's verification and `readRecords({ reuseBuffer: true })` refill one buffer instead of a
 * fresh chunk per read. With a tiny chunk, records straddle chunk boundaries and some are larger
 * than a chunk (the buffer grows to them): every record must still come out whole and verified.
 */
describe('Wal: reads that reuse one buffer', () => {
  const options = (fs: SimulatedFileSystem): WalOptions => ({
    fileSystem: fs,
    readChunkBytes: 64,
    segmentSizeBytes: 8192,
  });

  async function writeLog(fs: SimulatedFileSystem): Promise<void> {
    const wal = await Wal.open('/wal', options(fs));
    let seqno = 1;
    for (let round = 0; round < 60; round++) {
      // 1 to 5 entries with values of 0 to ~300 bytes: records below and above the 64-byte chunk.
      const count = 1 + (round % 5);
      await wal.append(batchAt(seqno, count, 1, 'x'.repeat((round * 37) % 300)));
      seqno += count;
    }
    await wal.close();
  }

  async function copies(wal: Wal, reuseBuffer: boolean, fromSeqno = 1): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const record of wal.readRecords({ fromSeqno, reuseBuffer }))
      out.push(Buffer.from(record.bytes));
    return out;
  }

  it('yields the same records as fresh buffers do, from the start and from inside a segment', async () => {
    const fs = new SimulatedFileSystem();
    await writeLog(fs);
    // verifyOnOpen 'full' scans every segment at open through the reused buffer.
    const wal = await Wal.open('/wal', { ...options(fs), verifyOnOpen: 'full' });
    expect(wal.recovery.verifiedSegmentCount).to.equal(wal.segments().length);
    expect(wal.segments().length).to.be.greaterThan(1);
    for (const fromSeqno of [1, 2, 50, 111, wal.lastSeqno]) {
      const fresh = await copies(wal, false, fromSeqno);
      const reused = await copies(wal, true, fromSeqno);
      expect(reused.length).to.be.greaterThan(0);
      expect(reused).to.deep.equal(fresh);
    }
    await wal.close();
  });

  it('reports damage with its file and offset, at open and on reads', async () => {
    const fs = new SimulatedFileSystem();
    await writeLog(fs);
    const wal = await Wal.open('/wal', options(fs));
    const segments = wal.segments();
    await wal.close();
    const victim = segments[0]!;
    fs.corruptByte(victim.path, 1000);

    const strict = await rejectionOf(Wal.open('/wal', { ...options(fs), verifyOnOpen: 'full' }));
    expect(strict.code).to.equal('CORRUPTION');
    expect(strict.details?.file).to.equal(victim.path);
    const offset = strict.details?.offset as number;
    expect(offset).to.be.at.most(1000);
    expect(offset).to.be.greaterThan(0);

    const lazily = await Wal.open('/wal', options(fs));
    const readError = await rejectionOf(copies(lazily, true));
    expect(readError.code).to.equal('CORRUPTION');
    expect(readError.details?.file).to.equal(victim.path);
    expect(readError.details?.offset).to.equal(offset);
    await lazily.close();
  });
});
