import { expect } from 'chai';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import { Wal } from '../src/index.js';
import { armPowerFailure } from '@strata/testing';
import { batchAt } from './helpers.js';

const CYCLES = Number(process.env['STRATA_POWER_LOSS_CYCLES'] ?? 1000);

/**
 * One seeded cycle: concurrent writers append under `always` to a log with small segments, power
 * fails at a random file-system operation, the log is reopened. Every acknowledged batch must be
 * there with its content, and what is missing must be a suffix of unacknowledged batches.
 */
async function powerLossCycle(
  seed: number,
  syncMethod: 'dsync' | 'fdatasync' = 'dsync',
): Promise<{ acknowledged: number; recovered: number }> {
  const random = seededRandom(seed);
  let disk = new SimulatedFileSystem();
  const entriesOf = (seqno: number) => 1 + (seqno % 3);
  const acknowledged = new Set<number>();
  let recoveredLast = 0;
  for (let round = 0; round < 2; round++) {
    const fs = disk;
    const wal = await Wal.open('/wal', {
      fileSystem: fs,
      syncMethod,
      segmentSizeBytes: 4096,
      maxGroupBytes: 4096,
    });
    const failure = armPowerFailure(fs, 5 + Math.floor(random() * 120), random);
    // Batches are deterministic functions of their first seqno, so recovered content can be checked.
    let next = wal.nextSeqno;
    const writers = Array.from({ length: 1 + Math.floor(random() * 6) }, async () => {
      while (!failure.happened) {
        const firstSeqno = next;
        const count = entriesOf(firstSeqno);
        next += count;
        try {
          await wal.append(batchAt(firstSeqno, count, 1, 'x'.repeat(firstSeqno % 50)));
          acknowledged.add(firstSeqno);
        } catch (error) {
          expect((error as { code?: string }).code).to.be.oneOf(['IO_ERROR', 'CLOSED']);
          return;
        }
      }
    });
    await Promise.all(writers);
    await wal.close().catch(() => undefined);
    disk = failure.disk;

    const reopened = await Wal.open('/wal', { fileSystem: disk, segmentSizeBytes: 4096 });
    let expected = 1;
    const present = new Set<number>();
    for await (const batch of reopened.read({ fromSeqno: 1 })) {
      expect(batch.firstSeqno, `seed ${seed}`).to.equal(expected);
      const reference = batchAt(
        batch.firstSeqno,
        entriesOf(batch.firstSeqno),
        1,
        'x'.repeat(batch.firstSeqno % 50),
      );
      expect(batch.entries.length).to.equal(reference.entries.length);
      for (const [index, entry] of batch.entries.entries()) {
        expect(
          Buffer.from(entry.value).equals(Buffer.from(reference.entries[index]!.value)),
          `seed ${seed}`,
        ).to.equal(true);
      }
      present.add(batch.firstSeqno);
      expected = batch.lastSeqno + 1;
    }
    for (const seqno of acknowledged)
      expect(present.has(seqno), `seed ${seed}: acknowledged ${seqno} lost`).to.equal(true);
    recoveredLast = expected - 1;
    // The log's own idea of its end and its chain must match what was read back.
    expect(reopened.lastSeqno, `seed ${seed}`).to.equal(recoveredLast);
    if (recoveredLast > 0)
      expect((await reopened.verify()).lastSeqno, `seed ${seed}`).to.equal(recoveredLast);
    await reopened.close();
  }
  return { acknowledged: acknowledged.size, recovered: recoveredLast };
}

describe('Wal: simulated power loss', function () {
  // CPU-bound, seeded loops: bound their time per cycle (a few ms each on an idle machine), not
  // by mocha's fixed default, which a loaded machine can exceed.
  this.timeout(Math.max(CYCLES, 300) * 500);

  it('loses no acknowledged append over 300 seeded cycles with syncMethod fdatasync', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      try {
        await powerLossCycle(seed, 'fdatasync');
      } catch (error) {
        console.error(`power-loss cycle (fdatasync) failed; reproduce with seed ${seed}`);
        throw error;
      }
    }
  });

  it(`loses no acknowledged append over ${CYCLES} seeded cycles (sync always)`, async () => {
    let acknowledgedTotal = 0;
    let cyclesWithTornData = 0;
    for (let seed = 1; seed <= CYCLES; seed++) {
      try {
        const { acknowledged, recovered } = await powerLossCycle(seed);
        acknowledgedTotal += acknowledged;
        if (recovered > 0) cyclesWithTornData++;
      } catch (error) {
        console.error(`power-loss cycle failed; reproduce with seed ${seed}`);
        throw error;
      }
    }
    // The schedule must really exercise the log: many acknowledged appends across cycles.
    expect(acknowledgedTotal).to.be.greaterThan(CYCLES * 5);
    expect(cyclesWithTornData).to.be.greaterThan(CYCLES / 2);
  });
});
