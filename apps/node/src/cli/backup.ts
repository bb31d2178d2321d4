import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { StrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';
import { readBackupArchive } from '../backup/backup-reader.js';
import type { BackupManifest } from '../backup/backup-manifest.js';
import { parseInteger } from './parse.js';
import { describeError } from './output.js';
import type { CommandIo } from './output.js';

interface BackupFlags {
  readonly url: string;
  readonly out: string;
  readonly token?: string;
  readonly idleTimeoutMs: number;
}

/**
 * `strata backup --url <node> --out <file>`: streams a consistent online backup of any node
 * (`GET /v1/backup`) into a tar file, verifying it against its manifest as it arrives; the file
 * appears under its name only once complete, verified and fsynced.
 */
export function backupCommand(io: CommandIo): Command {
  return new Command('backup')
    .description(
      'stream a consistent backup of a running node (leader, follower or standalone) into a tar file',
    )
    .requiredOption('--url <url>', 'HTTP URL of the node')
    .requiredOption('--out <file>', 'backup file to write (must not exist)')
    .addOption(new Option('--token <token>', 'bearer token of the node').env('STRATA_TOKEN'))
    .option(
      '--idle-timeout-ms <ms>',
      'give up when the node sends nothing for this long',
      parseInteger,
      60_000,
    )
    .action(async (flags: BackupFlags) => {
      process.exitCode = await runBackup(flags, io);
    });
}

/** Runs `backup`; resolves with the exit code. */
export async function runBackup(flags: BackupFlags, io: CommandIo): Promise<number> {
  const partial = `${flags.out}.partial`;
  try {
    if (await exists(flags.out)) {
      throw new StrataError('INVALID_ARGUMENT', `--out ${flags.out} already exists`);
    }
    const started = performance.now();
    const { manifest, archiveBytes } = await download(flags, partial);
    await rename(partial, flags.out);
    await syncDirectory(dirname(flags.out));
    const seconds = (performance.now() - started) / 1000;
    const megabytes = archiveBytes / 1e6;
    io.stdout.write(
      `strata backup: ${flags.out}: seqno ${manifest.seqno} of node ${manifest.nodeId}, ${manifest.files.length} files, ${archiveBytes} bytes in ${seconds.toFixed(1)} s (${(megabytes / seconds).toFixed(1)} MB/s), verified\n`,
    );
    return 0;
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined);
    io.stderr.write(describeError('backup', error));
    return 1;
  }
}

/** Streams the backup into `partial`, verifying it; the file is fsynced when this resolves. */
async function download(
  flags: BackupFlags,
  partial: string,
): Promise<{ manifest: BackupManifest; archiveBytes: number }> {
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(), flags.idleTimeoutMs);
  };
  const url = new URL('/v1/backup', flags.url);
  arm();
  let response: Response;
  try {
    response = await fetch(url, {
      headers: flags.token ? { authorization: `Bearer ${flags.token}` } : {},
      signal: controller.signal,
    });
  } catch (error) {
    clearTimeout(idle);
    throw new StrataError('IO_ERROR', `cannot reach ${flags.url}: ${causeOf(error)}`, {
      cause: error,
    });
  }
  if (!response.ok || response.body === null) {
    clearTimeout(idle);
    const body = (await response.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string };
    };
    throw new StrataError(
      (body.error?.code as StrataErrorCode | undefined) ?? 'IO_ERROR',
      `${url.href} answered ${response.status}: ${body.error?.message ?? response.statusText}`,
    );
  }
  const file = await open(partial, 'wx');
  let archiveBytes = 0;
  try {
    const body = response.body as unknown as AsyncIterable<Uint8Array>;
    // Each piece goes to the file, then to the verifier: what is verified is what was written.
    async function* written(): AsyncGenerator<Uint8Array> {
      try {
        for await (const piece of body) {
          arm();
          await file.write(piece);
          archiveBytes += piece.byteLength;
          yield piece;
        }
      } catch (error) {
        if (controller.signal.aborted) {
          throw new StrataError(
            'TIMEOUT',
            `${url.href} sent nothing for ${flags.idleTimeoutMs} ms`,
          );
        }
        throw new StrataError('IO_ERROR', `the backup stream broke: ${causeOf(error)}`, {
          cause: error,
        });
      }
    }
    const parts = readBackupArchive(written(), { archiveName: `the backup from ${url.href}` });
    let manifest: BackupManifest | undefined;
    for (;;) {
      const step = await parts.next();
      if (step.done) {
        manifest = step.value;
        break;
      }
    }
    await file.sync();
    return { manifest, archiveBytes };
  } finally {
    clearTimeout(idle);
    controller.abort();
    await file.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
