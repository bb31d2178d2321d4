import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedFileSystem, isStrataError } from '@strata/core';
import type { TreeOptions } from '../src/index.js';
import { Tree } from '../src/index.js';

export const b = (text: string): Buffer => Buffer.from(text);
export const s = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString();

/** Small sizes so that a few hundred entries make many blocks, segments and levels. */
/** The StrataError code `fn` throws synchronously ('untyped' for other errors), or undefined. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isStrataError(error) ? error.code : 'untyped';
  }
  return undefined;
}

export const tinyOptions: TreeOptions = {
  blockSizeBytes: 128,
  restartInterval: 4,
  targetSegmentSizeBytes: 1024,
  blockCacheSizeBytes: 16 * 1024,
};

export async function openSimulated(
  options: TreeOptions = {},
  fs = new SimulatedFileSystem(),
  path = '/tree',
): Promise<{ tree: Tree; fs: SimulatedFileSystem }> {
  const tree = await Tree.open(path, { fileSystem: fs, ...options });
  return { tree, fs };
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-engine-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function collect(
  iterator: AsyncIterable<{ key: Buffer; value: Buffer }>,
): Promise<string[]> {
  const out: string[] = [];
  for await (const { key, value } of iterator) out.push(`${s(key)}=${s(value)}`);
  return out;
}
