/**
 * Every timing constant and default of replication in one place, each named with its unit and
 * with the reason for its value. A node's options override the `DEFAULT_` ones; the others are
 * fixed.
 *
 * @module
 */

const MIB = 1024 * 1024;

// ------------------------------------------------------------------ node options (defaults)

/** Nodes in the cluster when not given: the smallest cluster that survives losing one node. */
export const DEFAULT_CLUSTER_SIZE = 3;
/** Lease time to live: a dead leader is replaced within about this long, a slow one is not. */
export const DEFAULT_LEASE_TTL_MS = 3_000;
/** Steady status interval: peers and `acks=quorum` see a quiet node's progress this often. */
export const DEFAULT_STATUS_INTERVAL_MS = 1_000;
/** Records are packed into messages up to this size: the server's default `max_payload`. */
export const DEFAULT_MAX_MESSAGE_BYTES = MIB;
/** Publishes in flight, at most: enough to hide a round trip, few enough to bound a resend. */
export const DEFAULT_MAX_IN_FLIGHT_MESSAGES = 64;
/** How long an `acks=quorum` write waits for a majority before it fails with `TIMEOUT`. */
export const DEFAULT_QUORUM_TIMEOUT_MS = 10_000;
/**
 * Default bound on the entries a leader holds beyond its quorum: about ten seconds of a busy
 * node's single writes, far above the few milliseconds followers lag when healthy, so only a
 * leader cut off from its followers reaches it.
 */
export const DEFAULT_MAX_UNREPLICATED_ENTRIES = 100_000;
/** Default bound in bytes: one largest batch (64 MiB) fits, a second does not. */
export const DEFAULT_MAX_UNREPLICATED_BYTES = 64 * MIB;
/** How long `promote` waits for the leader's answer and then for this node to lead. */
export const DEFAULT_PROMOTE_TIMEOUT_MS = 30_000;

/**
 * Pause between reconnect attempts to one NATS server: short, so a node moves to another server
 * of the cluster within a second of losing its own, and the leader's lease rounds go on.
 */
export const NATS_RECONNECT_WAIT_MS = 250;
/**
 * A node pings its NATS server this often and leaves it after {@link NATS_MAX_PINGS_OUT}
 * unanswered pings (in about three intervals). A server cut off by the network sends no reset:
 * with nats.js's default (2 minutes, so 4 to 6 minutes) a follower stayed on a partitioned-away
 * server and the cluster lost its quorum for minutes (partition suite, NATS split 1/2).
 */
export const NATS_PING_INTERVAL_MS = 2_000;
/** Unanswered pings after which the connection is dropped and another server tried. */
export const NATS_MAX_PINGS_OUT = 2;
/**
 * Longest wait for one server to accept a connection and greet: a partitioned-away server
 * drops the attempt silently, and nats.js's default (20 s) spent on it delays the move to a
 * live server by as much; a live server greets in milliseconds.
 */
export const NATS_CONNECT_TIMEOUT_MS = 2_000;

// ------------------------------------------------------------------ messages and the stream

/** Largest record a follower assembles: above the node's largest batch (64 MiB) plus framing. */
export const MAX_RECORD_BYTES = 80 * MIB;
/** Room kept below the server's `max_payload` for a message's headers and subject. */
export const MESSAGE_HEADER_ROOM_BYTES = 16 * 1024;
/**
 * What the stream and a follower accept beyond `maxMessageBytes`: headers and the subject ride
 * along with the data.
 */
export const MESSAGE_OVERHEAD_BYTES = 4096;
/** Window in which the stream drops a repeated `Nats-Msg-Id`: far longer than any resend. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
/** Attempts of a stream request that times out before it fails with `TIMEOUT`. */
export const DEFAULT_STREAM_REQUEST_ATTEMPTS = 3;
/**
 * How long a node waits at startup for its stream to have a leader again after it changed the
 * stream's replicas: a Raft election takes seconds, a stream that cannot elect is a failed start.
 */
export const STREAM_REPLICA_CHANGE_TIMEOUT_MS = 30_000;
/** Poll interval of that wait: a stream info request is cheap, an election takes seconds. */
export const STREAM_REPLICA_POLL_MS = 100;

// ------------------------------------------------------------------ leader and follower loops

/** A publish not acknowledged in this long is retried after a resync of the stream's tail. */
export const PUBLISH_TIMEOUT_MS = 5_000;
/** Pause before the publisher or the follower retries after an error: no tight error loop. */
export const RETRY_DELAY_MS = 250;
/** Life of one follower pull: short, with heartbeats, so a restarted server is seen in seconds. */
export const FOLLOWER_PULL_EXPIRES_MS = 5_000;
/**
 * A follower that received nothing for this long asks whether its consumer still exists (on a
 * NATS cluster it dies with the server it lived on, and nothing says so): about two missed
 * heartbeats of a pull, so a lost consumer is replaced within seconds.
 */
export const FOLLOWER_CONSUMER_CHECK_MS = 5_000;
/**
 * Longest a follower waits for a new consumer to be created before it tries another: two pull
 * expiries, far above a healthy create (milliseconds), far below nats.js's own retries (minutes).
 */
export const FOLLOWER_CONSUMER_START_TIMEOUT_MS = 10_000;
/** Records a follower has appended and awaits the fsync of together. */
export const FOLLOWER_MAX_PENDING_RECORDS = 4096;
/** Messages a follower buffers: at most 64 MiB with 1 MiB messages. */
export const FOLLOWER_MAX_BUFFERED_MESSAGES = 64;

// ------------------------------------------------------------------ role loop and hand-over

/** Lease rounds (renew or campaign) per lease time to live: two can fail before it expires. */
export const LEASE_ROUNDS_PER_TTL = 3;
/**
 * A leader that has not renewed for this share of the lease's time to live steps down: another
 * node may take the lease soon, and two leaders must not both take writes.
 */
export const LEASE_STEP_DOWN_FRACTION = 0.8;
/** How long a leader waits for the target of a hand-over to apply its whole log. */
export const HAND_OVER_CATCH_UP_TIMEOUT_MS = 20_000;
/** Poll interval while a hand-over waits (the target's progress, this node's new role). */
export const HAND_OVER_POLL_MS = 20;

// ------------------------------------------------------------------ placement, cut-back, bootstrap

/** A follower records where it is in the stream this often: the mapping only speeds up a restart. */
export const POSITION_RECORD_INTERVAL_MS = 1_000;
/** Messages read from a remembered stream position before falling back to the binary search. */
export const REMEMBERED_POSITION_SCAN_MESSAGES = 64;
/** Steps a cut-back walks back looking for the common prefix before it bootstraps instead. */
export const CUT_BACK_MAX_STEPS = 10_000;
/**
 * Longest wait of a checkpoint download for the leader's headers, then for each next piece: a
 * large checkpoint may take long, a stalled one may not.
 */
export const DEFAULT_CHECKPOINT_FETCH_TIMEOUT_MS = 30_000;
/** How long a bootstrap waits for a leader to copy from before it fails with `TIMEOUT`. */
export const BOOTSTRAP_LEADER_WAIT_MS = 60_000;

// ------------------------------------------------------------------ peers

/** A peer's unchanged status is written to the metadata at most this often (its role at once). */
export const PEER_RECORD_INTERVAL_MS = 5_000;
