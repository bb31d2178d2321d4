import { expect } from 'chai';
import { waitFor } from '../cluster-helpers.js';
import type { HistoryCheck, WriteLoad } from '../write-history.js';

/** Acknowledged writes each phase waits for; raise it for a longer soak (CI keeps it small). */
export const PHASE_WRITES = Number(process.env['STRATA_PARTITION_PHASE_WRITES'] ?? 40);

/** Waits until `load` has `count` more acknowledged writes than now. */
export async function moreAcknowledged(
  load: WriteLoad,
  count: number,
  what: string,
  describe: () => Promise<string>,
): Promise<void> {
  const target = load.count('acknowledged') + count;
  await waitFor(
    what,
    120_000,
    () => (load.count('acknowledged') >= target ? true : undefined),
    describe,
  );
}

/** The checker's verdict: nothing acknowledged lost, nothing unwritten read, no divergence. */
export function expectClean(check: HistoryCheck): void {
  expect(check.lost, 'acknowledged writes lost').to.equal(0);
  expect(check.unexpected, 'values no client wrote').to.equal(0);
  expect(check.divergent, 'nodes whose log or data differ').to.equal(0);
  expect(check.failed, 'operations without a typed answer').to.equal(0);
}
