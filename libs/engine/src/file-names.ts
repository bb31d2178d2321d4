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

/** The paths of a tree's own files, for tools that look at a tree without opening it. */
export interface TreeFiles {
  /** Present once the tree is fully created; holds its format version. */
  readonly marker: string;
  /** The levels manifest: which segments make up each level. */
  readonly manifest: string;
  /** The folder of segment files. */
  readonly segments: string;
}

/**
 * The paths of the tree in `treeDirectory`: the one place outside the engine learns its file
 * names from.
 *
 * @example
 * ```ts
 * import { treeFiles } from '@strata/engine';
 * const exists = existsSync(treeFiles('./data/tree').marker);
 * ```
 */
export function treeFiles(treeDirectory: string): TreeFiles {
  return {
    marker: posix.join(treeDirectory, MARKER_FILE),
    manifest: posix.join(treeDirectory, MANIFEST_FILE),
    segments: posix.join(treeDirectory, SEGMENTS_FOLDER),
  };
}

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
