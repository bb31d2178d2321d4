import { StringCodec } from 'nats';
import type { NatsConnection, Subscription } from 'nats';

/** What every node publishes about itself at a steady interval (and a follower after applying). */
export interface NodeStatus {
  readonly nodeId: string;
  readonly url: string;
  readonly role: NodeRole;
  readonly epoch: number;
  readonly appliedSeqno: number;
  readonly durableSeqno: number;
  /** Seqnos behind the stream's last message, as this node last saw it. */
  readonly lagSeqnos: number;
  readonly atMs: number;
}

/** A node's part in the cluster right now. */
export type NodeRole = 'leader' | 'follower' | 'candidate';

const codec = StringCodec();

/** Publishes this node's status on `subject` (core NATS: a lost status is replaced by the next). */
export function publishStatus(nc: NatsConnection, subject: string, status: NodeStatus): void {
  if (nc.isClosed()) return;
  nc.publish(subject, codec.encode(JSON.stringify(status)));
}

/** Calls `onStatus` for every well-formed status published on `subject`; returns the subscription. */
export function subscribeStatus(
  nc: NatsConnection,
  subject: string,
  onStatus: (status: NodeStatus) => void,
): Subscription {
  return nc.subscribe(subject, {
    callback: (error, message) => {
      if (error) return;
      try {
        const status = JSON.parse(codec.decode(message.data)) as NodeStatus;
        if (
          typeof status.nodeId === 'string' &&
          Number.isSafeInteger(status.durableSeqno) &&
          Number.isSafeInteger(status.epoch)
        )
          onStatus(status);
      } catch {
        // Not a status message: ignored.
      }
    },
  });
}
