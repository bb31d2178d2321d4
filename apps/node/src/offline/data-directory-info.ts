import { readFile } from 'node:fs/promises';
import { errnoOf } from '@strata/core';
import { LogReader } from './log-reader.js';
import type { TornTail } from './log-reader.js';
import { readTreeManifest } from './tree-manifest.js';
import type { TreeManifest } from './tree-manifest.js';
import { dataDirectory } from '@strata/store';

/** One log segment as `strata inspect` shows it. */
export interface LogSegmentInfo {
  readonly file: string;
  readonly firstSeqno: number;
  /** Undefined for an empty segment. */
  readonly lastSeqno: number | undefined;
  readonly sizeBytes: number;
}

/** What `strata inspect` reports about a data directory (read-only). */
export interface DataDirectoryInfo {
  readonly directory: string;
  readonly format: string | undefined;
  /** PID in the LOCK file and whether that process runs (a node holds the directory). */
  readonly lock: { readonly pid: number; readonly running: boolean } | undefined;
  readonly log: readonly LogSegmentInfo[];
  readonly firstSeqno: number | undefined;
  readonly lastSeqno: number;
  readonly epoch: number;
  readonly tornTail: TornTail | undefined;
  readonly tree: TreeManifest | undefined;
}

/**
 * Describes a data directory without writing to it: the log's segments (sealed segments end
 * where the next begins; the last one is scanned), the last seqno and epoch, and the tree's levels
 * from its manifest.
 */
export async function describeDataDirectory(directory: string): Promise<DataDirectoryInfo> {
  const layout = dataDirectory(directory);
  const reader = await LogReader.open(layout.walDirectory);
  const files = reader.files;
  let lastSeqno = 0;
  let epoch = 0;
  let tornTail: TornTail | undefined;
  // Scan from the last segment back to the first one holding a record.
  for (let index = files.length - 1; index >= 0; index--) {
    const start = files[index]!.firstSeqno;
    for await (const _record of reader.records({ fromSeqno: start })) {
      // Only the tail is of interest; records() checks every one it passes.
    }
    tornTail ??= reader.tornTail;
    if (reader.last) {
      lastSeqno = reader.last.lastSeqno;
      epoch = reader.last.epoch;
      break;
    }
    lastSeqno = start - 1;
  }
  const log: LogSegmentInfo[] = files.map((file, index) => {
    const next = files[index + 1];
    const last = next ? next.firstSeqno - 1 : lastSeqno;
    return {
      file: file.path,
      firstSeqno: file.firstSeqno,
      lastSeqno: last >= file.firstSeqno ? last : undefined,
      sizeBytes: file.sizeBytes,
    };
  });
  return {
    directory,
    format: await readText(layout.formatFile),
    lock: await readLock(layout.lockFile),
    log,
    firstSeqno: reader.firstSeqno,
    lastSeqno,
    epoch,
    tornTail,
    tree: await readTreeManifest(layout.treeDirectory),
  };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function readLock(path: string): Promise<DataDirectoryInfo['lock']> {
  const text = await readText(path);
  const pid = text === undefined ? NaN : Number.parseInt(text, 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let running = false;
  try {
    process.kill(pid, 0);
    running = true;
  } catch (error) {
    running = errnoOf(error) === 'EPERM';
  }
  return { pid, running };
}
