import { execFile, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

/** One host of a {@link NetworkLab}: a network namespace with one address on the lab's bridge. */
export interface LabHost {
  /** The name the test gave it (`nats-1`, `strata-2`, ...). */
  readonly name: string;
  /** Its network namespace (`ip netns exec <namespace> ...`). */
  readonly namespace: string;
  /** Its IPv4 address on the bridge. */
  readonly address: string;
  /** The host-side end of its veth pair (a port of the bridge). */
  readonly hostInterface: string;
}

/** Options of {@link startNetworkLab}. */
export interface NetworkLabOptions {
  /** One network namespace each; names of letters, digits and `-`, at most 20 characters. */
  readonly hosts: readonly string[];
}

/**
 * Hosts in network namespaces of their own, each with a veth pair into one bridge that also
 * carries an address in the host namespace (the test's own process reaches every host through
 * it). Links between hosts are cut and healed with `ip rule ... blackhole` in the hosts'
 * namespaces: a cut drops, on arrival, every packet between the two hosts (no reset, no ICMP),
 * as a lost network path does; the test process keeps reaching every host.
 */
export interface NetworkLab {
  /** The bridge's name. */
  readonly bridge: string;
  /** The bridge's address in the test's namespace: how hosts reach the test process. */
  readonly gateway: string;
  /** The lab's /24, e.g. `10.77.3.0/24`. */
  readonly subnet: string;
  readonly hosts: readonly LabHost[];
  /** The host named `name`; throws for an unknown name. */
  host(name: string): LabHost;
  /** Starts `command` inside `host`'s namespace (`ip netns exec`, which execs: the PID is the command's). */
  spawn(
    host: string,
    command: string,
    args: readonly string[],
    options?: SpawnOptions,
  ): ChildProcess;
  /** Cuts every link between a host of `side` and a host of `other` (both directions). */
  cut(side: readonly string[], other: readonly string[]): Promise<void>;
  /** Restores every link cut so far. */
  heal(): Promise<void>;
  /** The cuts in place, as `a|b` pairs of host names (sorted). */
  readonly cuts: readonly string[];
  /**
   * Kills (SIGKILL, by PID) whatever still runs in the lab's namespaces and deletes them (their
   * veth pairs go with them) and the bridge. Safe to call twice.
   */
  destroy(): Promise<void>;
}

/** Namespace names: `stlab-<owner pid>-<lab>-<host>`; interfaces: `stl<pid base36>_<lab>...`. */
const NAMESPACE_PREFIX = 'stlab-';
const INTERFACE_PREFIX = 'stl';
/** Priority of the partition rules; the `local` table moves behind them (from 0 to this). */
const CUT_RULE_PRIORITY = 100;
const LOCAL_RULE_PRIORITY = 1000;
const HOST_NAME = /^[a-z0-9-]{1,20}$/;

let labCounter = 0;

/** Runs `ip` with `args`; rejects with its stderr. */
function ip(args: readonly string[]): Promise<string> {
  return run('ip', args);
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Why network namespaces cannot be used here, or undefined when they can: the process must be
 * root and `ip netns add` must work (tried with a probe namespace, deleted at once).
 */
export async function networkNamespacesUnavailable(): Promise<string | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'network namespaces need root (ip netns add); this process is not root';
  }
  const probe = `${NAMESPACE_PREFIX}${process.pid}-probe`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (error) {
    return `ip netns is not available: ${(error as Error).message}`;
  }
  await ip(['netns', 'del', probe]).catch(() => undefined);
  return undefined;
}

/** True when a process with `pid` exists (a lab whose owner died is a leftover). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The PIDs of the processes in network namespace `namespace`. */
async function pidsIn(namespace: string): Promise<number[]> {
  const text = await ip(['netns', 'pids', namespace]).catch(() => '');
  return text
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** SIGKILLs (by PID) the processes in `namespace`, waits until they are gone, deletes it. */
async function removeNamespace(namespace: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pids = await pidsIn(namespace);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await ip(['netns', 'del', namespace]).catch(() => undefined);
}

/**
 * Deletes the namespaces and bridges of labs whose owning process is gone (a crashed or killed
 * test run), killing what still runs in them; returns their names. Labs of live processes (a
 * run going on in parallel) are left alone.
 */
export async function removeLeftoverNetworkLabs(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = (await ip(['netns', 'list']).catch(() => ''))
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(NAMESPACE_PREFIX));
  for (const namespace of namespaces) {
    const owner = Number(namespace.slice(NAMESPACE_PREFIX.length).split('-')[0]);
    if (Number.isInteger(owner) && alive(owner)) continue;
    await removeNamespace(namespace);
    removed.push(namespace);
  }
  const links = JSON.parse((await ip(['-j', 'link', 'show'])) || '[]') as { ifname: string }[];
  for (const { ifname } of links) {
    const match = new RegExp(`^${INTERFACE_PREFIX}([0-9a-z]+)_`).exec(ifname);
    if (match === null) continue;
    const owner = parseInt(match[1]!, 36);
    if (alive(owner)) continue;
    await ip(['link', 'del', ifname]).catch(() => undefined);
    removed.push(ifname);
  }
  return removed;
}

