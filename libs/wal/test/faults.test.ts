import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import type { FaultableOperation } from '@strata/core';
import { Wal } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

function failOnce(
  fs: SimulatedFileSystem,
  operation: FaultableOperation,
  error: 'EIO' | 'ENOSPC',
  skip = 0,
): void {
  let seen = 0;
  let fired = false;
  fs.setFaultInjector((op) => {
    if (fired || op !== operation) return undefined;
    if (seen++ < skip) return undefined;
    fired = true;
    return error;
  });
}

describe('Wal: injected faults', () => {
  it('fdatasync EIO is fail-stop: the group is rejected, later appends are refused, reopen keeps every acknowledged batch', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    await wal.append(batchAt(2));
    failOnce(fs, 'datasync', 'EIO');
    const failed = await rejectionOf(wal.append(batchAt(3)));
    expect(failed.code).to.equal('IO_ERROR');
    expect(wal.status).to.equal('failed');
    fs.setFaultInjector(undefined);
    // The fsync is never retried: even with the device healthy again, the log stays stopped.
    const refused = await rejectionOf(wal.append(batchAt(3)));
    expect(refused.code).to.equal('IO_ERROR');
    expect(await readAll(wal)).to.have.length(2);
    await wal.close();
    const rebooted = fs.crash({ random: seededRandom(1), zeroTailProbability: 0 });
    const reopened = await Wal.open('/wal', { fileSystem: rebooted });
    expect((await readAll(reopened)).map((batch) => batch.firstSeqno).slice(0, 2)).to.deep.equal([
      1, 2,
    ]);
    await reopened.close();
  });

  it('ENOSPC calls the refusal listener once, before any refused append settles, with the seqno the log continues from', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    const events: string[] = [];
    wal.onAppendsRefused((nextSeqno) => events.push(`refused from ${nextSeqno}`));
    failOnce(fs, 'write', 'ENOSPC');
    const settled = [wal.append(batchAt(2)), wal.append(batchAt(3))].map((append, index) =>
      append.catch((error: { code?: string }) => events.push(`append ${index}: ${error.code}`)),
    );
    await Promise.all(settled);
    expect(events).to.deep.equal(['refused from 2', 'append 0: NO_SPACE', 'append 1: NO_SPACE']);
    expect(wal.nextSeqno).to.equal(2);
    await wal.append(batchAt(2));
    await wal.close();
  });

  it('a refusal listener that throws turns the refusal into a fail-stop', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    wal.onAppendsRefused(() => {
      throw new Error('cannot undo');
    });
    failOnce(fs, 'write', 'ENOSPC');
    expect((await rejectionOf(wal.append(batchAt(1)))).code).to.equal('IO_ERROR');
    expect(wal.status).to.equal('failed');
    await wal.close();
  });

  it('syncThrough makes records written under sync none survive a power loss', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, sync: 'none' });
    await wal.append(batchAt(1));
    await wal.append(batchAt(2));
    await wal.syncThrough(2);
    expect(wal.durableSeqno).to.equal(2);
    const rebooted = fs.crash({ random: seededRandom(3), zeroTailProbability: 0 });
    const reopened = await Wal.open('/wal', { fileSystem: rebooted });
    expect(reopened.lastSeqno).to.equal(2);
    expect((await rejectionOf(reopened.syncThrough(9))).code).to.equal('INTERNAL');
    await reopened.close();
  });

  it('write EIO is fail-stop too, and every queued append is rejected', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    failOnce(fs, 'write', 'EIO');
    const results = await Promise.allSettled([
      wal.append(batchAt(2)),
      wal.append(batchAt(3)),
      wal.append(batchAt(4)),
    ]);
    for (const result of results) {
      expect(result.status).to.equal('rejected');
      expect(((result as PromiseRejectedResult).reason as { code?: string }).code).to.equal(
        'IO_ERROR',
      );
    }
    expect(wal.status).to.equal('failed');
    await wal.close();
  });

  it('ENOSPC on write refuses the batch, cuts the partial bytes and keeps the log usable', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1, 3));
    failOnce(fs, 'write', 'ENOSPC');
    const results = await Promise.allSettled([wal.append(batchAt(4, 2)), wal.append(batchAt(6))]);
    for (const result of results) {
      expect(((result as PromiseRejectedResult).reason as { code?: string }).code).to.equal(
        'NO_SPACE',
      );
    }
    expect(wal.status).to.equal('open');
    expect(wal.nextSeqno).to.equal(4);
    await wal.append(batchAt(4, 2));
    expect((await readAll(wal)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 4]);
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect(reopened.recovery.tornTail).to.equal(undefined);
    expect(reopened.nextSeqno).to.equal(6);
    await reopened.close();
  });

  it('ENOSPC from the sync step of an O_DSYNC write (sync always) is a refusal; the log stays usable', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs });
    await wal.append(batchAt(1));
    failOnce(fs, 'datasync', 'ENOSPC');
    const error = await rejectionOf(wal.append(batchAt(2)));
    expect(error.code).to.equal('NO_SPACE');
    expect(wal.status).to.equal('open');
    await wal.append(batchAt(2));
    expect((await readAll(wal)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 2]);
    await wal.close();
  });

  it('an explicit fdatasync failing with ENOSPC (sync interval) is fail-stop', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', {
      fileSystem: fs,
      sync: 'interval',
      syncIntervalMs: 60_000,
    });
    await wal.append(batchAt(1));
    failOnce(fs, 'datasync', 'ENOSPC');
    const error = await rejectionOf(wal.sync());
    expect(error.code).to.equal('IO_ERROR');
    expect(wal.status).to.equal('failed');
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('IO_ERROR');
    await wal.close();
  });

  it('failing to create the next segment is fail-stop and loses nothing acknowledged', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, segmentSizeBytes: 4096 });
    let seqno = 1;
    while (wal.segments().length === 1 && seqno < 2000) {
      await wal.append(batchAt(seqno, 1, 1, '.'.repeat(200)));
      seqno++;
    }
    const acknowledged = seqno - 1;
    const segmentCount = wal.segments().length;
    failOnce(fs, 'syncDirectory', 'EIO');
    let refused: (Error & { code?: string }) | undefined;
    while (!refused) {
      refused = await wal.append(batchAt(seqno, 1, 1, '.'.repeat(200))).then(
        () => {
          seqno++;
          return undefined;
        },
        (error: Error & { code?: string }) => error,
      );
    }
    expect(refused.code).to.equal('IO_ERROR');
    expect(wal.segments().length).to.equal(segmentCount);
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect(reopened.nextSeqno).to.be.at.least(acknowledged + 1);
    expect((await readAll(reopened)).length).to.equal(reopened.nextSeqno - 1);
    await reopened.close();
  });
});
