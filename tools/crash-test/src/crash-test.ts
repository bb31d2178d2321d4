import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@strata/core';
import { Store } from '@strata/store';
import { deterministicValue as valueOf, runUntilKilled } from '@strata/testing';
import type { SyncMode, WriterOptions } from './writer-options.js';

/** Options of {@link runCrashTest}. */
export interface CrashTestOptions {
  /** The data directory to crash-test: a new one, or one this tool wrote before. */
  readonly dataDirectory: string;
  /** Kill-and-verify cycles. Default 20. */
  readonly cycles?: number;
  /** Concurrent writers in the child. Default 6. */
  readonly writers?: number;
  /** The child is killed between these many ms after it is ready. Default 20..300. */
  readonly minRunMs?: number;
  readonly maxRunMs?: number;
  /** Seed of the kill schedule. Default: the current time. */
  readonly seed?: number;
  /** Sync mode of the child's store. Only `always` promises no loss. Default `always`. */
  readonly sync?: SyncMode;
  /** Memtable size of the child's store; small values make kills land during flushes. Default 64 KiB. */
  readonly memtableSizeBytes?: number;
  /** Log segment size of the child's store. Default 1 MiB. */
  readonly walSegmentSizeBytes?: number;
  /** Called after each verified cycle. */
  readonly onCycle?: (cycle: CycleReport) => void;
}

/** What one kill-and-verify cycle found. */
export interface CycleReport {
  readonly cycle: number;
  readonly killedAfterMs: number;
  readonly acknowledged: number;
  readonly recoveredSeqno: number;
  readonly lost: number;
  readonly unexpected: number;
  readonly outOfOrder: number;
}

/** The totals of a crash test. `lost`, `unexpected` and `outOfOrder` must all be 0. */
export interface CrashTestReport {
  readonly seed: number;
  readonly cycles: number;
  /** Writes the child acknowledged, over all cycles. */
  readonly acknowledged: number;
  /** Acknowledged writes missing after a reopen (counted once each). */
  readonly lost: number;
  /** Entries read back that were never written (wrong value, foreign key). */
  readonly unexpected: number;
  /** Holes or overlaps in the recovered seqno order. */
  readonly outOfOrder: number;
  readonly recoveredSeqno: number;
  readonly durationMs: number;
  /** The first few problems, described. */
  readonly problems: readonly string[];
}

const childScript = fileURLToPath(new URL('./writer-child.ts', import.meta.url));
const packageDirectory = dirname(dirname(childScript));
const KEY_PATTERN = /^c\d+-w\d+-\d+(-[abc])?$/;

/**
 * Crash-tests a data directory: runs a writer child, kills it with SIGKILL at a random moment,
 * reopens the store, verifies every acknowledged write and every entry of the history written
 * since the test began, and repeats.
 *
 * @example
 * ```ts
 * const report = await runCrashTest({ dataDirectory: '/tmp/crash', cycles: 50 });
 * if (report.lost + report.unexpected + report.outOfOrder > 0) process.exitCode = 1;
 * ```
 */
