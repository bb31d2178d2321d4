import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import type { FaultableOperation } from '@strata/core';
import { Wal } from '../src/index.js';
import { batchAt, readAll, rejectionOf } from './helpers.js';

/**
 * `syncMethod: 'fdatasync'` writes a small group synchronously (page cache) and then fdatasyncs it
 * through the threadpool: an append must still resolve only after that fdatasync, and failures
 * keep their meaning (fdatasync EIO fail-stop, ENOSPC on the write refused, the log usable).
 */
describe('Wal: syncMethod fdatasync', () => {
  /** Records the file operations on segment files, and the moment appends resolve. */
  function recordOperations(fs: SimulatedFileSystem, events: string[]): void {
    fs.setFaultInjector((operation: FaultableOperation, path: string) => {
      if (path.endsWith('.log') && (operation === 'write' || operation === 'datasync'))
        events.push(operation);
      return undefined;
    });
  }

  it('an append resolves after the write and the fdatasync of its group, one of each', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, syncMethod: 'fdatasync' });
    const events: string[] = [];
    recordOperations(fs, events);
    for (let seqno = 1; seqno <= 3; seqno++) {
      await wal.append(batchAt(seqno));
      events.push(`resolved ${seqno}`);
    }
    expect(events).to.deep.equal([
      'write',
      'datasync',
      'resolved 1',
      'write',
      'datasync',
      'resolved 2',
      'write',
      'datasync',
      'resolved 3',
    ]);
    expect(wal.durableSeqno).to.equal(3);
    await wal.close();
  });

  it('an fdatasync EIO after the synchronous write is fail-stop and acknowledges nothing', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, syncMethod: 'fdatasync' });
    await wal.append(batchAt(1));
    fs.setFaultInjector((operation) => (operation === 'datasync' ? 'EIO' : undefined));
    const failed = await rejectionOf(wal.append(batchAt(2)));
    expect(failed.code).to.equal('IO_ERROR');
    expect(wal.status).to.equal('failed');
    expect(wal.durableSeqno).to.equal(1);
    fs.setFaultInjector(undefined);
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('IO_ERROR');
    await wal.close();
  });

  it('ENOSPC on the synchronous write refuses the group and leaves the log usable', async () => {
    const fs = new SimulatedFileSystem();
    const wal = await Wal.open('/wal', { fileSystem: fs, syncMethod: 'fdatasync' });
    await wal.append(batchAt(1));
    let fired = false;
    fs.setFaultInjector((operation) => {
      if (fired || operation !== 'write') return undefined;
      fired = true;
      return 'ENOSPC';
    });
    expect((await rejectionOf(wal.append(batchAt(2)))).code).to.equal('NO_SPACE');
    expect(wal.status).to.equal('open');
    expect(wal.nextSeqno).to.equal(2);
    await wal.append(batchAt(2));
    expect((await readAll(wal)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 2]);
    await wal.close();
    const reopened = await Wal.open('/wal', { fileSystem: fs });
    expect((await readAll(reopened)).map((batch) => batch.firstSeqno)).to.deep.equal([1, 2]);
    await reopened.close();
  });
});
