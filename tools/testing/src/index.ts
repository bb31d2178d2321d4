/**
 * @strata/testing: support for Strata's tests. Real components only: a real nats-server (or a
 * cluster of three) on 127.0.0.1, real temp directories, free ports.
 *
 * @packageDocumentation
 */
export { startNatsServer } from './nats-server.js';
export type { NatsServerHandle, NatsServerOptions } from './nats-server.js';
export { startNatsCluster } from './nats-cluster.js';
export type { NatsClusterHandle, NatsClusterMember, NatsClusterOptions } from './nats-cluster.js';
export { createTempDirectory } from './temp-directory.js';
export { findFreePort } from './free-port.js';
export { deterministicValue } from './deterministic-value.js';
export { rejectionOf } from './rejection-of.js';
export type { CodedError } from './rejection-of.js';
export { armPowerFailure } from './power-failure.js';
export type { PowerFailure } from './power-failure.js';
export { runUntilKilled } from './kill-after-ready.js';
export type { KillAfterReadyOptions } from './kill-after-ready.js';
export {
  networkNamespacesUnavailable,
  removeLeftoverNetworkLabs,
  startNetworkLab,
} from './network-namespaces.js';
export type { LabHost, NetworkLab, NetworkLabOptions } from './network-namespaces.js';
