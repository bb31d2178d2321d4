import { DiscardPolicy, RetentionPolicy, StorageType, nanos } from 'nats';
import type { JetStreamManager } from 'nats';
import { StrataError } from '@strata/core';
import type { ClusterNames } from './names.js';
import { apiErrorCode } from './stream-index.js';
import { DEFAULT_DUPLICATE_WINDOW_MS, MESSAGE_OVERHEAD_BYTES } from './settings.js';

/** Limits of the log stream (DESIGN.md: the stream may drop old history; WALs are the truth). */
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
 * Creates the cluster's log stream when missing (file storage, limits retention, discard old),
 * or updates its limits. A stream of that name with other subjects is refused.
 */
export async function ensureLogStream(
  jsm: JetStreamManager,
  names: ClusterNames,
  limits: StreamLimits,
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
    num_replicas: 1,
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
  } catch (error) {
    if (apiErrorCode(error) !== NO_STREAM) throw error;
    await jsm.streams.add(config);
  }
}
