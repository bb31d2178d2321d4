import { expect } from 'chai';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Tree } from '../src/index.js';
import { withTempDir } from './helpers.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(12, '0')}`);

describe('Tree: the event loop keeps serving while a large compaction runs in a worker', function () {
  this.timeout(120_000);

  it('completes gets (and writes) during the compaction', async () => {
    await withTempDir(async (dir) => {
      const tree = await Tree.open(dir, { targetSegmentSizeBytes: 4 * 1024 * 1024 });
      const perFlush = 60_000;
      const value = Buffer.alloc(100, 'v');
      let seqno = 0;
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < perFlush; i++) tree.insert(key(i * 4 + round), value, seqno++);
        await tree.flushActiveMemtable();
      }
      const total = perFlush * 4;
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      let readsDuringCompaction = 0;
      let writesDuringCompaction = 0;
      const compaction = tree.majorCompact();
      expect(tree.isCompacting()).to.equal(true);
      let i = 0;
      while (tree.isCompacting()) {
        for (let n = 0; n < 50; n++) {
          const k = (i++ * 7919) % total;
          const got = await tree.get(key(k));
          expect(got?.length).to.equal(100);
          if (tree.isCompacting()) readsDuringCompaction++;
        }
        tree.insert(key(total + i), value, seqno++);
        writesDuringCompaction++;
        // Yield to the event loop so the worker's answer (a macrotask) can arrive.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await compaction;
      histogram.disable();
      console.log(
        `      reads during compaction: ${readsDuringCompaction}, writes: ${writesDuringCompaction}, ` +
          `event-loop delay p99 ${(histogram.percentile(99) / 1e6).toFixed(1)} ms, ` +
          `max ${(histogram.max / 1e6).toFixed(1)} ms`,
      );
      expect(readsDuringCompaction).to.be.greaterThan(0);
      expect(tree.segmentCount()).to.be.greaterThan(0);
      expect(tree.firstLevelSegmentCount()).to.equal(0);
      expect((await tree.get(key(12345)))?.length).to.equal(100);
      expect(await tree.len()).to.equal(total + writesDuringCompaction);
      await tree.close();
    });
  });
});
