import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StrataError, isStrataError } from '@strata/core';
import { Tree } from '@strata/engine';
import type { ManifestSegment, TreeManifest } from './tree-manifest.js';
import { encodeTreeManifest } from './tree-manifest.js';

/** What checking one segment found. */
export interface SegmentCheck {
  readonly file: string;
  readonly level: number;
  readonly id: number;
  readonly ok: boolean;
  /** Entries seen by a full scan (newest versions, tombstones hidden). */
  readonly keysScanned: number;
  readonly error?: { readonly code: string; readonly message: string; readonly offset?: number };
}

/**
 * Checks every checksum of one segment file without writing to the data directory: a throw-away
 * tree in the temp directory holds a copy of the marker and config, a manifest listing just this
 * segment, and a symbolic link to the segment file; the engine then reads the segment's footer,
 * index, filter and metadata and scans every data block (each verified by its CRC-32C). Errors
 * name the original file.
 */
export async function checkSegment(
  treeDirectory: string,
  manifest: TreeManifest,
  segment: ManifestSegment,
): Promise<SegmentCheck> {
  const scratch = await mkdtemp(join(tmpdir(), 'strata-verify-'));
  const base = { file: segment.file, level: segment.level, id: segment.id };
  try {
    try {
      await access(segment.file);
    } catch {
      return {
        ...base,
        ok: false,
        keysScanned: 0,
        error: { code: 'CORRUPTION', message: `${segment.file} is missing`, offset: 0 },
      };
    }
    await mkdir(join(scratch, 'segments'));
    await copyFile(join(treeDirectory, 'STRATA-TREE'), join(scratch, 'STRATA-TREE'));
    await copyFile(join(treeDirectory, 'config.json'), join(scratch, 'config.json'));
    const levels = manifest.levels.map((_, level) => (level === 0 ? [segment.raw] : []));
    await writeFile(
      join(scratch, 'levels'),
      encodeTreeManifest(segment.id + 1, segment.maxSeqno, levels),
    );
    await symlink(resolve(segment.file), join(scratch, 'segments', `${segment.id}.seg`));
    const tree = await Tree.open(scratch, { jobExecution: 'inline', blockCacheSizeBytes: 1 << 20 });
    let keysScanned = 0;
    try {
      const iterator = tree.iter();
      try {
        for await (const _item of iterator) keysScanned++;
      } finally {
        iterator.close();
      }
    } finally {
      await tree.close();
    }
    return { ...base, ok: true, keysScanned };
  } catch (error) {
    return { ...base, ok: false, keysScanned: 0, error: describe(error, scratch, segment.file) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function describe(error: unknown, scratch: string, original: string): SegmentCheck['error'] {
  const message = (error instanceof Error ? error.message : String(error)).split(scratch).join('');
  const renamed = message.replace(/\/segments\/\d+\.seg/g, original);
  if (isStrataError(error)) {
    const offset = (error.details as { offset?: unknown }).offset;
    return {
      code: error.code,
      message: renamed,
      ...(typeof offset === 'number' ? { offset } : {}),
    };
  }
  return { code: 'INTERNAL', message: renamed };
}

/** Thrown by callers that need a checked tree and got a damaged one. */
export function segmentError(check: SegmentCheck): StrataError {
  return new StrataError(
    (check.error?.code as 'CORRUPTION' | undefined) ?? 'CORRUPTION',
    check.error?.message ?? 'segment check failed',
    { details: { file: check.file, offset: check.error?.offset ?? 0 } },
  );
}
