// Settings shared by the replication benchmark's two processes.

export const MIB = 1024 * 1024;
export const CLUSTER = 'bench';
/** ReplicationNode's defaults: 1 MiB messages, 64 publishes in flight, 4096 pending appends. */
export const MAX_MESSAGE_BYTES = MIB;
export const MAX_IN_FLIGHT_MESSAGES = 64;
export const MAX_PENDING_RECORDS = 4096;
/** Messages the follower's consumer buffers ahead of the applier (ReplicationNode: 64). */
export const MAX_BUFFERED_MESSAGES = 64;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
