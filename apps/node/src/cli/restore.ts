import { Command } from 'commander';
import { restoreBackup } from '../backup/restore-backup.js';
import { describeError } from './output.js';
import type { CommandIo } from './output.js';

interface RestoreFlags {
  readonly from: string;
  readonly data: string;
}

/**
 * `strata restore --from <backup.tar> --data <dir>`: verifies every checksum of a backup, then
 * makes a new data directory from it (refuses a non-empty one). The directory passes
 * `strata verify`, starts standalone (`strata serve --data`), or joins a cluster as a follower
 * that catches up from the stream after the backup's seqno.
 */
export function restoreCommand(io: CommandIo): Command {
  return new Command('restore')
    .description('verify a backup made by `strata backup` and make a new data directory from it')
    .requiredOption('--from <file>', 'backup file (a tar made by `strata backup`)')
    .requiredOption('--data <dir>', 'data directory to make (new or empty)')
    .action(async (flags: RestoreFlags) => {
      process.exitCode = await runRestore(flags, io);
    });
}

/** Runs `restore`; resolves with the exit code. */
export async function runRestore(flags: RestoreFlags, io: CommandIo): Promise<number> {
  try {
    const started = performance.now();
    const { manifest } = await restoreBackup(flags.from, flags.data);
    const seconds = (performance.now() - started) / 1000;
    io.stdout.write(
      `strata restore: ${flags.data}: seqno ${manifest.seqno} (backup of node ${manifest.nodeId} taken ${manifest.createdAt}), ${manifest.files.length} files, ${manifest.totalSizeBytes} bytes, every checksum verified, in ${seconds.toFixed(1)} s\n`,
    );
    return 0;
  } catch (error) {
    io.stderr.write(describeError('restore', error));
    return 1;
  }
}
