import { expect } from 'chai';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SimulatedFileSystem, nodeFileSystem } from '@strata/core';
import { createTempDirectory } from '@strata/testing';
import { DirectoryLock } from '../src/directory-lock.js';
import { rejectionOf } from './helpers.js';

describe('DirectoryLock: one holder per data directory', () => {
  it('of two acquires at the same moment exactly one holds the lock, every time', async () => {
    const dir = await createTempDirectory('lock-race-');
    try {
      for (let round = 0; round < 300; round++) {
        const path = join(dir.path, `LOCK${round}`);
        const attempts = await Promise.allSettled([
          DirectoryLock.acquire(nodeFileSystem, path),
          DirectoryLock.acquire(nodeFileSystem, path),
        ]);
        const held = attempts.filter((attempt) => attempt.status === 'fulfilled');
        const refused = attempts.filter((attempt) => attempt.status === 'rejected');
        expect(held, `round ${round}`).to.have.length(1);
        expect((refused[0]?.reason as { code?: string }).code).to.equal('LOCKED');
        await (held[0] as PromiseFulfilledResult<DirectoryLock>).value.release();
      }
      // Each lock was written under a name of its own first: none of those is left.
      expect((await readdir(dir.path)).filter((name) => name.startsWith('.'))).to.deep.equal([]);
    } finally {
      await dir.remove();
    }
  });

  it('takes over a lock file a power loss left without a whole PID, or naming a dead process', async () => {
    const dir = await createTempDirectory('lock-stale-');
    try {
      const path = join(dir.path, 'LOCK');
      for (const left of ['', '12', '999999999\n']) {
        await writeFile(path, left);
        const lock = await DirectoryLock.acquire(nodeFileSystem, path);
        await lock.release();
      }
    } finally {
      await dir.remove();
    }
  });

  it('does not take over a lock file it cannot read, and reports a failed close of its file', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdir('/data');
    const held = await DirectoryLock.acquire(fs, '/data/LOCK');
    // Another process's lock as far as this one can tell: an unreadable one stays.
    fs.setFaultInjector((operation) => (operation === 'read' ? 'EIO' : undefined));
    const error = await rejectionOf(DirectoryLock.acquire(fs, '/data/LOCK'));
    expect(error.code).to.equal('IO_ERROR');
    expect(await fs.exists('/data/LOCK')).to.equal(true);
    fs.setFaultInjector((operation) => (operation === 'close' ? 'EIO' : undefined));
    expect((await rejectionOf(held.release())).code).to.equal('IO_ERROR');
    fs.setFaultInjector(undefined);
    expect(await fs.exists('/data/LOCK')).to.equal(false);
  });

  it('removes the name it wrote the lock under in the background, and release() reports a failed removal', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdir('/data');
    fs.setFaultInjector((operation, path) =>
      operation === 'unlink' && path.startsWith('/data/.LOCK.') ? 'EIO' : undefined,
    );
    // The open does not wait for that removal: the lock is held.
    const held = await DirectoryLock.acquire(fs, '/data/LOCK');
    const error = await rejectionOf(held.release());
    expect(error.code).to.equal('IO_ERROR');
    expect(error.details?.file).to.match(/^\/data\/\.LOCK\./);
    // The lock itself is gone all the same: the directory opens again.
    expect(await fs.exists('/data/LOCK')).to.equal(false);
    fs.setFaultInjector(undefined);
    await (await DirectoryLock.acquire(fs, '/data/LOCK')).release();
  });
});