export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestReport> {
  const started = Date.now();
  const seed = options.seed ?? started % 1_000_000;
  const random = seededRandom(seed);
  const cycles = options.cycles ?? 20;
  const minRunMs = options.minRunMs ?? 20;
  const maxRunMs = Math.max(minRunMs, options.maxRunMs ?? 300);
  const acknowledged = new Map<number, string>();
  const lostSeqnos = new Set<number>();
  const problems: string[] = [];
  let unexpected = 0;
  let outOfOrder = 0;
  let recoveredSeqno = 0;
  const note = (problem: string) => {
    if (problems.length < 20) problems.push(problem);
  };

  const baseline = await Store.open(options.dataDirectory);
  const baselineSeqno = baseline.lastSeqno;
  await baseline.close();
  let verifiedUpTo = baselineSeqno;

  for (let cycle = 0; cycle < cycles; cycle++) {
    const killedAfterMs = minRunMs + Math.floor(random() * (maxRunMs - minRunMs + 1));
    await runWriterUntilKilled(
      {
        dataDirectory: options.dataDirectory,
        cycle: cycle + Math.floor(started / 1000) * 1000,
        writers: options.writers ?? 6,
        sync: options.sync ?? 'always',
        memtableSizeBytes: options.memtableSizeBytes ?? 64 * 1024,
        walSegmentSizeBytes: options.walSegmentSizeBytes ?? 1024 * 1024,
      },
      killedAfterMs,
      acknowledged,
    );
    const store = await Store.open(options.dataDirectory);
    let cycleUnexpected = 0;
    let cycleOutOfOrder = 0;
    try {
      recoveredSeqno = store.lastSeqno;
      const history = new Map<number, string>();
      // Every tenth cycle (and the last) verifies the whole history written since the test began;
      // the others verify what was written since the last verified seqno, which keeps a long run
      // linear. Values and contiguity are checked either way.
      const fullScan = cycle % 10 === 9 || cycle === cycles - 1;
      const scanFrom = fullScan ? baselineSeqno + 1 : Math.min(verifiedUpTo, recoveredSeqno) + 1;
      let expected = scanFrom;
      if (recoveredSeqno >= scanFrom) {
        for await (const batch of store.subscribe({ from: scanFrom })) {
          if (
            batch.firstSeqno !== expected &&
            !(batch.firstSeqno < expected && batch.lastSeqno >= expected)
          ) {
            cycleOutOfOrder++;
            note(`cycle ${cycle}: batch at ${batch.firstSeqno}, expected ${expected}`);
          }
          for (const [index, entry] of batch.entries.entries()) {
            if (batch.firstSeqno + index < scanFrom) continue;
            const key = Buffer.from(entry.key).toString();
            const value = Buffer.from(entry.value).toString();
            if (!KEY_PATTERN.test(key) || value !== valueOf(key)) {
              cycleUnexpected++;
              note(
                `cycle ${cycle}: seqno ${batch.firstSeqno + index} holds ${key} with a value never written`,
              );
            }
            history.set(batch.firstSeqno + index, key);
          }
          expected = batch.lastSeqno + 1;
          if (batch.lastSeqno >= recoveredSeqno) break;
        }
      }
      for (const [seqno, key] of acknowledged) {
        if (seqno < scanFrom) continue;
        if (history.get(seqno) !== key && !lostSeqnos.has(seqno)) {
          lostSeqnos.add(seqno);
          note(`cycle ${cycle}: acknowledged seqno ${seqno} (${key}) is missing`);
        }
      }
      // Reads through the tree agree with the log for the newest acknowledged writes.
      for (const [seqno, key] of [...acknowledged].filter(([seqno]) => seqno > verifiedUpTo)) {
        if (lostSeqnos.has(seqno)) continue;
        const value = (await store.get(key))?.toString();
        if (value !== valueOf(key)) {
          cycleUnexpected++;
          note(
            `cycle ${cycle}: get(${key}) returned ${value === undefined ? 'nothing' : 'a wrong value'}`,
          );
        }
      }
      verifiedUpTo = recoveredSeqno;
    } finally {
      await store.close();
    }
    unexpected += cycleUnexpected;
    outOfOrder += cycleOutOfOrder;
    options.onCycle?.({
      cycle,
      killedAfterMs,
      acknowledged: acknowledged.size,
      recoveredSeqno,
      lost: lostSeqnos.size,
      unexpected: cycleUnexpected,
      outOfOrder: cycleOutOfOrder,
    });
  }
  return {
    seed,
    cycles,
    acknowledged: acknowledged.size,
    lost: lostSeqnos.size,
    unexpected,
    outOfOrder,
    recoveredSeqno,
    durationMs: Date.now() - started,
    problems,
  };
}

function runWriterUntilKilled(
  options: WriterOptions,
  runMs: number,
  acknowledged: Map<number, string>,
): Promise<void> {
  return runUntilKilled({
    script: childScript,
    args: [JSON.stringify(options)],
    cwd: packageDirectory,
    runAfterReadyMs: runMs,
    // At least one acknowledged write a cycle: on a loaded machine a kill soon after `ready` can
    // otherwise land before the writers did anything, and the cycle tests only recovery.
    killNotBefore: 'ack',
    onLine: (line) => {
      const [kind, seqno, key] = line.split(' ');
      if (kind === 'ack' && key !== undefined) acknowledged.set(Number(seqno), key);
    },
  });
}
