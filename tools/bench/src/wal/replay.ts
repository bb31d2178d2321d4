import { stat } from 'node:fs/promises';
import { LogOp, Wal } from '@strata/wal';
import type { LogEntry } from '@strata/wal';
import type { WorkerOutput } from '../runner/types.js';
import { monotonicMicros } from '../runner/worker-protocol.js';
import { makeKeys, makeValues } from './payload.js';

/** Parameters of {@link runReplay}. */
export interface ReplayParams {
  readonly entries: number;
  readonly batchEntries: number;
}

/**
 * Writes a log of `entries` entries in `batchEntries`-entry batches (`sync: 'none'`, closed, so
 * fdatasynced), then reopens it twice: once timing `wal.read()` (decoded batches), once timing
 * `wal.readRecords()` (framing, checksums and chain only). The files are in the page cache,
 * as they are when a process restarts after a crash; a cold disk read is not measured.
 */
export async function runReplay(directory: string, params: ReplayParams): Promise<WorkerOutput> {
  const writer = await Wal.open(directory, { sync: 'none' });
  const values = makeValues(1024);
  for (let first = 0; first < params.entries; first += params.batchEntries) {
    const count = Math.min(params.batchEntries, params.entries - first);
    const keys = makeKeys(first, count);
    const entries: LogEntry[] = keys.map((key, index) => ({
      op: LogOp.Put,
      key,
      value: values[index & 1023] as Buffer,
    }));
    await writer.append({ epoch: 1, firstSeqno: writer.nextSeqno, entries });
  }
  await writer.close();
  const logBytes = (
    await Promise.all(writer.segments().map((segment) => stat(segment.path)))
  ).reduce((sum, file) => sum + file.size, 0);

  const openStartMs = performance.now();
  const decodedLog = await Wal.open(directory);
  const openMs = performance.now() - openStartMs;
  let decodedEntries = 0;
  let keyBytes = 0;
  const decodedStartUs = monotonicMicros();
  const decodedStartMs = performance.now();
  for await (const batch of decodedLog.read()) {
    decodedEntries += batch.entries.length;
    keyBytes += (batch.entries[0] as LogEntry).key.byteLength;
  }
  const decodedMs = performance.now() - decodedStartMs;
  const decodedEndUs = monotonicMicros();
  await decodedLog.close();

  const rawLog = await Wal.open(directory);
  let rawEntries = 0;
  const rawStartUs = monotonicMicros();
  const rawStartMs = performance.now();
  for await (const record of rawLog.readRecords())
    rawEntries += record.lastSeqno - record.firstSeqno + 1;
  const rawMs = performance.now() - rawStartMs;
  const rawEndUs = monotonicMicros();
  await rawLog.close();

  if (decodedEntries !== params.entries || rawEntries !== params.entries || keyBytes === 0) {
    throw new Error(
      `replay read ${decodedEntries} decoded and ${rawEntries} raw entries, wrote ${params.entries}`,
    );
  }
  return {
    metrics: {
      entriesPerSec: decodedEntries / (decodedMs / 1000),
      rawEntriesPerSec: rawEntries / (rawMs / 1000),
      decodedMs,
      rawMs,
      openMs,
      logMiB: logBytes / 1024 ** 2,
    },
    phases: {
      decoded: { startUs: decodedStartUs, endUs: decodedEndUs },
      raw: { startUs: rawStartUs, endUs: rawEndUs },
    },
  };
}
