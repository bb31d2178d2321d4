import { Command } from 'commander';
import { NODE_VERSION } from '../http/status-routes.js';
import { backupCommand } from './backup.js';
import { inspectCommand } from './inspect.js';
import { promoteCommand } from './promote.js';
import { processIo } from './output.js';
import type { CommandIo } from './output.js';
import { replayCommand } from './replay.js';
import { restoreCommand } from './restore.js';
import { serveCommand } from './serve.js';
import { verifyCommand } from './verify.js';

/**
 * The `strata` command line: `serve`, `replay`, `inspect`, `verify`, `promote`, `backup`,
 * `restore`. Commands set
 * `process.exitCode`.
 */
export function createProgram(io: CommandIo = processIo): Command {
  return new Command('strata')
    .description('Strata: an event-sourced key-value store. Run `strata serve` to start a node.')
    .version(NODE_VERSION)
    .showHelpAfterError()
    .addCommand(serveCommand(io))
    .addCommand(replayCommand(io))
    .addCommand(inspectCommand(io))
    .addCommand(verifyCommand(io))
    .addCommand(promoteCommand(io))
    .addCommand(backupCommand(io))
    .addCommand(restoreCommand(io));
}
