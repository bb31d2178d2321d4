import { findFreePort } from './free-port.js';
import type { NatsServerHandle } from './nats-server.js';
import { findNatsBinary, startNatsProcess, waitForPort } from './nats-process.js';
import type { NatsProcess } from './nats-process.js';
import { createTempDirectory } from './temp-directory.js';

/** One server of a cluster started by {@link startNatsCluster}. */
export interface NatsClusterMember extends NatsServerHandle {
  /** Its server name: what JetStream names as a stream's leader or replica. */
  readonly name: string;
  /** The route port the other servers connect to. */
  readonly clusterPort: number;
  /** `http://127.0.0.1:<port>` of its monitoring endpoints (`/healthz`, `/jsz`, `/connz`). */
  readonly monitorUrl: string;
  /** True while its process has not exited. */
  readonly running: boolean;
}

/** A running NATS cluster started by {@link startNatsCluster}. */
export interface NatsClusterHandle {
  /** The cluster's name (`--cluster_name`). */
  readonly name: string;
  readonly servers: readonly NatsClusterMember[];
  /** Every server's client URL. */
  readonly urls: readonly string[];
  /** The same URLs comma-separated, as `strata serve --nats` takes them. */
  readonly url: string;
  /** The member named `name` (a stream leader's name, say); throws for an unknown name. */
  member(name: string): NatsClusterMember;
  /**
   * Waits until every running server answers `/healthz` with ok (JetStream enabled and current)
   * and names the same JetStream meta leader in `/jsz`.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every server by PID (SIGTERM, SIGKILL after `timeoutMs`) and removes their stores. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /** Servers in the cluster. Default 3. */
  readonly size?: number;
  /** Path of the binary; default as {@link startNatsServer}. */
  readonly binary?: string;
  /** How long each server may take to be ready, and the cluster to be healthy. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/** What `/jsz` tells about the JetStream meta group. */
interface JszAnswer {
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number };
}

/**
 * Starts a NATS cluster with JetStream on 127.0.0.1: `size` servers (`nats-1`, `nats-2`, ...),
 * each with a free client, route and monitoring port and a temp store directory, routed to each
 * other; resolves once every server is healthy and they agree on a JetStream meta leader. Servers
 * are killed by PID, never by name; {@link NatsClusterMember.kill} keeps a member's store and
 * ports so that {@link NatsClusterMember.restart} brings the same server back (it resolves once
 * that server is back in the cluster, current with the JetStream meta group and naming its
 * leader, which needs a majority of the cluster running; its stream replicas may still be
 * catching up: a test waits for what it needs from them, such as writes being acknowledged).
 *
 * @example
 * ```ts
 * const cluster = await startNatsCluster();
 * const nc = await connect({ servers: [...cluster.urls] });
 * const leader = (await (await nc.jetstreamManager()).streams.info('S')).cluster?.leader;
 * await cluster.member(leader!).kill();
 * // ...
 * await nc.close();
 * await cluster.stop();
 * ```
 */
