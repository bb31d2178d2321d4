import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createTempDirectory } from '@strata/testing';
import { Store } from '../src/index.js';
import { rangeStrings, rejectionOf } from './helpers.js';

describe('Store: checkpoint', () => {
  it('a checkpoint taken during writes opens as a store holding exactly the state at its seqno, and a follower continues from it', async () => {
    const dir = await createTempDirectory('checkpoint-');
    const source = await Store.open(join(dir.path, 'source'), { memtableSizeBytes: 8 * 1024 });
    try {
      for (let index = 0; index < 500; index++)
        await source.put(`k${index % 120}`, `v${index}-${'c'.repeat(30)}`);
      // Writes keep going while the checkpoint runs.
      let writing = true;
      const writer = (async () => {
        for (let index = 500; writing; index++) await source.put(`k${index % 120}`, `v${index}`);
      })();
      const result = await source.checkpoint(join(dir.path, 'copy'));
      writing = false;
      await writer;
      expect(result.seqno).to.be.at.least(500);
      expect(result.treeSeqno).to.be.greaterThan(0);
      expect(result.logEntries).to.be.greaterThan(0);

      const copy = await Store.open(join(dir.path, 'copy'));
      try {
        expect(copy.lastSeqno).to.equal(result.seqno);
        expect(await rangeStrings(copy)).to.deep.equal(
          await rangeStrings(source, { at: result.seqno }),
        );
        // The copy's log continues the source's chain: it can apply the source's next records.
        for await (const batch of source.subscribe({ from: result.seqno + 1 })) {
          await copy.appendReplicated(batch.record);
          if (batch.lastSeqno >= source.lastSeqno) break;
        }
        expect(copy.lastSeqno).to.equal(source.lastSeqno);
        expect(await rangeStrings(copy)).to.deep.equal(await rangeStrings(source));
      } finally {
        await copy.close();
      }
      expect((await rejectionOf(source.checkpoint(join(dir.path, 'copy')))).code).to.equal(
        'INVALID_ARGUMENT',
      );
    } finally {
      await source.close();
      await dir.remove();
    }
  });

  it("log: 'retained' copies every retained log record, so the copy keeps the event history", async () => {
    const dir = await createTempDirectory('checkpoint-retained-');
    const source = await Store.open(join(dir.path, 'source'), { memtableSizeBytes: 8 * 1024 });
    try {
      for (let index = 0; index < 300; index++)
        await source.put(`k${index % 50}`, `v${index}-${'r'.repeat(40)}`);
      await source.flush();
      const tail = await source.checkpoint(join(dir.path, 'tail'));
      const retained = await source.checkpoint(join(dir.path, 'retained'), { log: 'retained' });
      expect(tail.logEntries).to.equal(1);
      expect(retained).to.include({ seqno: 300, treeSeqno: 300, logEntries: 300 });
      const copy = await Store.open(join(dir.path, 'retained'));
      try {
        expect(copy.firstRetainedSeqno).to.equal(1);
        const seqnos: number[] = [];
        for await (const batch of copy.subscribe({ from: 1 })) {
          seqnos.push(batch.firstSeqno);
          if (batch.lastSeqno >= 300) break;
        }
        expect(seqnos).to.deep.equal(Array.from({ length: 300 }, (_, index) => index + 1));
        expect(await rangeStrings(copy)).to.deep.equal(await rangeStrings(source));
      } finally {
        await copy.close();
      }
    } finally {
      await source.close();
      await dir.remove();
    }
  });

  it("log: 'retained' shares sealed log segments by hard links; writes and cuts on either side leave the other's files as they were", async () => {
    const dir = await createTempDirectory('checkpoint-linked-');
    const sourcePath = join(dir.path, 'source');
    const copyPath = join(dir.path, 'copy');
    // Small log segments, so the log is mostly sealed; nothing flushed, so the copy's log can be
    // cut anywhere.
    const options = { walSegmentSizeBytes: 4096 };
    const source = await Store.open(sourcePath, options);
    let sourceClosed = false;
    try {
      for (let index = 0; index < 300; index++)
        await source.put(`k${index % 50}`, `v${index}-${'l'.repeat(40)}`);
      const result = await source.checkpoint(copyPath, { log: 'retained' });
      expect(result).to.include({ seqno: 300, logEntries: 300 });
      expect(result.linkedLogSegments).to.be.at.least(3);

      const sourceSegments = logSegments(sourcePath);
      const copySegments = logSegments(copyPath);
      const shared = copySegments.filter(
        (name) =>
          sourceSegments.includes(name) && inodeOf(sourcePath, name) === inodeOf(copyPath, name),
      );
      expect(shared).to.have.length(result.linkedLogSegments);
      const before = new Map(sourceSegments.map((name) => [name, digestOf(sourcePath, name)]));

      // The copy opens, takes writes, and is cut back into a shared segment; the source writes on.
      const copy = await Store.open(copyPath, options);
      for (let index = 0; index < 50; index++) await copy.put(`c${index}`, 'copy');
      await copy.close();
      for (let index = 0; index < 50; index++) await source.put(`s${index}`, 'source');
      await source.close();
      sourceClosed = true;
      const cutAt = Number(shared[1]?.slice(0, -'.log'.length)) + 2;
      await Store.truncateLog(copyPath, cutAt);

      for (const [name, digest] of before) {
        // Sealed segments are as they were; only the source's last one took its new writes.
        if (name !== sourceSegments[sourceSegments.length - 1]) {
          expect(digestOf(sourcePath, name), name).to.equal(digest);
        }
      }
      const reopened = await Store.open(sourcePath, options);
      try {
        expect(reopened.lastSeqno).to.equal(350);
        let events = 0;
        for await (const batch of reopened.subscribe({ from: 1 })) {
          events++;
          if (batch.lastSeqno >= 350) break;
        }
        expect(events).to.equal(350);
      } finally {
        await reopened.close();
      }
      const cut = await Store.open(copyPath, options);
      try {
        expect(cut.lastSeqno).to.equal(cutAt);
        expect(await cut.get('c0')).to.equal(undefined);
      } finally {
        await cut.close();
      }
    } finally {
      if (!sourceClosed) await source.close();
      await dir.remove();
    }
  });

  it('a checkpoint of a fully flushed store still carries the last record (epoch and chain)', async () => {
    const dir = await createTempDirectory('checkpoint-flushed-');
    const source = await Store.open(join(dir.path, 'source'), { epoch: 3 });
    try {
      await source.put('a', '1');
      await source.put('b', '2');
      await source.flush();
      const result = await source.checkpoint(join(dir.path, 'copy'));
      expect(result).to.include({ seqno: 2, treeSeqno: 2, logEntries: 1 });
      const copy = await Store.open(join(dir.path, 'copy'));
      expect(copy.epoch).to.equal(3);
      expect(await rangeStrings(copy)).to.deep.equal(['a=1', 'b=2']);
      await source.put('c', '3');
      for await (const batch of source.subscribe({ from: 3 })) {
        await copy.appendReplicated(batch.record);
        break;
      }
      expect((await copy.get('c'))?.toString()).to.equal('3');
      await copy.close();
    } finally {
      await source.close();
      await dir.remove();
    }
  });
});

/** The log segment files of the store in `path`, oldest first. */
function logSegments(path: string): string[] {
  return readdirSync(join(path, 'wal'))
    .filter((name) => /^\d+\.log$/.test(name))
    .sort();
}

function inodeOf(path: string, segment: string): number {
  return statSync(join(path, 'wal', segment)).ino;
}

function digestOf(path: string, segment: string): string {
  return createHash('sha256')
    .update(readFileSync(join(path, 'wal', segment)))
    .digest('hex');
}
