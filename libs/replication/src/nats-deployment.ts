import type { ServerInfo } from 'nats';

/** How many JetStream servers a node's NATS connection sees, and how it knows. */
export interface NatsDeployment {
  /** JetStream servers in the deployment as far as the client can tell (at least 1). */
  readonly jetStreamServers: number;
  /** Whether the connected server is part of a NATS cluster (routes to other servers). */
  readonly clustered: boolean;
  /** One sentence saying where the count comes from, for the startup log. */
  readonly description: string;
}

/**
 * Reads the size of the NATS deployment from the connected server's INFO. A client has no
 * JetStream API that names the meta group's size (the account info holds usage and limits only;
 * `/jsz` is on the monitoring port), so the count is the cluster's client URLs that the server
 * advertises (`connect_urls`, kept up to date as routes come and go), every one taken as a
 * JetStream server. That undercounts while a server is down or when the cluster is configured
 * with `no_advertise`; callers must treat the count as a lower bound (see
 * `chooseStreamReplicas`, which never lowers an existing stream's replicas on it).
 *
 * @example
 * ```ts
 * const nc = await connect({ servers: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'] });
 * describeNatsDeployment(nc.info).jetStreamServers; // 3 once the routes are up
 * ```
 */
export function describeNatsDeployment(info: ServerInfo | undefined): NatsDeployment {
  if (info === undefined) {
    return {
      jetStreamServers: 1,
      clustered: false,
      description: 'the NATS server sent no INFO: taken as a single server',
    };
  }
  const server = info.server_name || info.server_id;
  if (!info.cluster) {
    return {
      jetStreamServers: 1,
      clustered: false,
      description: `NATS server ${server} is not clustered`,
    };
  }
  const urls = new Set(info.connect_urls ?? []);
  const servers = Math.max(1, urls.size);
  return {
    jetStreamServers: servers,
    clustered: true,
    description:
      urls.size === 0
        ? `NATS cluster ${info.cluster} advertises no client URLs (no_advertise?): taken as ${server} alone`
        : `NATS cluster ${info.cluster} advertises ${servers} server${servers === 1 ? '' : 's'} (connected to ${server})`,
  };
}
