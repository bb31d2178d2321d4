import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** docs/deployment: the files docs/DEPLOYMENT.md describes, run here as they are written. */
const DEPLOYMENT = fileURLToPath(new URL('../../../../docs/deployment/', import.meta.url));

/** The machine names the files use: `strata-<n>.internal` runs NATS server n and Strata node n. */
const MACHINE = /strata-(\d)\.internal/g;

/** Where the lab put machine n's two parts: its NATS server and its Strata node. */
export interface MachineAddresses {
  /** Address of the namespace of NATS server `n` (1-based). */
  natsAddress(n: number): string;
  /** Address of the namespace of Strata node `n` (1-based). */
  strataAddress(n: number): string;
}

/** The JetStream store directory the configuration files name (replaced by a temp directory). */
const STORE_DIR = '/var/lib/nats/jetstream';
/** The Strata data directory the unit files name (replaced by a temp directory). */
const DATA_DIR = '/var/lib/strata';
/** The program the unit files start. */
const STRATA_BINARY = '/usr/local/bin/strata';

function machine(n: string, address: (n: number) => string): string {
  return address(Number(n));
}

/**
 * docs/deployment/nats-`n`.conf with every machine name replaced by the address of that machine's
 * NATS server (the file only ever names NATS servers: its own advertised address, its routes)
 * and the store directory by `storeDirectory`. Throws when the file does not name the store
 * directory the test replaces (the document and the test would disagree).
 */
export async function natsConfig(
  n: number,
  addresses: MachineAddresses,
  storeDirectory: string,
): Promise<string> {
  const text = await readFile(`${DEPLOYMENT}nats-${n}.conf`, 'utf8');
  if (!text.includes(STORE_DIR)) throw new Error(`nats-${n}.conf: no store_dir ${STORE_DIR}`);
  return text
    .replaceAll(MACHINE, (_all, m: string) => machine(m, (k) => addresses.natsAddress(k)))
    .replaceAll(STORE_DIR, storeDirectory);
}

/** The server name a configuration file gives its server (`server_name: nats-1`). */
export async function natsServerName(n: number): Promise<string> {
  const text = await readFile(`${DEPLOYMENT}nats-${n}.conf`, 'utf8');
  const match = /^server_name:\s*"?([\w-]+)"?/m.exec(text);
  if (match === null) throw new Error(`nats-${n}.conf: no server_name`);
  return match[1]!;
}

/** The `ExecStart=` command of a unit file, its `\` continuations joined, split into words. */
function execStart(unit: string, file: string): string[] {
  const lines = unit.split('\n');
  const start = lines.findIndex((line) => line.startsWith('ExecStart='));
  if (start < 0) throw new Error(`${file}: no ExecStart=`);
  const words: string[] = [];
  for (let index = start; index < lines.length; index++) {
    const line = lines[index]!.replace(/^ExecStart=/, '');
    const continued = line.trimEnd().endsWith('\\');
    words.push(
      ...line
        .replace(/\\\s*$/, '')
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
    if (!continued) break;
  }
  return words;
}

/** What {@link strataArguments} read from a unit file. */
export interface StrataCommand {
  /** The `strata` arguments (from `serve` on), with the lab's addresses and `dataDirectory`. */
  readonly args: string[];
  /** `--node-id`. */
  readonly nodeId: string;
  /** `--advertise-url`, with the lab's address: the URL clients and other nodes use. */
  readonly url: string;
  /** `--lease-ttl-ms`. */
  readonly leaseTtlMs: number;
}

/**
 * The arguments of docs/deployment/strata-`n`.service's ExecStart after the program: in
 * `--advertise-url` machine names become Strata nodes' addresses, in `--nats` NATS servers'
 * addresses; `--data` is `dataDirectory`. Throws when the program, `--data` or another flag
 * this reads is not as the test expects.
 */
export async function strataArguments(
  n: number,
  addresses: MachineAddresses,
  dataDirectory: string,
): Promise<StrataCommand> {
  const file = `strata-${n}.service`;
  const words = execStart(await readFile(`${DEPLOYMENT}${file}`, 'utf8'), file);
  if (words[0] !== STRATA_BINARY) throw new Error(`${file}: ExecStart runs ${words[0]}`);
  const args = words.slice(1);
  const value = (flag: string): string => {
    const index = args.indexOf(flag);
    if (index < 0 || index + 1 >= args.length) throw new Error(`${file}: no ${flag}`);
    return args[index + 1]!;
  };
  const replace = (flag: string, rewrite: (text: string) => string): void => {
    args[args.indexOf(flag) + 1] = rewrite(value(flag));
  };
  if (value('--data') !== DATA_DIR) throw new Error(`${file}: --data is not ${DATA_DIR}`);
  replace('--data', () => dataDirectory);
  replace('--advertise-url', (text) =>
    text.replaceAll(MACHINE, (_all, m: string) => machine(m, (k) => addresses.strataAddress(k))),
  );
  replace('--nats', (text) =>
    text.replaceAll(MACHINE, (_all, m: string) => machine(m, (k) => addresses.natsAddress(k))),
  );
  return {
    args,
    nodeId: value('--node-id'),
    url: value('--advertise-url'),
    leaseTtlMs: Number(value('--lease-ttl-ms')),
  };
}
