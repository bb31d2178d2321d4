import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { createTempDirectory } from './temp-directory.js';
import { findFreePort } from './free-port.js';

/** A running nats-server started by {@link startNatsServer}. */
export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The JetStream store directory (a temp dir). */
  readonly storeDirectory: string;
  /** Kills the server by PID (SIGTERM, then SIGKILL after `timeoutMs`) and removes its temp dir. */
  stop(timeoutMs?: number): Promise<void>;
  /** Kills the server with SIGKILL and keeps its store, to test restarts. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store after {@link kill}. */
  restart(): Promise<void>;
  /**
   * Freezes the server with SIGSTOP: its sockets stay open but nothing is answered (a hung or
   * partitioned server, as clients see it). Resolves once the kernel reports the process stopped
   * (a request sent before that could still be answered). {@link resume} continues it.
   */
  pause(): Promise<void>;
  /** Continues a server frozen by {@link pause} (SIGCONT). */
  resume(): void;
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Path of the binary; default: `$NATS_SERVER`, /usr/sbin/nats-server, then `nats-server` on PATH. */
  readonly binary?: string;
  /** How long to wait for the port to accept connections. Default 10 s. */
  readonly startTimeoutMs?: number;
}

/**
 * Starts a real nats-server with JetStream, bound to 127.0.0.1 on a free port with a temp store
 * directory. Stop it with `stop()`; it is killed by PID, never by name.
 *
 * @example
 * ```ts
 * const server = await startNatsServer();
 * const nc = await connect({ servers: server.url });
 * // ...
 * await nc.close();
 * await server.stop();
 * ```
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = options.binary ?? findBinary();
  const port = await findFreePort();
  const store = await createTempDirectory('strata-nats-');
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess = await launch(binary, port, store.path, startTimeoutMs);
  let exited = waitForExit(child);

  const killChild = async (signal: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // A paused server would not act on SIGTERM until continued.
    child.kill('SIGCONT');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    storeDirectory: store.path,
    async stop(timeoutMs = 5_000) {
      await killChild('SIGTERM', timeoutMs);
      await store.remove();
    },
    async kill() {
      await killChild('SIGKILL', 0);
    },
    async restart() {
      child = await launch(binary, port, store.path, startTimeoutMs);
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

function findBinary(): string {
  const fromEnvironment = process.env['NATS_SERVER'];
  if (fromEnvironment) return fromEnvironment;
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  return 'nats-server';
}

async function launch(
  binary: string,
  port: number,
  storeDirectory: string,
  timeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDirectory],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep only the end: enough to explain a failed start without holding a chatty log.
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start ${binary}: ${error.message}`)));
    child.once('exit', (code) =>
      reject(new Error(`nats-server exited with ${code} during start: ${stderr}`)),
    );
  });
  spawnError.catch(() => undefined);
  await Promise.race([waitForPort(port, timeoutMs), spawnError]);
  return child;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
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
