import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The machine and software a run was measured on. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly v8: string;
  /** Installed versions, read from `node_modules/<name>/package.json`; `missing` if absent. */
  readonly packages: Record<string, string>;
  /** Where the workloads put their files. */
  readonly tmpdir: string;
  /** ISO 8601 time of the run. */
  readonly date: string;
}

/**
 * The sentence a single-process benchmark report opens with: date, machine, Node.js, where the
 * files went, and the load average when the run began.
 */
export function measuredOnSentence(machine: MachineInfo, loadAverageAtStart: number): string {
  return `Measured ${machine.date.slice(0, 10)} on ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node.js ${machine.node}; files under ${machine.tmpdir}; 1-minute load average ${loadAverageAtStart.toFixed(1)} at the start (other work shares the machine when it is above the core count).`;
}

/** Describes this machine, with the installed versions of `packages` found from `fromDir` up. */
export function machineInfo(packages: readonly string[], fromDir: string): MachineInfo {
  const cpus = os.cpus();
  const versions: Record<string, string> = {};
  for (const name of packages) versions[name] = installedVersion(name, fromDir) ?? 'missing';
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    packages: versions,
    tmpdir: os.tmpdir(),
    date: new Date().toISOString(),
  };
}

/** The version in the nearest `node_modules/<name>/package.json` at or above `fromDir`. */
export function installedVersion(name: string, fromDir: string): string | undefined {
  let directory = path.resolve(fromDir);
  while (true) {
    const file = path.join(directory, 'node_modules', name, 'package.json');
    if (existsSync(file)) {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      const version = (parsed as { version?: unknown }).version;
      return typeof version === 'string' ? version : undefined;
    }
    const parent = path.dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}
