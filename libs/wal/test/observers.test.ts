import { expect } from 'chai';
import { SimulatedFileSystem } from '@strata/core';
import { Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import type { GroupCommitEvent, LogSyncEvent, WalOptions } from '../src/index.js';
import { batchAt, waitUntil } from './helpers.js';

const SEGMENT_1 = `/wal/${segmentFileName(1)}`;

/** A log on a fresh simulated file system that records what its observers report. */
async function observedLog(options: WalOptions = {}): Promise<{
  wal: Wal;
  fs: SimulatedFileSystem;
  commits: GroupCommitEvent[];
  syncs: LogSyncEvent[];
}> {
  const fs = new SimulatedFileSystem();
  const wal = await Wal.open('/wal', { ...options, fileSystem: fs });
  const commits: GroupCommitEvent[] = [];
  const syncs: LogSyncEvent[] = [];
  wal.onGroupCommit((commit) => commits.push(commit));
  wal.onSync((sync) => syncs.push(sync));
  return { wal, fs, commits, syncs };
}

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);

describe('Wal: observation hooks (onGroupCommit, onSync)', () => {
  for (const syncMethod of ['dsync', 'fdatasync'] as const) {
    it(`10 sequential durable appends are 10 group commits and 10 group-commit syncs (${syncMethod})`, async () => {
      const { wal, fs, commits, syncs } = await observedLog({ syncMethod });
      let seqno = 1;
      for (let count = 1; count <= 10; count++) {
        await wal.append(batchAt(seqno, count));
        // Reported before the append resolved.
        expect(commits).to.have.length(count);
        seqno += count;
      }
      expect(commits.map((commit) => commit.records)).to.deep.equal(Array(10).fill(1));
      expect(commits.map((commit) => commit.entries)).to.deep.equal([
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
      ]);
      expect(sum(commits.map((commit) => commit.entries))).to.equal(55);
      expect(commits[3]).to.include({ firstSeqno: 7, lastSeqno: 10, durable: true });
      // Every byte written is in some group, and nothing else is in the segment.
      expect(sum(commits.map((commit) => commit.sizeBytes))).to.equal(fs.peek(SEGMENT_1).length);
      for (const commit of commits) {
        expect(commit.writeDurationMs).to.be.at.least(0);
        if (syncMethod === 'dsync') expect(commit.syncDurationMs).to.equal(0);
        else expect(commit.syncDurationMs).to.be.at.least(0);
      }
      expect(syncs).to.have.length(10);
      for (const sync of syncs) {
        expect(sync).to.include({
          reason: 'group-commit',
          method: syncMethod === 'dsync' ? 'dsync-write' : 'fdatasync',
          path: SEGMENT_1,
        });
        expect(sync.durationMs).to.be.at.least(0);
      }
      // Nothing was written since the last group: close has nothing left to sync.
      await wal.close();
      expect(syncs).to.have.length(10);
    });
  }

  it('concurrent appends share group commits whose records and entries add up to what was appended', async () => {
    const { wal, commits, syncs } = await observedLog();
    const appends = [];
    for (let index = 0; index < 20; index++) appends.push(wal.append(batchAt(1 + index * 3, 3)));
    await Promise.all(appends);
    expect(sum(commits.map((commit) => commit.records))).to.equal(20);
    expect(sum(commits.map((commit) => commit.entries))).to.equal(60);
    expect(commits.length).to.be.below(20);
    expect(syncs).to.have.length(commits.length);
    // The groups are contiguous and in order.
    let next = 1;
    for (const commit of commits) {
      expect(commit.firstSeqno).to.equal(next);
      next = commit.lastSeqno + 1;
    }
    await wal.close();
  });

  it("sync 'interval' reports groups as not durable and background syncs as 'interval'", async () => {
    const { wal, commits, syncs } = await observedLog({ sync: 'interval', syncIntervalMs: 5 });
    await wal.append(batchAt(1, 2));
    expect(commits).to.have.length(1);
    expect(commits[0]).to.include({ records: 1, entries: 2, durable: false, syncDurationMs: 0 });
    await waitUntil(() => syncs.length > 0, 'an interval sync');
    expect(syncs[0]).to.include({ reason: 'interval', method: 'fdatasync', path: SEGMENT_1 });
    expect(wal.durableSeqno).to.equal(2);
    await wal.append(batchAt(3));
    await waitUntil(() => wal.durableSeqno === 3, 'the second interval sync');
    expect(syncs.map((sync) => sync.reason)).to.deep.equal(['interval', 'interval']);
    await wal.close();
  });

  it("sync 'none' syncs only when asked ('explicit') and on close ('close')", async () => {
    const { wal, commits, syncs } = await observedLog({ sync: 'none' });
    await wal.append(batchAt(1));
    await wal.append(batchAt(2));
    expect(commits.map((commit) => commit.durable)).to.deep.equal([false, false]);
    expect(syncs).to.deep.equal([]);
    await wal.syncThrough(1);
    await wal.append(batchAt(3));
    await wal.sync();
    // Nothing new since: no sync.
    await wal.sync();
    await wal.append(batchAt(4));
    await wal.close();
    expect(syncs.map((sync) => sync.reason)).to.deep.equal(['explicit', 'explicit', 'close']);
  });

  it("sync 'none' fdatasyncs in the background every syncEveryBytes written ('written-bytes'), without holding appends", async () => {
    const { wal, commits, syncs } = await observedLog({ sync: 'none', syncEveryBytes: 2048 });
    let seqno = 1;
    // Under 2 KiB written: no sync yet.
    await wal.append(batchAt(seqno++, 1, 1, '.'.repeat(300)));
    expect(syncs).to.deep.equal([]);
    while (sum(commits.map((commit) => commit.sizeBytes)) < 2048) {
      await wal.append(batchAt(seqno++, 1, 1, '.'.repeat(300)));
    }
    // The append that crossed 2 KiB resolved without waiting for the sync it started.
    expect(commits.every((commit) => !commit.durable)).to.equal(true);
    await waitUntil(() => syncs.length === 1, 'a written-bytes sync');
    expect(syncs[0]).to.include({ reason: 'written-bytes', path: SEGMENT_1 });
    expect(wal.durableSeqno).to.equal(seqno - 1);
    await wal.close();
  });

  it('syncEveryBytes 0 turns the written-bytes sync off', async () => {
    const { wal, syncs } = await observedLog({ sync: 'none', syncEveryBytes: 0 });
    for (let seqno = 1; seqno <= 20; seqno++)
      await wal.append(batchAt(seqno, 1, 1, '.'.repeat(300)));
    expect(syncs).to.deep.equal([]);
    await wal.close();
    expect(syncs.map((sync) => sync.reason)).to.deep.equal(['close']);
  });

  it("a full segment is sealed with a 'rotate' sync of that segment", async () => {
    const { wal, syncs } = await observedLog({ sync: 'none', segmentSizeBytes: 4096 });
    let seqno = 1;
    while (wal.segments().length < 3) await wal.append(batchAt(seqno++, 1, 1, '.'.repeat(300)));
    const sealed = wal.segments().slice(0, 2);
    expect(syncs.map((sync) => [sync.reason, sync.path])).to.deep.equal(
      sealed.map((segment) => ['rotate', segment.path]),
    );
    await wal.close();
  });

  it("truncateAfter makes its cut durable with a 'truncate' sync", async () => {
    const { wal, syncs } = await observedLog({ sync: 'none' });
    for (let seqno = 1; seqno <= 5; seqno++) await wal.append(batchAt(seqno));
    await wal.truncateAfter(3);
    expect(syncs.map((sync) => [sync.reason, sync.path])).to.deep.equal([['truncate', SEGMENT_1]]);
    await wal.close();
  });

  it("the bytes of a write refused with ENOSPC are cut with a 'truncate' sync, and the refused group is not reported", async () => {
    const { wal, fs, commits, syncs } = await observedLog();
    await wal.append(batchAt(1));
    fs.setFaultInjector((operation) => (operation === 'write' ? 'ENOSPC' : undefined));
    const refused = await wal.append(batchAt(2)).catch((error: { code?: string }) => error.code);
    expect(refused).to.equal('NO_SPACE');
    fs.setFaultInjector(undefined);
    // The cut runs after the refusal settles; the writer is idle once it is done.
    await wal.sync();
    expect(commits).to.have.length(1);
    expect(syncs.map((sync) => sync.reason)).to.deep.equal(['group-commit', 'truncate']);
    await wal.close();
  });

  it('a listener removed (undefined) hears nothing more; a throwing listener fails no append', async () => {
    const { wal, commits, syncs } = await observedLog();
    await wal.append(batchAt(1));
    wal.onGroupCommit(undefined);
    wal.onSync(undefined);
    await wal.append(batchAt(2));
    expect(commits).to.have.length(1);
    expect(syncs).to.have.length(1);
    wal.onGroupCommit(() => {
      throw new Error('metrics broke');
    });
    wal.onSync(() => {
      throw new Error('metrics broke');
    });
    await wal.append(batchAt(3));
    expect(wal.status).to.equal('open');
    expect(wal.lastSeqno).to.equal(3);
    await wal.close();
  });
});
