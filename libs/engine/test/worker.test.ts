import { expect } from 'chai';
import { Tree, LeveledStrategy } from '../src/index.js';
import { b, s, withTempDir } from './helpers.js';

describe('Tree on the real file system (flush and compaction in worker threads)', () => {
  it('flushes and compacts in a worker and reopens', async () => {
    await withTempDir(async (dir) => {
      const tree = await Tree.open(dir, {
        blockSizeBytes: 1024,
        targetSegmentSizeBytes: 64 * 1024,
      });
      let seqno = 0;
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 2000; i++) {
          tree.insert(
            b(`key${String(i * 5 + round).padStart(8, '0')}`),
            b(`value-${round}-${i}`),
            seqno++,
          );
        }
        await tree.flushActiveMemtable();
      }
      expect(tree.firstLevelSegmentCount()).to.equal(5);
      await tree.compact(new LeveledStrategy({ l0Trigger: 4 }));
      expect(tree.firstLevelSegmentCount()).to.equal(0);
      expect(tree.segmentCount()).to.be.greaterThan(1);
      expect(s(await tree.get(b('key00000007')))).to.equal('value-2-1');
      expect(await tree.len()).to.equal(10000);
      await tree.close();
      const reopened = await Tree.open(dir);
      expect(s(await reopened.get(b('key00009999')))).to.equal('value-4-1999');
      expect(await reopened.len()).to.equal(10000);
      await reopened.close();
    });
  });
});
