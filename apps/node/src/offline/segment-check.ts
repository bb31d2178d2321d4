import { StrataError, isStrataError } from '@strata/core';
import { Tree } from '@strata/engine';
import type { ManifestSegment } from './tree-manifest.js';

/** What checking one segment found. */
export interface SegmentCheck {
  readonly file: string;
  readonly level: number;
  readonly id: number;
  readonly ok: boolean;
  /** Entries decoded (every version and tombstone). */
  readonly keysScanned: number;
  readonly error?: { readonly code: string; readonly message: string; readonly offset?: number };
}

/**
 * Checks every block of one segment with the engine's read-only {@link Tree.verify} (limited to
 * that segment), turning a failure into a result so a caller can go on with the others.
 */
export async function checkSegment(
  treeDirectory: string,
  _manifest: unknown,
  segment: ManifestSegment,
): Promise<SegmentCheck> {
  const base = { file: segment.file, level: segment.level, id: segment.id };
  try {
    const report = await Tree.verify(treeDirectory, { segmentIds: [segment.id] });
    return { ...base, ok: true, keysScanned: report.items };
  } catch (error) {
    return { ...base, ok: false, keysScanned: 0, error: describe(error) };
  }
}

function describe(error: unknown): SegmentCheck['error'] {
  const message = error instanceof Error ? error.message : String(error);
  if (isStrataError(error)) {
    const offset = (error.details as { offset?: unknown }).offset;
    return { code: error.code, message, ...(typeof offset === 'number' ? { offset } : {}) };
  }
  return { code: 'INTERNAL', message };
}

/** Thrown by callers that need a checked tree and got a damaged one. */
export function segmentError(check: SegmentCheck): StrataError {
  return new StrataError(
    (check.error?.code as 'CORRUPTION' | undefined) ?? 'CORRUPTION',
    check.error?.message ?? 'segment check failed',
    { details: { file: check.file, offset: check.error?.offset ?? 0 } },
  );
}
