import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';

/** One nats-server process that can be killed, frozen and started again with the same arguments. */
export interface NatsProcess {
  /** The PID of the current process (-1 before a start). */
  readonly pid: number;
  /** True while the process has not exited. */
  readonly running: boolean;
  /** Sends `signal` (SIGKILL after `timeoutMs`) and waits for the exit; a no-op when not running. */
  kill(signal: NodeJS.Signals, timeoutMs: number): Promise<void>;
  /** Starts it again with the same arguments and waits until it is ready. */
  restart(): Promise<void>;
  /** SIGSTOP; resolves once the kernel reports the process stopped. */
  pause(): Promise<void>;
  /** SIGCONT. */
  resume(): void;
}

/** How to run and when to call one nats-server ready. */
export interface NatsProcessSpec {
  readonly binary: string;
  readonly args: readonly string[];
  /** Resolves once the server is ready; rejects after its own time bound. */
  readonly ready: () => Promise<void>;
}

/** The nats-server binary: `$NATS_SERVER`, /usr/sbin/nats-server, then `nats-server` on PATH. */
export function findNatsBinary(): string {
  const fromEnvironment = process.env['NATS_SERVER'];
  if (fromEnvironment) return fromEnvironment;
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  return 'nats-server';
}

/** Starts `spec` and waits until it is ready; the process is only ever signalled by its PID. */
export async function startNatsProcess(spec: NatsProcessSpec): Promise<NatsProcess> {
  let child = await launch(spec);
  let exited = waitForExit(child);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    get pid() {
      return child.pid ?? -1;
    },
    get running() {
      return running();
    },
    async kill(signal, timeoutMs) {
      if (!running()) return;
      // A paused server would not act on SIGTERM until continued.
      child.kill('SIGCONT');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    async restart() {
      if (running()) throw new Error(`nats-server ${child.pid} still runs: kill it first`);
      child = await launch(spec);
      exited = waitForExit(child);
    },
    async pause() {
      if (!child.kill('SIGSTOP')) throw new Error('nats-server is not running: cannot pause it');
      await waitUntilStopped(child.pid ?? -1);
    },
    resume() {
      if (!child.kill('SIGCONT')) throw new Error('nats-server is not running: cannot resume it');
    },
  };
}

async function launch(spec: NatsProcessSpec): Promise<ChildProcess> {
  const child = spawn(spec.binary, [...spec.args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the end: enough to explain a failed start without holding a chatty log.
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot start ${spec.binary}: ${error.message}`)),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`nats-server exited with ${code ?? signal} during start: ${stderr}`)),
    );
  });
  spawnError.catch(() => undefined);
  try {
    await Promise.race([spec.ready(), spawnError]);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- nats-server stderr ---\n${stderr}`);
  }
  return child;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Resolves once 127.0.0.1:`port` accepts a TCP connection; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nats-server did not accept connections on port ${port} within ${timeoutMs} ms`);
}

/** Waits until `/proc/<pid>/stat` shows the process stopped (state `T`). */
async function waitUntilStopped(pid: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state is the first field after the parenthesized command name.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    if (Date.now() > deadline)
      throw new Error(`nats-server ${pid} did not stop within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
