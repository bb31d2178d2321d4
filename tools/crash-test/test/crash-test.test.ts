import { expect } from 'chai';
import { createTempDirectory } from '@strata/testing';
import { runCrashTest } from '../src/index.js';

describe('crash-test tool', function () {
  this.timeout(120_000);

  it('runs cycles against a fresh directory and reports zero loss for sync always', async () => {
    const dir = await createTempDirectory('crash-tool-');
    const cycles: number[] = [];
    try {
      const report = await runCrashTest({
        dataDirectory: dir.path,
        cycles: 4,
        seed: 7,
        onCycle: (cycle) => cycles.push(cycle.cycle),
      });
      expect(cycles).to.deep.equal([0, 1, 2, 3]);
      expect(report).to.include({ seed: 7, cycles: 4, lost: 0, unexpected: 0, outOfOrder: 0 });
      expect(report.acknowledged).to.be.at.least(4); // one a cycle at least
      expect(report.recoveredSeqno).to.be.at.least(report.acknowledged);
    } finally {
      await dir.remove();
    }
  });
});
