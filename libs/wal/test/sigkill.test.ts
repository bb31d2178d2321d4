import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@strata/core';
import { createTempDirectory, runUntilKilled } from '@strata/testing';
import { Wal } from '../src/index.js';
import { batchAt } from './helpers.js';

const CYCLES = Number(process.env['STRATA_SIGKILL_CYCLES'] ?? 50);
const childScript = fileURLToPath(new URL('./support/append-child.ts', import.meta.url));

/** Runs the child until it is ready, lets it append for `runMs`, kills it with SIGKILL. */
function runAndKill(
  directory: string,
  runMs: number,
  acknowledged: Map<number, number>,
): Promise<void> {
  return runUntilKilled({
    script: childScript,
    args: [directory],
    runAfterReadyMs: runMs,
    // Each cycle kills after at least one acknowledged append, however loaded the machine.
    killNotBefore: 'ack',
    onLine: (line) => {
      const [kind, first, last] = line.split(' ');
      if (kind === 'ack') acknowledged.set(Number(first), Number(last));
    },
  });
}

describe('Wal: SIGKILL loop', function () {
  this.timeout(CYCLES * 10_000);

  it(`a child appending under sync always, killed ${CYCLES} times at random moments, loses no acknowledged batch`, async () => {
    const logDir = await createTempDirectory('wal-sigkill-');
    // The oracle lives in this process, outside the log directory.
    const acknowledged = new Map<number, number>();
    const random = seededRandom(Number(process.env['STRATA_SEED'] ?? 20261124));
    let previousLast = 0;
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        await runAndKill(logDir.path, 5 + Math.floor(random() * 150), acknowledged);
        const wal = await Wal.open(logDir.path);
        let expected = 1;
        const present = new Map<number, number>();
        for await (const batch of wal.read({ fromSeqno: 1 })) {
          expect(batch.firstSeqno, `cycle ${cycle}: hole in the log`).to.equal(expected);
          const reference = batchAt(
            batch.firstSeqno,
            1 + (batch.firstSeqno % 4),
            1,
            '#'.repeat(batch.firstSeqno % 64),
          );
          expect(batch.entries.length).to.equal(reference.entries.length);
          expect(
            Buffer.from(batch.entries[0]!.value).equals(Buffer.from(reference.entries[0]!.value)),
          ).to.equal(true);
          present.set(batch.firstSeqno, batch.lastSeqno);
          expected = batch.lastSeqno + 1;
        }
        for (const [first, last] of acknowledged) {
          expect(
            present.get(first),
            `cycle ${cycle}: acknowledged ${first}..${last} lost`,
          ).to.equal(last);
        }
        expect(expected - 1).to.be.at.least(previousLast);
        previousLast = expected - 1;
        await wal.close();
      }
      expect(acknowledged.size).to.be.at.least(CYCLES);
    } finally {
      await logDir.remove();
    }
  });
});
