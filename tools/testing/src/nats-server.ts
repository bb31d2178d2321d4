import { createTempDirectory } from './temp-directory.js';
import { findFreePort } from './free-port.js';
import { findNatsBinary, startNatsProcess, waitForPort } from './nats-process.js';

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
  const port = await findFreePort();
  const store = await createTempDirectory('strata-nats-');
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const server = await startNatsProcess({
    binary: options.binary ?? findNatsBinary(),
    args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store.path],
    ready: () => waitForPort(port, startTimeoutMs),
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return server.pid;
    },
    storeDirectory: store.path,
    async stop(timeoutMs = 5_000) {
      await server.kill('SIGTERM', timeoutMs);
      await store.remove();
    },
    kill: () => server.kill('SIGKILL', 0),
    restart: () => server.restart(),
    pause: () => server.pause(),
    resume: () => server.resume(),
  };
}
