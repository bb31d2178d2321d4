import type { JetStreamManager, StreamInfo } from 'nats';
import { StrataError } from '@strata/core';
import type { NatsDeployment } from './nats-deployment.js';
import { apiErrorCode } from './stream-index.js';
import { STREAM_REPLICA_CHANGE_TIMEOUT_MS, STREAM_REPLICA_POLL_MS } from './settings.js';

/** Replica counts a Strata stream may have: JetStream Raft groups of 1, 3 or 5 servers. */
export type StreamReplicas = 1 | 3 | 5;

/** The replica counts {@link StreamReplicas} allows, for option parsers. */
export const STREAM_REPLICA_CHOICES: readonly StreamReplicas[] = [1, 3, 5];

/** Servers a deployment needs before the default becomes R3. */
const DEFAULT_R3_MIN_SERVERS = 3;

/** The replica count chosen for the cluster's streams, and why (logged at startup). */
export interface ReplicaChoice {
  readonly replicas: StreamReplicas;
  readonly reason: string;
}

/**
 * Picks the replica count of the log stream and the lease bucket. An explicit `requested` wins
 * (refused with INVALID_ARGUMENT above 1 when the server is not clustered: JetStream would refuse
 * to create it, and silently accepts an update it cannot place). Otherwise 3 when the deployment
 * shows at least 3 JetStream servers, else 1; but never below `existingReplicas`, because the
 * server count is only a lower bound (a node restarted while a NATS server is down must not
 * shrink an R3 stream to R1).
 *
 * @example
 * ```ts
 * chooseStreamReplicas({ deployment: describeNatsDeployment(nc.info) });
 * // { replicas: 3, reason: 'default: NATS cluster c advertises 3 servers ...' }
 * ```
 */
export function chooseStreamReplicas(input: {
  readonly requested?: StreamReplicas | undefined;
  readonly deployment: NatsDeployment;
  readonly existingReplicas?: number | undefined;
}): ReplicaChoice {
  const { requested, deployment, existingReplicas } = input;
  if (requested !== undefined) {
    if (!STREAM_REPLICA_CHOICES.includes(requested)) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `stream replicas must be 1, 3 or 5, not ${String(requested)}`,
        { details: { requestedReplicas: requested } },
      );
    }
    if (requested > 1 && !deployment.clustered) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `stream replicas ${requested} need a NATS cluster of at least ${requested} JetStream servers: ${deployment.description}`,
        {
          details: { requestedReplicas: requested, jetStreamServers: deployment.jetStreamServers },
        },
      );
    }
    return { replicas: requested, reason: `asked for ${requested} (${deployment.description})` };
  }
  const byServers: StreamReplicas = deployment.jetStreamServers >= DEFAULT_R3_MIN_SERVERS ? 3 : 1;
  if (existingReplicas !== undefined && existingReplicas > byServers) {
    const kept = STREAM_REPLICA_CHOICES.includes(existingReplicas as StreamReplicas)
      ? (existingReplicas as StreamReplicas)
      : 5;
    return {
      replicas: kept,
      reason: `default: the stream already has ${existingReplicas} replicas and the default never lowers them (${deployment.description}); ask for fewer explicitly to shrink it`,
    };
  }
  return {
    replicas: byServers,
    reason:
      byServers === 3
        ? `default: ${deployment.description}, at least ${DEFAULT_R3_MIN_SERVERS}`
        : `default: ${deployment.description}, fewer than ${DEFAULT_R3_MIN_SERVERS}`,
  };
}

/**
 * The JetStream errors that mean "cannot place or change these replicas": no suitable peers for
 * placement (10005), insufficient resources (10023), replicas not updatable (10061, older
 * servers), replicas above one in non-clustered mode (10074).
 */
const PLACEMENT_ERROR_CODES = new Set([10005, 10023, 10061, 10074]);

/**
 * Turns JetStream's refusal to create or resize `stream` to `replicas` into a StrataError
 * INVALID_ARGUMENT naming the stream, the counts and JetStream's own code and text; any other
 * error is returned as is.
 */
export function replicaRefusal(
  error: unknown,
  stream: string,
  replicas: number,
  currentReplicas?: number,
): unknown {
  const code = apiErrorCode(error);
  if (code === undefined) return error;
  const description = (error as { api_error?: { description?: string } }).api_error?.description;
  if (!PLACEMENT_ERROR_CODES.has(code) && !/replica|peer|placement/i.test(description ?? ''))
    return error;
  const what =
    currentReplicas === undefined
      ? `create stream ${stream} with ${replicas} replicas`
      : `change stream ${stream} from ${currentReplicas} to ${replicas} replicas`;
  return new StrataError(
    'INVALID_ARGUMENT',
    `JetStream refused to ${what}: ${description ?? String(error)} (JetStream error ${code}); ` +
      `a stream of ${replicas} replicas needs ${replicas} JetStream servers with room for it; ask for fewer replicas or add servers`,
    {
      details: {
        stream,
        requestedReplicas: replicas,
        ...(currentReplicas !== undefined ? { currentReplicas } : {}),
        natsErrorCode: code,
      },
    },
  );
}

/**
 * Makes the existing `stream` have `replicas` replicas: updates `num_replicas` when it differs
 * (JetStream adds or removes peers and copies the data in the background) and then waits until
 * the stream has a leader again, so that the node's first requests do not race the change. A
 * refusal is a StrataError INVALID_ARGUMENT ({@link replicaRefusal}); a stream without a leader
 * after `timeoutMs` is a StrataError TIMEOUT. Returns the replica count it had before.
 */
export async function ensureStreamReplicas(
  jsm: JetStreamManager,
  stream: string,
  replicas: StreamReplicas,
  info?: StreamInfo,
  timeoutMs = STREAM_REPLICA_CHANGE_TIMEOUT_MS,
): Promise<number> {
  const current = (info ?? (await jsm.streams.info(stream))).config.num_replicas;
  if (current === replicas) return current;
  try {
    await jsm.streams.update(stream, { num_replicas: replicas });
  } catch (error) {
    throw replicaRefusal(error, stream, replicas, current);
  }
  await waitForStreamLeader(jsm, stream, timeoutMs);
  return current;
}

/** Polls the stream's info until it names a leader (or is not clustered at all). */
async function waitForStreamLeader(
  jsm: JetStreamManager,
  stream: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const info = await jsm.streams.info(stream);
      if (info.cluster === undefined || info.cluster.leader) return;
      last = 'no leader yet';
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new StrataError(
        'TIMEOUT',
        `stream ${stream} has no leader ${timeoutMs} ms after its replicas changed (${last})`,
        { details: { stream } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, STREAM_REPLICA_POLL_MS));
  }
}