export async function startNatsCluster(
  options: NatsClusterOptions = {},
): Promise<NatsClusterHandle> {
  const size = options.size ?? 3;
  const binary = options.binary ?? findNatsBinary();
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const clusterName = `strata-test-${process.pid}-${clusterCounter++}`;
  const ports = await distinctFreePorts(size * 3);
  const plans = Array.from({ length: size }, (_, index) => ({
    name: `nats-${index + 1}`,
    port: ports[index * 3]!,
    clusterPort: ports[index * 3 + 1]!,
    monitorPort: ports[index * 3 + 2]!,
  }));
  const members: NatsClusterMember[] = [];
  const stopAll = async (timeoutMs = 5_000): Promise<void> => {
    await Promise.all(members.map((member) => member.stop(timeoutMs)));
  };
  try {
    // All at once: a clustered JetStream server waits for its routes before it is healthy.
    const started = await Promise.all(
      plans.map(async (plan) => {
        const store = await createTempDirectory(`strata-${plan.name}-`);
        const routes = plans
          .filter((other) => other !== plan)
          .map((other) => `nats://127.0.0.1:${other.clusterPort}`)
          .join(',');
        const monitorUrl = `http://127.0.0.1:${plan.monitorPort}`;
        let nats: NatsProcess | undefined;
        try {
          nats = await startNatsProcess({
            binary,
            // prettier-ignore
            args: [
              '-a', '127.0.0.1', '-p', String(plan.port), '-n', plan.name,
              '-js', '-sd', store.path, '-m', String(plan.monitorPort),
              '--cluster_name', clusterName,
              '--cluster', `nats://127.0.0.1:${plan.clusterPort}`,
              '--routes', routes,
            ],
            ready: () => waitForPort(plan.port, startTimeoutMs),
          });
        } catch (error) {
          await store.remove();
          throw error;
        }
        const server = nats;
        const member: NatsClusterMember = {
          name: plan.name,
          url: `nats://127.0.0.1:${plan.port}`,
          port: plan.port,
          clusterPort: plan.clusterPort,
          monitorUrl,
          storeDirectory: store.path,
          get pid() {
            return server.pid;
          },
          get running() {
            return server.running;
          },
          async stop(timeoutMs = 5_000) {
            await server.kill('SIGTERM', timeoutMs);
            await store.remove();
          },
          kill: () => server.kill('SIGKILL', 0),
          async restart() {
            await server.restart();
            // Not every stream replica on it current: after an outage nats-server 2.9 took more
            // than 30 s to call a restarted R3 replica current on a loaded machine (CI), while
            // the test only needs the writes it waits for (with its own bound) to go through.
            await waitForHealthy([member], startTimeoutMs, undefined, 'server-only');
          },
          pause: () => server.pause(),
          resume: () => server.resume(),
        };
        members.push(member);
        return member;
      }),
    );
    const servers = plans.map((plan) => started.find((member) => member.name === plan.name)!);
    await waitForHealthy(servers, startTimeoutMs, size);
    const urls = servers.map((member) => member.url);
    return {
      name: clusterName,
      servers,
      urls,
      url: urls.join(','),
      member(name) {
        const found = servers.find((member) => member.name === name);
        if (found === undefined) throw new Error(`no NATS server named ${name} in ${clusterName}`);
        return found;
      },
      waitUntilHealthy: (timeoutMs = startTimeoutMs) =>
        waitForHealthy(
          servers.filter((member) => member.running),
          timeoutMs,
        ),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

let clusterCounter = 0;

/**
 * Polls each server's `/healthz` and `/jsz` until all are ok and name one meta leader (and, when
 * `metaSize` is given, a meta group of that size). `scope` `'server-only'` asks `/healthz` about
 * the server's JetStream and its place in the meta group only, not about every stream and
 * consumer replica it holds.
 */
async function waitForHealthy(
  servers: readonly NatsClusterMember[],
  timeoutMs: number,
  metaSize?: number,
  scope: 'all' | 'server-only' = 'all',
): Promise<void> {
  const healthz = scope === 'server-only' ? '/healthz?js-server-only=true' : '/healthz';
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const leaders = new Set<string>();
      let healthy = true;
      for (const member of servers) {
        const health = await fetch(`${member.monitorUrl}${healthz}`);
        const body = await health.text();
        if (health.status !== 200) {
          last = `${member.name} /healthz: ${health.status} ${body}`;
          healthy = false;
          break;
        }
        const jsz = (await (await fetch(`${member.monitorUrl}/jsz`)).json()) as JszAnswer;
        const meta = jsz.meta_cluster;
        if (!meta?.leader || (metaSize !== undefined && meta.cluster_size !== metaSize)) {
          last = `${member.name} /jsz meta_cluster: ${JSON.stringify(meta)}`;
          healthy = false;
          break;
        }
        leaders.add(meta.leader);
      }
      if (healthy && leaders.size === 1) return;
      if (healthy) last = `the servers name different meta leaders: ${[...leaders].join(', ')}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`NATS cluster not healthy within ${timeoutMs} ms: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `count` free ports, all different (the OS may hand the same free port out twice in a row). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePort());
  return [...ports];
}
