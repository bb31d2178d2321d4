import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import type { Command, Option } from 'commander';
import { StrataError } from '@strata/core';

/**
 * Settings a config file may not hold: `config` itself, and what is not a setting of the node.
 * The token belongs in the environment (`STRATA_TOKEN`, an EnvironmentFile under systemd) or a
 * flag, not in a file that is often world-readable.
 */
const NOT_SETTINGS = new Set(['config', 'help']);

/**
 * Applies the JSON config file at `path` to `command`'s options (`strata serve --config FILE`):
 * an object whose keys are the flags' names without the dashes (`"data"`, `"listen"`,
 * `"cluster-size"`), and values as on the command line (strings; numbers and, for a flag without
 * a value such as `insecure`, booleans are accepted). A flag on the command line, or an
 * environment variable (`STRATA_TOKEN`), wins over the file; the file wins over the defaults.
 * Each value goes through the flag's own parser and choices.
 *
 * @example
 * ```json
 * { "data": "/var/lib/strata", "listen": "0.0.0.0:7070", "sync": "always", "cluster-size": 3 }
 * ```
 *
 * @throws StrataError `INVALID_ARGUMENT` naming the file and the setting: unreadable, not JSON,
 * not an object, an unknown setting, or a value the flag refuses.
 */
export async function applyConfigFile(command: Command, path: string): Promise<void> {
  const settings = await readSettings(path);
  const byName = new Map<string, Option>();
  for (const option of command.options) {
    const name = option.long?.replace(/^--/, '');
    if (name !== undefined && !NOT_SETTINGS.has(name)) byName.set(name, option);
  }
  for (const [name, value] of Object.entries(settings)) {
    const option = byName.get(name);
    if (option === undefined) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `config file ${path}: unknown setting "${name}" (settings are the flags of strata serve without the dashes: ${[...byName.keys()].join(', ')})`,
        { details: { file: path, setting: name } },
      );
    }
    const key = option.attributeName();
    const source = command.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    command.setOptionValueWithSource(key, convert(path, name, option, value), 'config');
  }
}

async function readSettings(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `config file ${path}: cannot read it (${(error as Error).message})`,
      { cause: error, details: { file: path } },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `config file ${path}: not JSON (${(error as Error).message})`,
      { cause: error, details: { file: path } },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `config file ${path}: expected a JSON object of settings, like {"data": "/var/lib/strata"}`,
      { details: { file: path } },
    );
  }
  return parsed as Record<string, unknown>;
}

/** A setting's value as the flag would have it: parsed and checked the way commander does. */
function convert(path: string, name: string, option: Option, value: unknown): unknown {
  const refuse = (reason: string): StrataError =>
    new StrataError('INVALID_ARGUMENT', `config file ${path}: setting "${name}": ${reason}`, {
      details: { file: path, setting: name },
    });
  if (option.isBoolean()) {
    if (typeof value !== 'boolean') throw refuse('expected true or false');
    return value;
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw refuse('expected a string or a number');
  }
  const text = String(value);
  if (option.argChoices !== undefined && !option.argChoices.includes(text)) {
    throw refuse(`"${text}" is not one of ${option.argChoices.join(', ')}`);
  }
  if (option.parseArg === undefined) return text;
  try {
    return option.parseArg(text, undefined);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw refuse(error.message);
    throw error;
  }
}
