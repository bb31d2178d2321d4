// The server under test, in its own process: start it on a free loopback port, wait until it
// answers, read its CPU time, stop it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tools/bench/src/http -> ../../../..). */
export const REPO_DIR = fileURLToPath(new URL('../../../..', import.meta.url));
/** The bundled strata CLI, built by `node apps/node/scripts/build.mjs`. */
export const STRATA_BUNDLE = path.join(REPO_DIR, 'apps/node/dist/strata.js');
const BENCH_DIR = path.join(REPO_DIR, 'tools/bench');
const FASTIFY_CONSTANT = fileURLToPath(new URL('./fastify-constant.ts', import.meta.url));

/** The HTTP servers measured. */
export const HTTP_CONTENDERS = ['strata', 'fastify-constant'] as const;
export type HttpContender = (typeof HTTP_CONTENDERS)[number];

/** Where the server's CPU profiles go when set (by `run.ts --cpu-prof DIR`). */
export const SERVER_CPU_PROF_ENV = 'STRATA_BENCH_SERVER_CPU_PROF';

/**
 * The directory of one cell's server profiles. Node names each file
 * `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`: the main thread is thread 0, the
 * engine's job worker threads write their own files beside it.
 */
export function serverProfileDir(
  workload: string,
  connections: number,
  contender: string,
  round: number,
): string {
  return `http-${workload}-c${connections}-${contender}-r${round}`;
}

/** A running server process. */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** User + system CPU time of the server process so far, in ms (from /proc; NaN elsewhere). */
  cpuTimeMs(): number;
  /** SIGTERM, then waits for the exit (SIGKILL after 30 s); a CPU profile is written on exit. */
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Data directory (strata only). */
  readonly dataDirectory: string;
  /** Extra Node.js flags for the server (for example `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
}

/** Starts a contender's server and resolves once `GET /healthz` answers 200. */
export async function startServer(
  contender: string,
  options: StartServerOptions,
): Promise<ServerProcess> {
  const port = await freePort();
  const flags = options.nodeFlags ?? [];
  let args: string[];
  if (contender === 'strata') {
    // The node with its defaults; `--sync always` is the default, spelled out.
    args = [
      ...flags,
      STRATA_BUNDLE,
      'serve',
      '--data',
      options.dataDirectory,
      '--listen',
      `127.0.0.1:${port}`,
      '--sync',
      'always',
    ];
  } else if (contender === 'fastify-constant') {
    args = ['--import', 'tsx', ...flags, FASTIFY_CONSTANT, String(port)];
  } else {
    throw new Error(`unknown contender ${contender}`);
  }
  // stdout carries the node's JSON log lines (startup and shutdown only at level info).
  const child = spawn(process.execPath, args, {
    cwd: BENCH_DIR,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, child, exited, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const pid = child.pid as number;
  return {
    url,
    pid,
    cpuTimeMs: () => processCpuTimeMs(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${contender} exited during the run\n${stderr}`);
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const status = await exited;
      clearTimeout(timer);
      if (status !== 0) throw new Error(`${contender} exited with ${status}\n${stderr}`);
    },
  };
}

async function waitUntilReady(
  url: string,
  child: ChildProcess,
  exited: Promise<number | string>,
  stderr: () => string,
): Promise<void> {
  let exitStatus: number | string | undefined;
  void exited.then((status) => (exitStatus = status));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exitStatus !== undefined) {
      throw new Error(`server exited with ${exitStatus} before it was ready\n${stderr()}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`server pid ${child.pid} not ready after 30 s\n${stderr()}`);
}

/** A loopback port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (Linux clock ticks are 10 ms). */
function processCpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks * 10;
  } catch {
    return Number.NaN;
  }
}
