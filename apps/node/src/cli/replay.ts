import { existsSync, readdirSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { StrataError } from '@strata/core';
import { Store, dataDirectory } from '@strata/store';
import { eventLines } from '../events/event-line.js';
import { parseEncoding } from '../http/encoding.js';
import type { JsonEncoding } from '../http/encoding.js';
import { LogReader } from '../offline/log-reader.js';
import { restoreBackup } from '../backup/restore-backup.js';
import { parseInteger } from './parse.js';
import { describeError, writeWithBackpressure } from './output.js';
import type { CommandIo } from './output.js';

interface ReplayFlags {
  readonly data: string;
  readonly from?: number;
  readonly to?: number;
  readonly prefix?: string;
  readonly encoding: string;
  readonly into?: string;
  readonly backup?: string;
  readonly progress: boolean;
}

/** `strata replay`: the events of a data directory's log, or a store rebuilt as of `--to`. */
export function replayCommand(io: CommandIo): Command {
  return new Command('replay')
    .description(
      'print the events of a data directory as NDJSON (read-only: safe next to a running node), or rebuild a store as of --to with --into',
    )
    .requiredOption('--data <dir>', 'data directory to read (never written)')
    .option(
      '--from <seqno>',
      'first seqno (inclusive; default: the first in the log)',
      parseInteger,
    )
    .option('--to <seqno>', 'last seqno (inclusive; default: the end of the log)', parseInteger)
    .option('--prefix <prefix>', 'only keys starting with this (UTF-8)')
    .option('--encoding <encoding>', 'keys and values as utf8 or base64', 'utf8')
    .option(
      '--into <dir>',
      'rebuild a new store in this directory holding every write up to --to (point-in-time restore)',
    )
    .option(
      '--backup <file>',
      'with --into: start from this backup (`strata backup`) and apply only the log after its seqno',
    )
    .option('--no-progress', 'no progress bar (there is none when stderr is not a terminal)')
    .action(async (flags: ReplayFlags) => {
      process.exitCode = await runReplay(flags, io);
    });
}

/** Runs a replay; resolves with the exit code. */
export async function runReplay(flags: ReplayFlags, io: CommandIo): Promise<number> {
  try {
    const encoding = parseEncoding(flags.encoding, '--encoding');
    if (!existsSync(flags.data)) {
      throw new StrataError('INVALID_ARGUMENT', `data directory ${flags.data} does not exist`);
    }
    const reader = await LogReader.open(dataDirectory(flags.data).walDirectory);
    const from = flags.from ?? reader.firstSeqno ?? 1;
    const to = flags.to ?? Number.POSITIVE_INFINITY;
    const first = reader.firstSeqno;
    if (first !== undefined && from < first) {
      throw new StrataError(
        'HISTORY_TRUNCATED',
        `seqno ${from} is below the log, which starts at ${first}`,
        { details: { firstSeqno: first } },
      );
    }
    if (flags.backup !== undefined && flags.into === undefined) {
      throw new StrataError('INVALID_ARGUMENT', '--backup goes with --into');
    }
    const bar = startProgress(io, flags.progress, reader.bytesFrom(from));
    try {
      if (flags.into !== undefined) return await rebuild(reader, flags, to, io);
      const prefix = flags.prefix === undefined ? undefined : Buffer.from(flags.prefix, 'utf8');
      const filter = { from, to, prefix, encoding: encoding satisfies JsonEncoding };
      for await (const record of reader.records({
        fromSeqno: from,
        toSeqno: to,
        onBytes: (bytes) => bar?.increment(bytes),
      })) {
        const lines = eventLines(record.batch, filter);
        if (lines.length > 0) await writeWithBackpressure(io.stdout, lines);
      }
    } finally {
      bar?.stop();
    }
    return 0;
  } catch (error) {
    io.stderr.write(describeError('replay', error));
    return 1;
  }
}

/**
 * Point-in-time restore: appends the log's records, byte for byte (same seqnos, epochs and
 * chain), to a new store, up to the last whole batch at or below `to` (a batch is atomic, so a
 * `--to` inside one stops before it). Needs the log from seqno 1, or with `--backup` from the
 * seqno after the backup's (the rebuild then starts from the restored backup).
 */
async function rebuild(
  reader: LogReader,
  flags: ReplayFlags,
  to: number,
  io: CommandIo,
): Promise<number> {
  const target = flags.into as string;
  if (flags.from !== undefined || flags.prefix !== undefined) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      '--into rebuilds the whole state: --from and --prefix do not apply',
    );
  }
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new StrataError('INVALID_ARGUMENT', `--into ${target} must be a new or empty directory`);
  }
  // With a backup the rebuild starts from its state and needs the log only after its seqno.
  const base = flags.backup === undefined ? 0 : await backupBase(flags.backup, target, to);
  if (reader.firstSeqno !== undefined && reader.firstSeqno > base + 1) {
    throw new StrataError(
      'HISTORY_TRUNCATED',
      base === 0
        ? `the log starts at seqno ${reader.firstSeqno}; --into needs it from seqno 1 (or from a backup's seqno on: pass the backup with --backup)`
        : `the log starts at seqno ${reader.firstSeqno}, after seqno ${base + 1} that must follow the backup (at seqno ${base}): take a newer backup`,
      { details: { firstSeqno: reader.firstSeqno, backupSeqno: base } },
    );
  }
  const store = await Store.open(target, { sync: 'none' });
  let lastSeqno = base;
  let stoppedBefore: { firstSeqno: number; lastSeqno: number } | undefined;
  try {
    for await (const record of reader.records({ fromSeqno: base + 1, toSeqno: to })) {
      // Records the backup already holds (the reader starts at the record holding base + 1).
      if (record.batch.lastSeqno <= base) continue;
      if (record.batch.firstSeqno <= base) {
        throw new StrataError(
          'DIVERGED',
          `the log's record ${record.batch.firstSeqno}..${record.batch.lastSeqno} straddles the backup's seqno ${base}: the backup is not of this log's history`,
        );
      }
      if (record.batch.lastSeqno > to) {
        stoppedBefore = { firstSeqno: record.batch.firstSeqno, lastSeqno: record.batch.lastSeqno };
        break;
      }
      await store.appendReplicated(Buffer.from(record.bytes));
      lastSeqno = record.batch.lastSeqno;
    }
  } finally {
    await store.close();
  }
  if (stoppedBefore) {
    io.stderr.write(
      `strata replay: stopped at seqno ${lastSeqno}: the batch ${stoppedBefore.firstSeqno}..${stoppedBefore.lastSeqno} crosses --to ${to} and is atomic\n`,
    );
  }
  io.stderr.write(`strata replay: rebuilt ${target} up to seqno ${lastSeqno}\n`);
  return 0;
}

/**
 * Restores `backup` into `target` (verifying it) and returns its seqno: the state the rebuild
 * starts from. Refuses a backup already past `to`.
 */
async function backupBase(backup: string, target: string, to: number): Promise<number> {
  const { manifest } = await restoreBackup(backup, target);
  if (manifest.seqno > to) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `the backup holds writes up to seqno ${manifest.seqno}, past --to ${to}: use an older backup (${target} now holds the backup's state)`,
    );
  }
  return manifest.seqno;
}

function startProgress(io: CommandIo, wanted: boolean, totalBytes: number): SingleBar | undefined {
  if (!wanted || io.stderr.isTTY !== true || totalBytes < 8 * 1024 * 1024) return undefined;
  const bar = new SingleBar({
    stream: io.stderr,
    format: 'replay |{bar}| {percentage}% | {value}/{total} bytes | eta {eta}s',
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(totalBytes, 0);
  return bar;
}
