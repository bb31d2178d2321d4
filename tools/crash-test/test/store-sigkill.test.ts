import { expect } from 'chai';
import { runCrashTest } from '../src/index.js';
import { createTempDirectory } from '@strata/testing';

const CYCLES = Number(process.env['STRATA_STORE_SIGKILL_CYCLES'] ?? 100);

describe('Store: SIGKILL loop', function () {
  this.timeout(CYCLES * 20_000);

  it(`concurrent writers with tiny memtables, killed ${CYCLES} times: nothing acknowledged lost, nothing unwritten, no holes`, async () => {
    const dataDir = await createTempDirectory('store-sigkill-');
    try {
      // The crash-test tool keeps its oracle of acknowledged writes in this process, outside the
      // data directory; 16 KiB memtables make kills land during flushes and compactions.
      const report = await runCrashTest({
        dataDirectory: dataDir.path,
        cycles: CYCLES,
        writers: 6,
        seed: Number(process.env['STRATA_SEED'] ?? 4242),
        memtableSizeBytes: 16 * 1024,
        walSegmentSizeBytes: 256 * 1024,
      });
      expect(report.problems).to.deep.equal([]);
      expect(report).to.include({ lost: 0, unexpected: 0, outOfOrder: 0 });
      // The writer is killed only after its first acknowledgement, so every cycle wrote something.
      expect(report.acknowledged).to.be.at.least(CYCLES);
    } finally {
      await dataDir.remove();
    }
  });
});
