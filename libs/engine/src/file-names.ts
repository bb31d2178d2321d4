import { posix } from 'node:path';

/** Marker file: its presence means a fully initialized tree; it holds the format version. */
export const MARKER_FILE = 'STRATA-TREE';
/** Persisted configuration (JSON). */
export const CONFIG_FILE = 'config.json';
/** The levels manifest. */
export const MANIFEST_FILE = 'levels';
/** Folder of segment files. */
export const SEGMENTS_FOLDER = 'segments';
/** Suffix of a finished segment file. */
export const SEGMENT_SUFFIX = '.seg';
/** Suffix of a file still being written. */
export const TEMP_SUFFIX = '.tmp';

export function segmentFileName(id: number): string {
  return `${id}${SEGMENT_SUFFIX}`;
}

export function segmentPath(treePath: string, id: number): string {
  return posix.join(treePath, SEGMENTS_FOLDER, segmentFileName(id));
}

/** The segment id a file name stands for, or `undefined` for anything else. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d+)\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}
