import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh directory under the OS temp dir, removed by `remove()`.
 *
 * @example
 * ```ts
 * const dir = await createTempDirectory('wal-test-');
 * try { ... } finally { await dir.remove(); }
 * ```
 */
export async function createTempDirectory(
  prefix = 'strata-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
