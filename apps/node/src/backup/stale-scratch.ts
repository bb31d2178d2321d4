import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BACKUP_SCRATCH_DIRECTORY } from '../http/backup-route.js';

/**
 * Removes what a backup left in the data directory when its node died mid-stream: the staged
 * checkpoint under `backups.tmp/`, whose hard links would otherwise keep deleted segments' disk
 * space forever. Run once the node holds the directory's lock and before it serves: no backup of
 * this process can be running yet, and no other process may use the directory.
 */
export async function removeStaleBackupScratch(dataRoot: string, logger: Logger): Promise<void> {
  const scratch = join(dataRoot, BACKUP_SCRATCH_DIRECTORY);
  const found = await stat(scratch).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (!found) return;
  await rm(scratch, { recursive: true, force: true });
  logger.info(
    { event: 'backup-scratch-removed', directory: scratch },
    'removed the staging directory of an interrupted backup',
  );
}
