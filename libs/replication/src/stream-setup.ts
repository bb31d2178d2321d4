import { DiscardPolicy, RetentionPolicy, StorageType, nanos } from 'nats';
import type { JetStreamManager } from 'nats';
import { StrataError } from '@strata/core';
import type { ClusterNames } from './names.js';
import { apiErrorCode } from './stream-index.js';
import { DEFAULT_DUPLICATE_WINDOW_MS, MESSAGE_OVERHEAD_BYTES } from './settings.js';
import { ensureStreamReplicas, replicaRefusal } from './stream-replicas.js';
import type { StreamReplicas } from './stream-replicas.js';

/** Limits of the log stream (the stream may drop old history: the nodes' logs are the truth). */
export interface StreamLimits {
  /** Oldest messages are dropped beyond this size. Default: unlimited (-1). */
  readonly maxBytes?: number;
  /** Messages older than this are dropped. Default: unlimited (0). */
  readonly maxAgeMs?: number;
  /** Largest message; publishes beyond it are refused by the server. */
  readonly maxMessageBytes: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate. Default 2 min. */
  readonly duplicateWindowMs?: number;
}

const NO_STREAM = 10059;

/**
 * Creates the cluster's log stream when missing (file storage, limits retention, discard old,
 * `replicas` replicas), or updates its limits and replica count. A stream of that name with other
 * subjects is refused (INVALID_ARGUMENT), and so is a replica count JetStream cannot place
 * (INVALID_ARGUMENT with `details.natsErrorCode`, see `replicaRefusal`).
 *
 * @example
 * ```ts
 * await ensureLogStream(await nc.jetstreamManager(), clusterNames('demo'), {
 *   maxMessageBytes: 1024 * 1024,
 * }, 3);
 * ```
 */
export async function ensureLogStream(
  jsm: JetStreamManager,
  names: ClusterNames,
  limits: StreamLimits,
  replicas: StreamReplicas = 1,
): Promise<void> {
  return ensureLogStreamOnce(jsm, names, limits, replicas, false);
}

async function ensureLogStreamOnce(
  jsm: JetStreamManager,
  names: ClusterNames,
  limits: StreamLimits,
  replicas: StreamReplicas,
  createdMeanwhile: boolean,
): Promise<void> {
  const config = {
    name: names.stream,
    subjects: [names.logSubject],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: limits.maxBytes ?? -1,
    max_age: nanos(limits.maxAgeMs ?? 0),
    max_msg_size: limits.maxMessageBytes + MESSAGE_OVERHEAD_BYTES,
    duplicate_window: nanos(limits.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  };
  try {
    const info = await jsm.streams.info(names.stream);
    const subjects = info.config.subjects ?? [];
    if (subjects.length !== 1 || subjects[0] !== names.logSubject) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        `stream ${names.stream} exists with subjects ${subjects.join(', ')}, not ${names.logSubject}`,
      );
    }
    if (
      info.config.max_bytes !== config.max_bytes ||
      info.config.max_age !== config.max_age ||
      info.config.max_msg_size !== config.max_msg_size
    ) {
      await jsm.streams.update(names.stream, {
        max_bytes: config.max_bytes,
        max_age: config.max_age,
        max_msg_size: config.max_msg_size,
      });
    }
    await ensureStreamReplicas(jsm, names.stream, replicas, info);
  } catch (error) {
    if (apiErrorCode(error) !== NO_STREAM) throw error;
    try {
      await jsm.streams.add(config);
    } catch (refused) {
      // Nodes of a new cluster start together: another one may have created the stream between
      // the lookup and this create (NATS then refuses it, "subjects overlap with an existing
      // stream" when the configurations differ in a detail). That stream is checked as any
      // existing one; only a create that fails with no stream there is an error.
      if (!createdMeanwhile && (await streamExists(jsm, names.stream))) {
        return ensureLogStreamOnce(jsm, names, limits, replicas, true);
      }
      throw replicaRefusal(refused, names.stream, replicas);
    }
  }
}

async function streamExists(jsm: JetStreamManager, stream: string): Promise<boolean> {
  try {
    await jsm.streams.info(stream);
    return true;
  } catch {
    return false;
  }
}

/** The JetStream stream behind the cluster's lease bucket (nats.js names a KV stream `KV_<bucket>`). */
export function leaseStreamName(names: ClusterNames): string {
  return `KV_${names.leaseBucket}`;
}

/**
 * Gives the lease bucket's stream `replicas` replicas when it has another count (nats.js creates
 * a missing bucket with the replicas it is asked for, but leaves an existing one as it is).
 */
export async function ensureLeaseReplicas(
  jsm: JetStreamManager,
  names: ClusterNames,
  replicas: StreamReplicas,
): Promise<void> {
  await ensureStreamReplicas(jsm, leaseStreamName(names), replicas);
}

/** The replica count of `stream`, or undefined when it does not exist. */
export async function existingReplicas(
  jsm: JetStreamManager,
  stream: string,
): Promise<number | undefined> {
  try {
    return (await jsm.streams.info(stream)).config.num_replicas;
  } catch (error) {
    if (apiErrorCode(error) === NO_STREAM) return undefined;
    throw error;
  }
}
