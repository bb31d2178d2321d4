import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedFileSystem, nodeFileSystem, seededRandom } from '../src/index.js';

describe('SimulatedFileSystem', () => {
  it('writev of several buffers lands them back to back, also when the file grows', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdir('/d');
    const handle = await fs.open('/d/f', 'create-exclusive');
    const parts = [Buffer.alloc(3000, 1), Buffer.alloc(3000, 2), Buffer.alloc(3000, 3)];
    await handle.writev(parts, 0);
    expect(fs.peek('/d/f').equals(Buffer.concat(parts))).to.equal(true);
    expect(await handle.sizeBytes()).to.equal(9000);
  });

  it('a crash keeps synced bytes, maybe a prefix of unsynced appends, and undoes unsynced directory entries', async () => {
    for (let seed = 1; seed <= 50; seed++) {
      const fs = new SimulatedFileSystem();
      await fs.mkdir('/d');
      const synced = await fs.open('/d/synced', 'create-exclusive');
      await synced.writev([Buffer.from('durable')], 0);
      await synced.datasync();
      await fs.syncDirectory('/d');
      await synced.writev([Buffer.from('-volatile')], 7);
      const unlisted = await fs.open('/d/unlisted', 'create-exclusive');
      await unlisted.writev([Buffer.from('x')], 0);
      await unlisted.datasync();
      const rebooted = fs.crash({ random: seededRandom(seed), zeroTailProbability: 0 });
      const after = rebooted.peek('/d/synced').toString();
      expect(after.startsWith('durable')).to.equal(true);
      expect('durable-volatile'.startsWith(after)).to.equal(true);
      expect(await rebooted.exists('/d/unlisted')).to.equal(false);
      // The dead process's file system refuses everything.
      let deadCode: string | undefined;
      await fs.readdir('/d').catch((error: { code?: string }) => (deadCode = error.code));
      expect(deadCode).to.equal('EIO');
      // Handles from before the crash are dead.
      let code: string | undefined;
      await synced.datasync().catch((error: { code?: string }) => (code = error.code));
      expect(code).to.equal('EBADF');
    }
  });

  it('renames become durable only with the directory sync', async () => {
    let fs = new SimulatedFileSystem();
    await fs.mkdir('/d');
    const handle = await fs.open('/d/tmp', 'create-exclusive');
    await handle.writev([Buffer.from('v2')], 0);
    await handle.datasync();
    await fs.syncDirectory('/d');
    await fs.rename('/d/tmp', '/d/current');
    fs = fs.crash({ random: () => 0 });
    expect(await fs.readdir('/d')).to.deep.equal(['tmp']);
    await fs.rename('/d/tmp', '/d/current');
    await fs.syncDirectory('/d');
    fs = fs.crash({ random: () => 0 });
    expect(await fs.readdir('/d')).to.deep.equal(['current']);
    expect(fs.peek('/d/current').toString()).to.equal('v2');
  });

  it('injects EIO and ENOSPC; a failing write may leave a partial prefix', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdir('/d');
    const handle = await fs.open('/d/f', 'create-exclusive');
    fs.setFaultInjector((operation) =>
      operation === 'datasync' ? 'EIO' : operation === 'write' ? 'ENOSPC' : undefined,
    );
    const codes: (string | undefined)[] = [];
    await handle
      .writev([Buffer.alloc(100, 7)], 0)
      .catch((error: { code?: string }) => codes.push(error.code));
    await handle.datasync().catch((error: { code?: string }) => codes.push(error.code));
    expect(codes).to.deep.equal(['ENOSPC', 'EIO']);
    expect(fs.peek('/d/f').length).to.be.below(100);
  });
});

describe('writeFileAtomically', () => {
  it('leaves the old or the new content after a crash at any step, never a mix', async () => {
    const { writeFileAtomically } = await import('../src/index.js');
    for (let crashAt = 1; crashAt <= 8; crashAt++) {
      const fs = new SimulatedFileSystem();
      await fs.mkdir('/d');
      await writeFileAtomically(fs, '/d/manifest', Buffer.from('old content'));
      let operations = 0;
      fs.setFaultInjector(() => {
        if (++operations !== crashAt) return undefined;
        fs.crash({ random: seededRandom(crashAt) });
        return 'EIO';
      });
      await writeFileAtomically(fs, '/d/manifest', Buffer.from('new content, longer')).catch(
        () => undefined,
      );
      fs.setFaultInjector(undefined);
      const after = fs.peek('/d/manifest').toString();
      expect(after, `crash at operation ${crashAt}`).to.be.oneOf([
        'old content',
        'new content, longer',
      ]);
    }
  });
});

describe('FileHandle.readSync', () => {
  it('reads the same bytes as read, on the real and the simulated file system', async () => {
    const root = await mkdtemp(join(tmpdir(), 'core-'));
    try {
      for (const [fs, dir] of [
        [new SimulatedFileSystem(), '/d'],
        [nodeFileSystem, root],
      ] as const) {
        await fs.mkdir(dir);
        const handle = await fs.open(join(dir, 'f'), 'create-exclusive');
        await handle.writev([Buffer.from('0123456789')], 0);
        const viaSync = Buffer.alloc(4);
        const viaAsync = Buffer.alloc(4);
        expect(handle.readSync(viaSync, 0, 4, 3)).to.equal(4);
        expect(await handle.read(viaAsync, 0, 4, 3)).to.equal(4);
        expect(viaSync.toString()).to.equal('3456');
        expect(viaAsync.equals(viaSync)).to.equal(true);
        expect(handle.readSync(viaSync, 0, 4, 8)).to.equal(2);
        await handle.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
