#!/usr/bin/env -S node --import tsx
// strata-crash-test: SIGKILL a writer at random moments, reopen, verify; print the counts.
import { Command, InvalidArgumentError } from 'commander';
import { runCrashTest } from './crash-test.js';

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
}

const program = new Command('strata-crash-test')
  .description(
    'Kill a writing Strata store with SIGKILL at random moments, reopen it and verify that no acknowledged write is lost.',
  )
  .requiredOption('--data <dir>', 'data directory to test (new, or written by this tool before)')
  .option('--cycles <n>', 'kill-and-verify cycles', integer, 20)
  .option('--writers <n>', 'concurrent writers in the child', integer, 6)
  .option(
    '--min-run-ms <ms>',
    'earliest kill after the child is ready (and never before its first acknowledged write)',
    integer,
    20,
  )
  .option('--max-run-ms <ms>', 'latest kill after the child is ready', integer, 300)
  .option('--seed <n>', 'seed of the kill schedule', integer)
  .option('--sync <mode>', 'sync mode of the store: always | interval | none', 'always')
  .option(
    '--memtable-bytes <n>',
    'memtable size (small values kill during flushes)',
    integer,
    64 * 1024,
  )
  .option('--json', 'print the report as JSON')
  .action(
    async (options: {
      data: string;
      cycles: number;
      writers: number;
      minRunMs: number;
      maxRunMs: number;
      seed?: number;
      sync: string;
      memtableBytes: number;
      json?: boolean;
    }) => {
      if (!['always', 'interval', 'none'].includes(options.sync))
        throw new InvalidArgumentError('sync must be always, interval or none');
      const report = await runCrashTest({
        dataDirectory: options.data,
        cycles: options.cycles,
        writers: options.writers,
        minRunMs: options.minRunMs,
        maxRunMs: options.maxRunMs,
        seed: options.seed,
        sync: options.sync as 'always',
        memtableSizeBytes: options.memtableBytes,
        onCycle: options.json
          ? undefined
          : (cycle) =>
              console.log(
                `cycle ${cycle.cycle + 1}: killed after ${cycle.killedAfterMs} ms, recovered up to seqno ${cycle.recoveredSeqno}, acknowledged so far ${cycle.acknowledged}`,
              ),
      });
      if (options.json) {
        console.log(JSON.stringify(report));
      } else {
        console.log(
          `\nseed ${report.seed}, ${report.cycles} cycles in ${(report.durationMs / 1000).toFixed(1)} s`,
        );
        console.log(
          `acknowledged ${report.acknowledged}  lost ${report.lost}  unexpected ${report.unexpected}  out-of-order ${report.outOfOrder}`,
        );
        for (const problem of report.problems) console.log(`  ${problem}`);
      }
      if (report.lost + report.unexpected + report.outOfOrder > 0) process.exitCode = 1;
    },
  );

await program.parseAsync();
