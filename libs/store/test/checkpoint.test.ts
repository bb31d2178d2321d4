import { expect } from 'chai';
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
