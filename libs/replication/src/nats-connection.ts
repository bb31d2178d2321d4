import { connect } from 'nats';
import type { NatsConnection } from 'nats';
import { StrataError } from '@strata/core';
import {
  NATS_CONNECT_TIMEOUT_MS,
  NATS_MAX_PINGS_OUT,
  NATS_PING_INTERVAL_MS,
  NATS_RECONNECT_WAIT_MS,
} from './settings.js';

/**
 * The server URLs of a `--nats` value: comma-separated, blanks around and empty entries (a
 * trailing comma) ignored. None at all is INVALID_ARGUMENT.
 *
 * @example
 * ```ts
 * natsServerList('nats://a:4222, nats://b:4222,'); // ['nats://a:4222', 'nats://b:4222']
 * ```
 */
export function natsServerList(urls: string): string[] {
  const servers = urls
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
  if (servers.length === 0) {
    throw new StrataError('INVALID_ARGUMENT', `no NATS server URL in "${urls}"`);
  }
  return servers;
}

/**
 * Connects a node to NATS. Every listed server is a candidate (nats.js also learns the rest of a
 * NATS cluster from the servers' INFO), tried in a random order so that nodes spread over the
 * cluster. The connection never gives up reconnecting (`maxReconnectAttempts: -1`): without NATS
 * a node can neither lead nor follow, and it must come back by itself once any server answers;
 * {@link NATS_RECONNECT_WAIT_MS} between attempts on one server keeps a failover short. A
 * server that stops answering without closing the connection (a network partition, a frozen
 * process) is left after {@link NATS_MAX_PINGS_OUT} pings every {@link NATS_PING_INTERVAL_MS},
 * and one that does not greet within {@link NATS_CONNECT_TIMEOUT_MS} is passed over.
 *
 * @example
 * ```ts
 * const nc = await connectToNats('nats://a:4222,nats://b:4222,nats://c:4222', 'strata-n1');
 * ```
 */
export function connectToNats(
  servers: string | readonly string[],
  name: string,
): Promise<NatsConnection> {
  return connect({
    servers: typeof servers === 'string' ? natsServerList(servers) : [...servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    pingInterval: NATS_PING_INTERVAL_MS,
    maxPingOut: NATS_MAX_PINGS_OUT,
    timeout: NATS_CONNECT_TIMEOUT_MS,
  });
}