/** A 10.77.x.0/24 that no address or route of this namespace uses yet. */
async function freeSubnet(): Promise<number> {
  const used = `${await ip(['-4', 'addr', 'show'])}\n${await ip(['-4', 'route', 'show'])}`;
  for (let third = (process.pid % 200) + 1; third < 256; third++) {
    if (!used.includes(`10.77.${third}.`)) return third;
  }
  for (let third = 1; third < 256; third++) {
    if (!used.includes(`10.77.${third}.`)) return third;
  }
  throw new Error('no free 10.77.x.0/24 for a network lab');
}

/**
 * Starts a {@link NetworkLab}: a bridge with the gateway address `10.77.x.1/24` and one namespace
 * per host (`10.77.x.11`, `.12`, ... in the order given), loopback up, its `local` routing rule
 * moved behind the partition rules. Fails (and removes what it made) when a command fails.
 *
 * @example
 * ```ts
 * const lab = await startNetworkLab({ hosts: ['a', 'b', 'c'] });
 * const server = lab.spawn('a', 'nats-server', ['-a', lab.host('a').address]);
 * await lab.cut(['a'], ['b', 'c']); // a alone; the test process still reaches it
 * await lab.heal();
 * await lab.destroy();
 * ```
 */
export async function startNetworkLab(options: NetworkLabOptions): Promise<NetworkLab> {
  for (const name of options.hosts) {
    if (!HOST_NAME.test(name)) throw new Error(`lab host name "${name}": [a-z0-9-]{1,20}`);
  }
  const labId = `${process.pid.toString(36)}_${(labCounter++).toString(36)}`;
  const bridge = `${INTERFACE_PREFIX}${labId}b`;
  const third = await freeSubnet();
  const gateway = `10.77.${third}.1`;
  const hosts: LabHost[] = options.hosts.map((name, index) => ({
    name,
    namespace: `${NAMESPACE_PREFIX}${process.pid}-${labCounter - 1}-${name}`,
    address: `10.77.${third}.${11 + index}`,
    hostInterface: `${INTERFACE_PREFIX}${labId}v${index}`,
  }));
  const cuts = new Set<string>();
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    for (const host of hosts) await removeNamespace(host.namespace);
    await ip(['link', 'del', bridge]).catch(() => undefined);
  };
  const find = (name: string): LabHost => {
    const host = hosts.find((candidate) => candidate.name === name);
    if (host === undefined) throw new Error(`no host ${name} in the lab`);
    return host;
  };
  try {
    await ip(['link', 'add', bridge, 'type', 'bridge']);
    await ip(['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    await ip(['link', 'set', bridge, 'up']);
    for (const host of hosts) {
      const inside = ['-n', host.namespace];
      await ip(['netns', 'add', host.namespace]);
      await ip([
        'link',
        'add',
        host.hostInterface,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        host.namespace,
      ]);
      await ip(['link', 'set', host.hostInterface, 'master', bridge, 'up']);
      await ip([...inside, 'link', 'set', 'lo', 'up']);
      await ip([...inside, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await ip([...inside, 'link', 'set', 'eth0', 'up']);
      // Rule 0 looks up the `local` table for every packet: a packet to this host would match it
      // before any partition rule. It moves behind them.
      await ip([...inside, 'rule', 'add', 'pref', String(LOCAL_RULE_PRIORITY), 'lookup', 'local']);
      await ip([...inside, 'rule', 'del', 'pref', '0']);
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  /** Drops, in `at`'s namespace, every packet arriving from `from` (input route lookup). */
  const rule = (verb: 'add' | 'del', at: LabHost, from: LabHost): Promise<string> =>
    ip([
      '-n',
      at.namespace,
      'rule',
      verb,
      'from',
      `${from.address}/32`,
      'pref',
      String(CUT_RULE_PRIORITY),
      'blackhole',
    ]);
  return {
    bridge,
    gateway,
    subnet: `10.77.${third}.0/24`,
    hosts,
    host: find,
    spawn(name, command, args, spawnOptions = {}) {
      return spawn('ip', ['netns', 'exec', find(name).namespace, command, ...args], spawnOptions);
    },
    async cut(side, other) {
      for (const a of side.map(find)) {
        for (const b of other.map(find)) {
          if (a === b) throw new Error(`cannot cut ${a.name} from itself`);
          const pair = [a.name, b.name].sort().join('|');
          if (cuts.has(pair)) continue;
          await rule('add', a, b);
          await rule('add', b, a);
          cuts.add(pair);
        }
      }
    },
    async heal() {
      for (const pair of [...cuts]) {
        const [a, b] = pair.split('|').map(find) as [LabHost, LabHost];
        await rule('del', a, b);
        await rule('del', b, a);
        cuts.delete(pair);
      }
    },
    get cuts() {
      return [...cuts].sort();
    },
    destroy,
  };
}
