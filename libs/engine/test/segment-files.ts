/**
 * Test helpers that look into segment files: a file system recording every read, and the
 * metadata and expiry blocks of a tree's segments read straight from the files.
 */
import type { FileHandle, FileSystem, SimulatedFileSystem } from '@strata/core';
import { crc32c } from '@strata/core';
import { inspectTree } from '../src/index.js';
import { unframeBlock } from '../src/segment/block-codec.js';
import type { SegmentMetadata } from '../src/segment/metadata.js';
import { FOOTER_BYTES, decodeFooter, metadataFromJson } from '../src/segment/metadata.js';

/** A file read: which file, where, how many bytes (-1: the whole file). */
export interface FileRead {
  readonly path: string;
  readonly position: number;
  readonly length: number;
}

/** A file system that records every read made through it (handles and whole files). */
export function recordingFileSystem(inner: SimulatedFileSystem): {
  fs: FileSystem;
  reads: FileRead[];
} {
  const reads: FileRead[] = [];
  const wrap = (handle: FileHandle, path: string): FileHandle =>
    new Proxy(handle, {
      get(target, property) {
        if (property === 'read') {
          return (buffer: Uint8Array, offset: number, length: number, position: number) => {
            reads.push({ path, position, length });
            return target.read(buffer, offset, length, position);
          };
        }
        if (property === 'readSync') {
          return (buffer: Uint8Array, offset: number, length: number, position: number) => {
            reads.push({ path, position, length });
            return target.readSync(buffer, offset, length, position);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  const fs = new Proxy(inner, {
    get(target, property) {
      if (property === 'open') {
        return async (...args: Parameters<FileSystem['open']>) =>
          wrap(await target.open(...args), args[0]);
      }
      if (property === 'readFile') {
        return async (path: string) => {
          reads.push({ path, position: 0, length: -1 });
          return target.readFile(path);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { fs, reads };
}

/** The metadata block of a segment file, decoded. */
export function segmentMetadataOf(file: Buffer, path: string): SegmentMetadata {
  const footer = decodeFooter(file.subarray(file.length - FOOTER_BYTES), path, file.length, crc32c);
  const raw = unframeBlock(
    file.subarray(footer.metaOffset, footer.metaOffset + footer.metaSizeBytes),
    path,
    footer.metaOffset,
  );
  return metadataFromJson(JSON.parse(raw.toString('utf8')), path);
}

/** Per segment file of the tree at `/tree` holding an expiry block: its `[offset, size]`. */
export async function expiryBlocksOf(
  fs: SimulatedFileSystem,
  path = '/tree',
): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const level of (await inspectTree(path, { fileSystem: fs })).levels) {
    for (const segment of level) {
      const meta = segmentMetadataOf(fs.peek(segment.file), segment.file);
      if (meta.expiryOffset !== undefined) {
        out.set(segment.file, [meta.expiryOffset, meta.expirySizeBytes!]);
      }
    }
  }
  return out;
}
