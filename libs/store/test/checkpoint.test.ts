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
