import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import { batchAt, rejectionOf } from './helpers.js';

/**
 * Appends (not awaited) batches of about 300 bytes from `firstSeqno` until the log is not
 * writable, and then on until `pendingBytes` wait (appends past the limit are accepted: waiting in
 * whenWritable is up to the producer).
 */
function fillPastLimit(wal: Wal, firstSeqno: number, pendingBytes = 0): Promise<unknown>[] {
  const appends: Promise<unknown>[] = [];
  let seqno = firstSeqno;
  while (wal.isWritable || wal.pendingWriteBytes < pendingBytes) {
    appends.push(wal.append(batchAt(seqno, 1, 1, '.'.repeat(300))));
    seqno++;
  }
  return appends;
}

describe('Wal: backpressure and fail-stop', () => {
  const options = { maxGroupBytes: 4096, maxPendingBytes: 4096 };

  it('whenWritable waits while more than maxPendingBytes are pending and resolves once the writer catches up', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { ...options, fileSystem: fs });
    const appends = fillPastLimit(wal, 1);
    expect(wal.pendingWriteBytes).to.be.at.least(4096);
    const events: string[] = [];
    const writable = wal.whenWritable().then(() => events.push(`writable at ${wal.isWritable}`));
    await Promise.all(appends);
    await writable;
    expect(events).to.deep.equal(['writable at true']);
    expect(wal.pendingWriteBytes).to.equal(0);
    expect(wal.lastSeqno).to.equal(appends.length);
    await wal.close();
  });

  it('a fail-stop releases the producers waiting in whenWritable, and every later write sees the kept IO_ERROR', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { ...options, fileSystem: fs });
    await wal.append(batchAt(1));
    fs.setFaultInjector((operation) => (operation === 'write' ? 'EIO' : undefined));
    const appends = fillPastLimit(wal, 2).map((append) => rejectionOf(append));
    let released = false;
    const writable = wal.whenWritable().then(() => {
      released = true;
    });
    const failures = await Promise.all(appends);
    await writable;
    expect(released).to.equal(true);
    expect(wal.status).to.equal('failed');
    const kept = failures[0]!;
    expect(kept.code).to.equal('IO_ERROR');
    // The failure keeps the details of the I/O error that caused it.
    expect(kept.details).to.include({ file: `/wal/${segmentFileName(1)}`, operation: 'write' });
    for (const failure of failures) expect(failure).to.equal(kept);
    fs.setFaultInjector(undefined);
    // Never retried: the first failure is what every later write sees.
    expect(await rejectionOf(wal.append(batchAt(2)))).to.equal(kept);
    expect(await rejectionOf(wal.sync())).to.equal(kept);
    // Not blocked: the failed log does not hold producers back.
    await wal.whenWritable();
    await wal.close();
    expect(wal.status).to.equal('closed');
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('CLOSED');
  });

  it('a fail-stop outside the writer (dropping segments) releases the producers waiting in whenWritable', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', {
      ...options,
      fileSystem: fs,
      segmentSizeBytes: 4096,
      retention: { kind: 'max-bytes', maxBytes: 1 },
    });
    let seqno = 1;
    while (wal.segments().length < 3) await wal.append(batchAt(seqno++, 1, 1, '.'.repeat(300)));
    // Ten times the limit: groups the writer completes meanwhile cannot bring it below the limit,
    // so only the fail-stop can release the waiting producer. The appends are not awaited: what
    // happens to appends queued behind a failure from outside the writer is not this test's
    // subject.
    for (const append of fillPastLimit(wal, seqno, 10 * 4096)) append.catch(() => undefined);
    let released = false;
    const writable = wal.whenWritable().then(() => {
      released = true;
    });
    fs.setFaultInjector((operation) => (operation === 'syncDirectory' ? 'EIO' : undefined));
    const failure = await rejectionOf(wal.dropBefore(seqno));
    expect(failure.code).to.equal('IO_ERROR');
    expect(wal.status).to.equal('failed');
    await writable;
    expect(released).to.equal(true);
  });

  it('a fail-stop outside the writer rejects every append still queued with the kept failure (none is left pending)', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', {
      ...options,
      fileSystem: fs,
      segmentSizeBytes: 4096,
      retention: { kind: 'max-bytes', maxBytes: 1 },
    });
    let seqno = 1;
    while (wal.segments().length < 3) await wal.append(batchAt(seqno++, 1, 1, '.'.repeat(300)));
    const appends = fillPastLimit(wal, seqno, 10 * 4096).map((append) =>
      append.then(
        () => 'written',
        (error: { code?: string }) => error.code ?? 'no code',
      ),
    );
    fs.setFaultInjector((operation) => (operation === 'syncDirectory' ? 'EIO' : undefined));
    expect((await rejectionOf(wal.dropBefore(seqno))).code).to.equal('IO_ERROR');
    // Every append settles: written before the failure, or refused with the failure's code.
    const outcomes = await Promise.all(appends);
    expect(
      outcomes.filter((outcome) => outcome !== 'written' && outcome !== 'IO_ERROR'),
    ).to.deep.equal([]);
    expect(outcomes).to.include('IO_ERROR');
    fs.setFaultInjector(undefined);
    await wal.close();
  });

  it('close releases the producers waiting in whenWritable; a second close is a no-op', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { ...options, fileSystem: fs });
    const appends = fillPastLimit(wal, 1);
    const writable = wal.whenWritable();
    const closing = wal.close();
    expect(wal.status).to.equal('closing');
    await Promise.all([closing, wal.close(), writable, ...appends]);
    expect(wal.status).to.equal('closed');
    expect(wal.lastSeqno).to.equal(appends.length);
  });

  it('a read-only log refuses writes with READ_ONLY while open, CLOSED once closed', async () => {
    const fs = new SimulatedFileSystem();
    const writer = await Wal.open('/wal', { fileSystem: fs });
    await writer.append(batchAt(1));
    await writer.close();
    const wal = await Wal.open('/wal', { fileSystem: fs, readOnly: true });
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('READ_ONLY');
    await wal.close();
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('CLOSED');
  });
});
