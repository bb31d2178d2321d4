import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { StrataError, errnoOf, isStrataError } from '@strata/core';
import { inspectTree, treeFiles, verifyTree } from '@strata/engine';
import { LogReader } from '../offline/log-reader.js';
import { describeError } from './output.js';
import type { CommandIo } from './output.js';
import { dataDirectory } from '@strata/store';

interface VerifyFlags {
  readonly data: string;
  readonly json?: boolean;
}

/** One problem found. */
interface Finding {
  readonly file: string;
  readonly offset: number;
  readonly code: string;
  readonly message: string;
}

/** `strata verify`: every checksum of the log and of the tree's segments. */
export function verifyCommand(io: CommandIo): Command {
  return new Command('verify')
    .description(
      'check every checksum of the log and the segments (read-only); exits 1 on corruption, naming file and offset',
    )
    .requiredOption('--data <dir>', 'data directory')
    .option('--json', 'print the report as JSON')
    .action(async (flags: VerifyFlags) => {
      process.exitCode = await runVerify(flags, io);
    });
}

/** Runs `verify`; resolves with 0 (clean), 1 (corruption found) or 2 (could not check). */
export async function runVerify(flags: VerifyFlags, io: CommandIo): Promise<number> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  let records = 0;
  let segments = 0;
  try {
    if (!existsSync(flags.data)) {
      throw new StrataError('INVALID_ARGUMENT', `data directory ${flags.data} does not exist`);
    }
    await checkFormat(flags.data, findings);
    const layout = dataDirectory(flags.data);
    records = await checkLog(layout.walDirectory, findings, notes);
    const treeDirectory = layout.treeDirectory;
    if (existsSync(treeFiles(treeDirectory).marker)) {
      try {
        // Segment by segment, so that one damaged segment does not hide problems in the others.
        const info = await inspectTree(treeDirectory);
        for (const segment of info.levels.flat()) {
          segments++;
          try {
            await verifyTree(treeDirectory, { segmentIds: [segment.id] });
          } catch (error) {
            findings.push(finding(error, segment.file));
          }
        }
      } catch (error) {
        findings.push(finding(error, treeFiles(treeDirectory).manifest));
      }
    }
  } catch (error) {
    io.stderr.write(describeError('verify', error));
    if (flags.json) {
      const code = isStrataError(error) ? error.code : 'INTERNAL';
      const message = error instanceof Error ? error.message : String(error);
      io.stdout.write(
        `${JSON.stringify({ ok: false, checked: false, error: { code, message } }, null, 2)}\n`,
      );
    }
    return 2;
  }
  const ok = findings.length === 0;
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ ok, logRecords: records, segments, findings, notes }, null, 2)}\n`,
    );
  } else {
    for (const item of findings) {
      io.stdout.write(
        `CORRUPT ${item.file} offset ${item.offset}: ${item.code}: ${item.message}\n`,
      );
    }
    for (const note of notes) io.stdout.write(`note: ${note}\n`);
    io.stdout.write(
      `${ok ? 'ok' : 'FAILED'}: ${records} log records, ${segments} segments checked, ${findings.length} problems\n`,
    );
  }
  return ok ? 0 : 1;
}

/**
 * Reads every record of the log, adding what is damaged to `findings` and a torn tail (what a
 * crash leaves; the next writable open cuts it) to `notes`. Opening the log already verifies the
 * last segment of a directory that was not closed cleanly, so CORRUPTION from the open is a
 * finding like any other; other errors (permissions, I/O) mean the log could not be checked and
 * are thrown. Returns the number of records read.
 */
async function checkLog(
  walDirectory: string,
  findings: Finding[],
  notes: string[],
): Promise<number> {
  let reader: LogReader;
  try {
    reader = await LogReader.open(walDirectory);
  } catch (error) {
    if (!isStrataError(error) || error.code !== 'CORRUPTION') throw error;
    findings.push(finding(error, walDirectory));
    return 0;
  }
  let records = 0;
  try {
    for await (const _record of reader.records()) records++;
    if (reader.tornTail) {
      const tail = reader.tornTail;
      notes.push(
        `torn tail in ${tail.file} at offset ${tail.offset} (${tail.reason}, ${tail.droppedBytes} bytes): what a crash during an append leaves; the next open cuts it`,
      );
    }
  } catch (error) {
    findings.push(finding(error, walDirectory));
  } finally {
    await reader.close();
  }
  return records;
}

async function checkFormat(directory: string, findings: Finding[]): Promise<void> {
  const file = dataDirectory(directory).formatFile;
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^strata-data \d+$/.test(text)) {
      findings.push({ file, offset: 0, code: 'CORRUPTION', message: 'unreadable format marker' });
    }
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
    findings.push({ file, offset: 0, code: 'CORRUPTION', message: 'format marker is missing' });
  }
}

function finding(error: unknown, fallbackFile: string): Finding {
  if (isStrataError(error)) {
    const details = error.details as { file?: unknown; offset?: unknown };
    return {
      file: typeof details.file === 'string' ? details.file : fallbackFile,
      offset: typeof details.offset === 'number' ? details.offset : 0,
      code: error.code,
      message: error.message,
    };
  }
  return { file: fallbackFile, offset: 0, code: 'INTERNAL', message: String(error) };
}
