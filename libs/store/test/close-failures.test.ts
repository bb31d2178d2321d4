import { expect } from 'chai';
import { SimulatedFileSystem, StrataError, seededRandom } from '@strata/core';
import type { FaultableOperation } from '@strata/core';
import { Store } from '../src/index.js';
import { rejectionOf } from './helpers.js';

/** Fails every `operation` on a path containing `pathPart` with `error`. */
function failAlways(
  fs: SimulatedFileSystem,
  faults: readonly { operation: FaultableOperation; pathPart: string; error: 'EIO' | 'ENOSPC' }[],
): void {
  fs.setFaultInjector(
    (operation, path) =>
      faults.find((fault) => fault.operation === operation && path.includes(fault.pathPart))?.error,
  );
}

describe('Store.close: failures of the final steps are reported', () => {
  it('a failing fdatasync of the log at close rejects with IO_ERROR naming the step; the store is closed and the lock released', async () => {
    const fs = new SimulatedFileSystem();
    // `none`: the writes are not synced yet, so closing the log must fdatasync them.
    const store = await Store.open('/data', { sync: 'none', fileSystem: fs });
    await store.put('a', '1');
    failAlways(fs, [{ operation: 'datasync', pathPart: '/wal/', error: 'EIO' }]);
    // No memtable flush: the log's own close is the step that syncs.
    const error = await rejectionOf(store.close({ flushMemtable: false }));
    expect(error).to.be.instanceOf(StrataError);
    expect(error).to.include({ code: 'IO_ERROR' });
    const details = (error as StrataError).details;
    expect(details['step']).to.equal('log');
    expect(details.file).to.match(/^\/data\/wal\/.+\.log$/);
    expect(details['otherFailures']).to.deep.equal([]);
    expect((error as StrataError).cause).to.include({ code: 'IO_ERROR' });
    expect(store.status).to.equal('closed');
    // Closing again is a no-op, not a second report.
    await store.close();
    // The lock was released although the log failed: the directory opens again.
    fs.setFaultInjector(undefined);
    const reopened = await Store.open('/data', { fileSystem: fs });
    expect(reopened.status).to.equal('open');
    await reopened.close();
  });

  it('a log that cannot be synced before the closing flush rejects with that failure (flush step)', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { sync: 'none', fileSystem: fs });
    await store.put('a', '1');
    failAlways(fs, [{ operation: 'datasync', pathPart: '/wal/', error: 'EIO' }]);
    const error = (await rejectionOf(store.close({ flushMemtable: true }))) as StrataError;
    expect(error).to.include({ code: 'IO_ERROR' });
    expect(error.details['step']).to.equal('flush');
    // The flush failed in the background (a fail-stop); the file named is the log's.
    expect(error.details.file).to.match(/^\/data\/wal\/.+\.log$/);
    expect(store.status).to.equal('closed');
    fs.setFaultInjector(undefined);
    const reopened = await Store.open('/data', { fileSystem: fs });
    await reopened.close();
  });

  it('when several steps fail, the first is thrown with its code and the later ones are listed', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { sync: 'none', fileSystem: fs });
    await store.put('a', '1');
    failAlways(fs, [
      // A failed fsync stops the log: IO_ERROR even when the device said ENOSPC.
      { operation: 'datasync', pathPart: '/wal/', error: 'ENOSPC' },
      { operation: 'unlink', pathPart: '/data/LOCK', error: 'EIO' },
    ]);
    const error = (await rejectionOf(store.close({ flushMemtable: false }))) as StrataError;
    expect(error).to.include({ code: 'IO_ERROR' });
    expect(error.details).to.include({ errno: 'ENOSPC', operation: 'fdatasync' });
    expect(error.details['step']).to.equal('log');
    expect(error.details['otherFailures']).to.deep.equal([
      {
        step: 'lock',
        file: '/data/LOCK',
        code: 'IO_ERROR',
        message: "close (lock) failed on /data/LOCK: EIO: unlink '/data/LOCK'",
      },
    ]);
    expect(store.status).to.equal('closed');
  });

  it('a lock file that cannot be removed rejects with IO_ERROR naming it', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    await store.put('a', '1');
    failAlways(fs, [{ operation: 'unlink', pathPart: '/data/LOCK', error: 'EIO' }]);
    const error = (await rejectionOf(store.close({ flushMemtable: true }))) as StrataError;
    expect(error).to.include({ code: 'IO_ERROR' });
    expect(error.details).to.include({ step: 'lock', file: '/data/LOCK' });
    expect(store.status).to.equal('closed');
    // The flush and the log's close still ran: everything is in the tree, the log replays nothing.
    fs.setFaultInjector(undefined);
    await fs.unlink('/data/LOCK');
    const reopened = await Store.open('/data', { fileSystem: fs });
    expect((await reopened.get('a'))?.toString()).to.equal('1');
    expect(reopened.stats().segmentCount).to.equal(1);
    await reopened.close();
  });

  it('a new store whose creation cannot be made durable refuses its first write (IO_ERROR, fail-stop), and its close reports the creation', async () => {
    const fs = new SimulatedFileSystem();
    // The data directory's fsync is part of the creation's commit, which runs after the open.
    fs.setFaultInjector((operation, path) =>
      operation === 'syncDirectory' && path === '/data' ? 'EIO' : undefined,
    );
    const store = await Store.open('/data', { fileSystem: fs });
    const refused = await rejectionOf(store.put('a', '1'));
    expect(refused).to.include({ code: 'IO_ERROR' });
    expect(store.status).to.equal('failed');
    const error = (await rejectionOf(store.close())) as StrataError;
    expect(error).to.include({ code: 'IO_ERROR' });
    // The tree's own commit fsyncs the data directory (its folder's name), and is listed first.
    expect(error.details).to.include({ step: 'tree', file: '/data' });
    const others = error.details['otherFailures'] as { step: string; file: string }[];
    expect(others.map((failure) => failure.step)).to.include('creation');
    expect(store.status).to.equal('closed');
    // Nothing was acknowledged; the refused write's outcome is unknown (its record was written
    // before the creation failed): after a power loss the store is empty or holds that write.
    fs.setFaultInjector(undefined);
    const rebooted = fs.crash({ random: seededRandom(7) });
    const reopened = await Store.open('/data', { fileSystem: rebooted });
    expect(reopened.lastSeqno).to.be.at.most(1);
    if (reopened.lastSeqno === 1) expect((await reopened.get('a'))?.toString()).to.equal('1');
    await reopened.close();
  });

  it('a new store closed before any write: its close waits for the creation, which is then durable', async () => {
    const fs = new SimulatedFileSystem();
    const store = await Store.open('/data', { fileSystem: fs });
    await store.close();
    const rebooted = fs.crash({ random: seededRandom(8) });
    const reopened = await Store.open('/data', { fileSystem: rebooted, createIfMissing: false });
    expect(reopened.lastSeqno).to.equal(0);
    await reopened.close();
  });

  it('closing a healthy store still resolves', async () => {
    const store = await Store.open('/data', { fileSystem: new SimulatedFileSystem() });
    await store.put('a', '1');
    await store.close();
    expect(store.status).to.equal('closed');
  });
});
