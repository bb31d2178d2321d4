import { SimulatedFileSystem } from '@strata/core';
import { Wal } from '../src/index.js';
import { segmentFileName } from '../src/segments/segment-file.js';
import type { WalOptions } from '../src/index.js';
import { batchAt } from './helpers.js';

/** Writes `batchCount` batches of `entriesPerBatch` to a fresh simulated log; returns its bytes and record ends. */
export async function buildLog(
  batchCount: number,
  entriesPerBatch = 2,
  options: WalOptions = {},
): Promise<{ fs: SimulatedFileSystem; bytes: Buffer; recordEnds: number[]; path: string }> {
  const fs = new SimulatedFileSystem();
  const wal = await Wal.open('/wal', { ...options, fileSystem: fs });
  for (let index = 0; index < batchCount; index++) {
    await wal.append(batchAt(1 + index * entriesPerBatch, entriesPerBatch));
  }
  const recordEnds: number[] = [];
  let end = 0;
  for await (const record of wal.readRecords()) {
    end += record.bytes.length;
    recordEnds.push(end);
  }
  await wal.close();
  const path = `/wal/${segmentFileName(1)}`;
  return { fs, bytes: fs.peek(path), recordEnds, path };
}

/** A simulated file system holding one durable log segment with exactly `bytes`. */
export async function fsWithSegment(bytes: Buffer, firstSeqno = 1): Promise<SimulatedFileSystem> {
  const fs = new SimulatedFileSystem();
  await fs.mkdir('/wal');
  const handle = await fs.open(`/wal/${segmentFileName(firstSeqno)}`, 'create-exclusive');
  await handle.writev([bytes], 0);
  await handle.datasync();
  await handle.close();
  await fs.syncDirectory('/wal');
  return fs;
}
