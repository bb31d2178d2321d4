import { StrataError } from '@strata/core';

/**
 * The NATS names of one Strata cluster (docs/ARCHITECTURE.md, "The replicated write path"): the stream that
 * carries the log, the subjects, the lease bucket.
 */
export interface ClusterNames {
  readonly cluster: string;
  /** JetStream stream `STRATA_<cluster>`. */
  readonly stream: string;
  /** Subject of log messages, `strata.<cluster>.log`. */
  readonly logSubject: string;
  /** Core-NATS subject prefix of node status messages, `strata.<cluster>.status.<nodeId>`. */
  readonly statusSubjectPrefix: string;
  /** Request subject the leader answers to hand leadership over (`strata promote`). */
  readonly handoffSubject: string;
  /** JetStream KV bucket holding the leader lease. */
  readonly leaseBucket: string;
}

const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The names for `cluster`; cluster names are 1-64 of `A-Z a-z 0-9 _ -` (they appear in stream,
 * subject and bucket names).
 *
 * @example
 * ```ts
 * clusterNames('demo').logSubject; // 'strata.demo.log'
 * ```
 */
export function clusterNames(cluster: string): ClusterNames {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `cluster name ${JSON.stringify(cluster)} must be 1-64 characters of A-Z a-z 0-9 _ -`,
    );
  }
  return {
    cluster,
    stream: `STRATA_${cluster}`,
    logSubject: `strata.${cluster}.log`,
    statusSubjectPrefix: `strata.${cluster}.status`,
    handoffSubject: `strata.${cluster}.handoff`,
    leaseBucket: `STRATA_${cluster}_lease`,
  };
}

/** Header names of log messages. `Nats-Msg-Id` is `<epoch>:<first_seqno>`. */
export const LOG_HEADERS = {
  messageId: 'Nats-Msg-Id',
  /** Seqno of the last entry in the message, so a reader can place a message without decoding it. */
  lastSeqno: 'Strata-Last-Seqno',
  /**
   * `<k>/<n>` on the n consecutive messages that carry one record larger than a message (their
   * `Nats-Msg-Id` ends in `:<k>`); absent on messages of whole records.
   */
  part: 'Strata-Part',
} as const;

/** Parses a `Strata-Part` header value `<k>/<n>` (1 <= k <= n); undefined when absent or malformed. */
export function parsePartHeader(
  value: string | undefined,
): { part: number; parts: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^(\d{1,6})\/(\d{1,6})$/.exec(value);
  if (!match) return undefined;
  const part = Number(match[1]);
  const parts = Number(match[2]);
  return part >= 1 && part <= parts && parts >= 2 ? { part, parts } : undefined;
}

/** The `Nats-Msg-Id` of a message whose first record starts at `firstSeqno`. */
export function logMessageId(epoch: number, firstSeqno: number): string {
  return `${epoch}:${firstSeqno}`;
}

/** Parses `<epoch>:<first_seqno>` (or `<epoch>:<first_seqno>:<part>`); undefined when malformed. */
export function parseLogMessageId(
  id: string | undefined,
): { epoch: number; firstSeqno: number } | undefined {
  if (id === undefined) return undefined;
  const match = /^(\d{1,15}):(\d{1,15})(?::\d{1,6})?$/.exec(id);
  if (!match) return undefined;
  return { epoch: Number(match[1]), firstSeqno: Number(match[2]) };
}
