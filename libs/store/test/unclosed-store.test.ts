import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTempDirectory } from '@strata/testing';

/*
 * A store garbage-collected without close() leaves no lock and no descriptor behind: a
 * FinalizationRegistry warns (STRATA_STORE_NOT_CLOSED) and releases the lock, Node closes the
 * FileHandles it collects, and the directory opens again in the same process with every write.
 * Runs in a child process started with --expose-gc (see fixtures/collect-unclosed-store.ts).
 */

const fixture = fileURLToPath(new URL('./fixtures/collect-unclosed-store.ts', import.meta.url));

describe('store: garbage-collected without close()', function () {
  it('warns, releases the lock and the descriptors, and the directory reopens with its writes', async () => {
    const dir = await createTempDirectory('store-unclosed-');
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', '--conditions=@strata/source', fixture, dir.path],
        { encoding: 'utf8' },
      );
      const seen = JSON.parse(stdout.trim()) as {
        lockHeld: boolean;
        descriptorsBefore: number;
        descriptorsOpen: number;
        descriptorsAfter: number;
        lockLeft: boolean;
        warnings: string[];
        value: string;
      };
      expect(seen.lockHeld, 'the lock while the store lived').to.equal(true);
      expect(seen.descriptorsOpen).to.be.above(seen.descriptorsBefore);
      expect(seen.warnings).to.have.length(1);
      expect(seen.warnings[0]).to.include(dir.path).and.include('without close()');
      expect(seen.lockLeft).to.equal(false);
      expect(seen.descriptorsAfter).to.be.at.most(seen.descriptorsBefore);
      expect(seen.value).to.equal('value/unflushed');
      expect(stderr).to.include('STRATA_STORE_NOT_CLOSED');
    } finally {
      await dir.remove();
      await rm(`${dir.path}-warm-up`, { recursive: true, force: true });
    }
  });
});
