import { expect } from 'chai';
import type { SimulatedFileSystem } from '@strata/core';
import { MajorCompactionStrategy } from '../src/compaction/major.js';
import { Tree, isJobCancelledError } from '../src/index.js';
import { b, openSimulated, s, tinyOptions, withTempDir } from './helpers.js';

const key = (i: number): Buffer => b(`k${String(i).padStart(5, '0')}`);

/** Segment files in the tree's folder, sorted. */
async function segmentFiles(fs: SimulatedFileSystem): Promise<string[]> {
  return (await fs.readdir('/tree/segments')).filter((name) => name.endsWith('.seg')).sort();
}

/** Rejection of `promise`, or a failure when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Cancels the tree's jobs when a job opens a segment file the manifest does not list yet. */
function cancelAtFirstWrite(tree: Tree, fs: SimulatedFileSystem, before: readonly string[]): void {
  fs.setFaultInjector((operation, path) => {
    const name = path.split('/').pop() ?? '';
    if (operation === 'open' && name.includes('.seg') && !before.includes(name)) {
      tree.cancelBackgroundJobs();
    }
    return undefined;
  });
}

describe('Tree: cancelling background jobs (what a closing store does)', () => {
  it('a compaction cancelled mid-write rejects as cancelled, leaves no output and no change', async () => {
    const { tree, fs } = await openSimulated({ ...tinyOptions, blockSizeBytes: 64 });
    let seqno = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 300; i++) tree.insert(key(i), b(`r${round}-${i}`), seqno++);
      await tree.flushActiveMemtable();
    }
    const levelsBefore = tree.levelSegmentIds();
    const filesBefore = await segmentFiles(fs);
    expect(filesBefore).to.have.length(4);
    cancelAtFirstWrite(tree, fs, filesBefore);
    const error = await rejectionOf(tree.compact(new MajorCompactionStrategy(1024)));
    fs.setFaultInjector(undefined);
    expect(isJobCancelledError(error), String(error)).to.equal(true);
    expect(tree.levelSegmentIds()).to.deep.equal(levelsBefore);
    expect(await segmentFiles(fs)).to.deep.equal(filesBefore);
    for (let i = 0; i < 300; i += 37) expect(s(await tree.get(key(i)))).to.equal(`r3-${i}`);
    await tree.close();
    const reopened = await Tree.open('/tree', { fileSystem: fs });
    expect(reopened.levelSegmentIds()).to.deep.equal(levelsBefore);
    expect(s(await reopened.get(key(299)))).to.equal('r3-299');
    await reopened.close();
  });

  it('a flush cancelled mid-write rejects as cancelled; the memtable stays readable until close', async () => {
    const { tree, fs } = await openSimulated({ ...tinyOptions, blockSizeBytes: 64 });
    for (let i = 0; i < 500; i++) tree.insert(key(i), b(`v${i}`), i);
    cancelAtFirstWrite(tree, fs, []);
    const error = await rejectionOf(tree.flushActiveMemtable());
    fs.setFaultInjector(undefined);
    expect(isJobCancelledError(error), String(error)).to.equal(true);
    expect(tree.segmentCount()).to.equal(0);
    expect(await segmentFiles(fs)).to.deep.equal([]);
    expect(s(await tree.get(key(499)))).to.equal('v499');
    await tree.close();
  });

  it('the cancellation reaches a job in a worker thread (shared memory), which writes nothing', async () => {
    await withTempDir(async (dir) => {
      const tree = await Tree.open(dir, { jobExecution: 'worker' });
      for (let i = 0; i < 2000; i++) tree.insert(key(i), b(`v${i}`), i);
      // Queued behind nothing, but it starts in the worker after the flag is set.
      const flush = tree.flushActiveMemtable();
      tree.cancelBackgroundJobs();
      const error = await rejectionOf(flush);
      expect(isJobCancelledError(error), String(error)).to.equal(true);
      expect(tree.segmentCount()).to.equal(0);
      await tree.close();
    });
  });
});
