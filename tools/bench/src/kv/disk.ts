import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Bytes on disk (allocated blocks, as `du` counts them: sparse files count what they use) of the
 * files under `directory`, recursively; 0 if it does not exist.
 */
export function directoryBytes(directory: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) total += directoryBytes(full);
    else if (entry.isFile()) {
      try {
        total += statSync(full).blocks * 512;
      } catch {
        // Deleted meanwhile (compaction): not counted.
      }
    }
  }
  return total;
}
