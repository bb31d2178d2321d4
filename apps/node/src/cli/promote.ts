import { Command, Option } from 'commander';
import { StrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';
import { describeError } from './output.js';
import type { CommandIo } from './output.js';

interface PromoteFlags {
  readonly url: string;
  readonly token?: string;
  readonly timeoutMs: number;
}

/**
 * `strata promote --url <follower>`: asks that follower to take leadership. The leader stops
 * taking writes, waits until the follower has applied its whole log, hands the lease over and
 * steps down; the follower opens a new epoch.
 */
export function promoteCommand(io: CommandIo): Command {
  return new Command('promote')
    .description('hand leadership to the follower at --url once it has caught up')
    .requiredOption('--url <url>', 'HTTP URL of the follower to promote')
    .addOption(new Option('--token <token>', 'bearer token of the node').env('STRATA_TOKEN'))
    .option('--timeout-ms <ms>', 'how long to wait', (text) => Number(text), 60_000)
    .action(async (flags: PromoteFlags) => {
      process.exitCode = await runPromote(flags, io);
    });
}

/** Runs `promote`; resolves with the exit code. */
export async function runPromote(flags: PromoteFlags, io: CommandIo): Promise<number> {
  try {
    const response = await fetch(new URL('/v1/cluster/promote', flags.url), {
      method: 'POST',
      headers: flags.token ? { authorization: `Bearer ${flags.token}` } : {},
      signal: AbortSignal.timeout(flags.timeoutMs),
    }).catch((error: unknown) => {
      throw new StrataError('IO_ERROR', `cannot reach ${flags.url}: ${String(error)}`, {
        cause: error,
      });
    });
    const body = (await response.json().catch(() => ({}))) as {
      epoch?: number;
      error?: { code?: string; message?: string };
    };
    if (!response.ok) {
      throw new StrataError(
        (body.error?.code as StrataErrorCode | undefined) ?? 'INTERNAL',
        body.error?.message ?? `HTTP ${response.status}`,
      );
    }
    io.stdout.write(`strata promote: ${flags.url} leads, epoch ${body.epoch}\n`);
    return 0;
  } catch (error) {
    io.stderr.write(describeError('promote', error));
    return 1;
  }
}
