import { expect } from 'chai';
import { basename } from 'node:path';
import { SimulatedFileSystem, seededRandom } from '@strata/core';
import type { StrataError } from '@strata/core';
import { Wal } from '../src/index.js';
import { batchAt } from './helpers.js';

const OPTIONS = { segmentSizeBytes: 4096 };
const LAST_SEQNO = 150;

/** How one cut ended after its failure and the power loss. */
interface Outcome {
  readonly failed: boolean;
  readonly lastSeqno: number;
  /** The last seqno the cut keeps. */
  readonly keptSeqno: number;
}

/**
 * Cuts a 150-entry log back into its second sealed segment with the `failAt`-th file operation
 * failing (EIO), loses power, reopens, and checks what it finds: the whole log verifies, up to
 * its last seqno, and with `shared`, the segment's other link still holds every byte it held.
 */
async function cutWithFailure(failAt: number, seed: number, shared: boolean): Promise<Outcome> {
  const fs = new SimulatedFileSystem();
  const wal = await Wal.open('/wal', { fileSystem: fs, ...OPTIONS, sync: 'none' });
  for (let seqno = 1; seqno <= LAST_SEQNO; seqno += 3)
    await wal.append(batchAt(seqno, 3, 1, '-'.repeat(60)));
  await wal.sync();
  const target = wal.segments().filter((segment) => !segment.active)[1]!;
  const link = `/other/${basename(target.path)}`;
  if (shared) {
    await fs.mkdir('/other');
    await fs.link(target.path, link);
    await fs.syncDirectory('/other');
  }
  const linked = shared ? Buffer.from(fs.peek(link)) : undefined;
  let operations = 0;
  fs.setFaultInjector(() => (++operations === failAt ? 'EIO' : undefined));
  let failed = false;
  const keptSeqno = target.firstSeqno + 2;
  try {
    await wal.truncateAfter(keptSeqno);
  } catch {
    failed = true;
  }
  fs.setFaultInjector(undefined);
  const rebooted = fs.crash({ random: seededRandom(seed) });
  const reopened = await Wal.open('/wal', { fileSystem: rebooted, ...OPTIONS });
  try {
    // Every record from the first to the last, chained: no hole, whatever the failure point.
    expect((await reopened.verify()).lastSeqno).to.equal(reopened.lastSeqno);
    if (linked) expect(rebooted.peek(link).equals(linked)).to.equal(true);
    return { failed, lastSeqno: reopened.lastSeqno, keptSeqno };
  } finally {
    await reopened.close();
  }
}

describe('Wal: truncateAfter under a failure at any file operation, then a power loss', function () {
  this.timeout(120_000);

  for (const shared of [false, true]) {
    it(`${shared ? 'a shared' : 'a private'} segment: the log reopens whole, as a longer prefix, or cut, never with a hole`, async () => {
      const seen = new Set<string>();
      let completed = false;
      for (let failAt = 1; !completed; failAt++) {
        expect(failAt, 'the cut never completed').to.be.below(100);
        for (const seed of [1, 2, 3]) {
          const outcome = await cutWithFailure(failAt, seed, shared);
          // Nothing the cut keeps is lost; a finished cut keeps nothing more.
          expect(outcome.lastSeqno).to.be.at.least(outcome.keptSeqno);
          if (!outcome.failed) expect(outcome.lastSeqno).to.equal(outcome.keptSeqno);
          seen.add(outcome.lastSeqno === LAST_SEQNO ? 'whole' : 'shorter');
          if (!outcome.failed) {
            completed = true;
            break;
          }
        }
      }
      // The sweep reached both ends: failures that left the log whole and the finished cut.
      expect([...seen].sort()).to.deep.equal(['shorter', 'whole']);
    });
  }

  it('point-in-time recovery of a damaged segment with later segments: never a hole', async () => {
    let completed = false;
    for (let failAt = 1; !completed; failAt++) {
      expect(failAt, 'the recovery never completed').to.be.below(100);
      const fs = new SimulatedFileSystem();
      const wal = await Wal.open('/wal', { fileSystem: fs, ...OPTIONS });
      for (let seqno = 1; seqno <= LAST_SEQNO; seqno += 3)
        await wal.append(batchAt(seqno, 3, 1, '-'.repeat(60)));
      const damaged = wal.segments().filter((segment) => !segment.active)[1]!;
      await wal.close();
      fs.corruptByte(damaged.path, Math.floor(damaged.sizeBytes / 2));
      let operations = 0;
      fs.setFaultInjector(() => (++operations === failAt ? 'EIO' : undefined));
      const options = { fileSystem: fs, ...OPTIONS, recovery: 'point-in-time' as const };
      try {
        await (await Wal.open('/wal', options)).close();
        completed = true;
      } catch {
        // the failure this round injects
      }
      fs.setFaultInjector(undefined);
      for (const seed of [1, 2, 3]) {
        // Reopened as usual (only the last segment is checked at open), then verified whole: the
        // log either still holds the damage (the cut did not happen) or verifies to its end.
        // What it must never hold is a segment that does not continue the one before (a hole).
        const rebooted = fs.crash({ random: seededRandom(seed) });
        const opening = await Wal.open('/wal', { fileSystem: rebooted, ...OPTIONS }).catch(
          (error: unknown) => error as StrataError,
        );
        if (!(opening instanceof Wal)) {
          // The damaged segment is the last one now: open checks it and names the damage.
          expect(opening.details.file).to.equal(damaged.path);
          if (completed) break;
          continue;
        }
        const reopened = opening;
        try {
          const lastSeqno = reopened.lastSeqno;
          const verified = await reopened.verify().catch((error: unknown) => error as StrataError);
          if (verified instanceof Error) {
            expect(verified.details.file).to.equal(damaged.path);
          } else {
            expect(verified.lastSeqno).to.equal(lastSeqno);
            expect(lastSeqno).to.be.below(LAST_SEQNO);
          }
        } finally {
          await reopened.close();
        }
        if (completed) break;
      }
    }
  });
});
