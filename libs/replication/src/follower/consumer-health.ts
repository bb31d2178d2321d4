import type { ConsumerMessages } from 'nats';
import { FOLLOWER_CONSUMER_CHECK_MS } from '../settings.js';
import { errorMessage } from '../timing.js';

/**
 * Keeping a follower's ordered consumer alive on a NATS cluster, where nats.js alone can wait
 * forever: a bound on creating one, and a watchdog for one that died with its server.
 *
 * @module
 */

/**
 * Waits for an ordered consumer's first consumer to be created, at most `timeoutMs` (or until
 * `signal` aborts). nats.js retries the create itself, up to 30 times with a pull expiry between
 * tries: in a JetStream cluster that lost its quorum and got it back, a create can be assigned to
 * a server that is still down and never answered (seen: minutes), while a new consumer under
 * another name is created at once. A late consumer is stopped as soon as it arrives.
 */
export async function startWithin(
  starting: Promise<ConsumerMessages>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ConsumerMessages> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const given = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the log consumer was not created within ${timeoutMs} ms`)),
      timeoutMs,
    );
    onAbort = () => reject(new Error('the follower stopped'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([starting, given]);
  } catch (error) {
    starting.then(
      (late) => stopForGood(late),
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** A pull nats.js binds to an ordered consumer's messages (the part {@link stopForGood} uses). */
interface BoundPull {
  stop(): void;
  /** The consumer the pull reads (nats.js 2.x), which the server would keep for its 5-minute inactivity threshold. */
  readonly consumer?: { delete?: () => Promise<unknown> };
}

/**
 * Stops an ordered consumer's messages for good. Stopping alone is not enough with nats.js 2.x:
 * after an ordered reset it re-creates the consumer in the background, retrying the create until
 * it succeeds, and then binds the new pull to the same messages object whether or not that was
 * stopped meanwhile (`setSource`). The pull then goes on fetching the stream into an iterator
 * nobody reads, and keeps its consumer active on the server, for as long as the connection lives.
 * After this call such a late pull is stopped as soon as it is bound, its consumer is deleted on
 * the server, and `onLatePull` is told. A client without `setSource` gets the plain stop.
 */
export function stopForGood(messages: ConsumerMessages, onLatePull?: () => void): void {
  const ordered = messages as unknown as { setSource?: (pull: BoundPull) => void };
  if (typeof ordered.setSource === 'function') {
    ordered.setSource = (pull: BoundPull): void => {
      pull.stop();
      pull.consumer?.delete?.().catch(() => undefined);
      onLatePull?.();
    };
  }
  messages.stop();
}

/** What the watchdog reads of a consumer's info. */
export interface ConsumerProgress {
  /** Messages the consumer has yet to deliver. */
  readonly num_pending?: number;
}

/**
 * Notices an ordered consumer that is gone for good or stalled, and ends its messages so that the
 * follower makes a new one. nats.js recreates an ordered consumer that the server reports deleted
 * or not found, but in a JetStream cluster the consumer (one replica, in memory) lives on one
 * server: when that server dies, a consumer info request goes unanswered instead, and nats.js
 * retries it forever while nothing arrives. So after a period without a message the watchdog asks
 * for the consumer's info itself, and gives the consumer up when:
 * - the answer fails or does not come within the period (a timeout, no responders, not found);
 * - messages are pending, yet none arrived for two periods in a row. Pending is what the consumer
 *   says, or else what the stream says (`streamAhead`: log messages the stream holds past the
 *   last one the follower handled). The second is needed because the consumer's own figure can be
 *   0 while the follower waits: nats.js re-creates an ordered consumer under the same name after
 *   a reset, a create the JetStream cluster may leave unanswered for minutes, and meanwhile the old
 *   consumer (which delivered everything it had) answers its info. Both were seen in a partition
 *   test: both followers stayed one to three messages behind the stream after a cluster route
 *   stalled, with no consumer restart, and being behind, neither campaigned for the lease.
 * A stream that cannot answer does not count as pending. An idle stream costs one consumer info
 * and one stream probe per period.
 */
export class ConsumerWatchdog {
  /** Why the consumer was given up, once it was. */
  unreachable: string | undefined;
  private lastDeliveryMs = performance.now();
  private checking = false;
  /** Checks in a row that found messages pending and none delivered. */
  private stalledChecks = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly info: () => Promise<ConsumerProgress>,
    /** Stops the consumer's messages (for good: {@link stopForGood}). */
    private readonly stopMessages: () => void,
    private readonly checkMs: number = FOLLOWER_CONSUMER_CHECK_MS,
    private readonly streamAhead?: () => Promise<number>,
  ) {
    this.timer = setInterval(() => void this.check(), checkMs);
  }

  /** A message arrived: the consumer is alive. */
  delivered(): void {
    this.lastDeliveryMs = performance.now();
    this.stalledChecks = 0;
  }

  /** Ends the checks (the consumer's messages ended). */
  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.checking || this.unreachable !== undefined) return;
    if (performance.now() - this.lastDeliveryMs < this.checkMs) return;
    this.checking = true;
    const deliveredBefore = this.lastDeliveryMs;
    try {
      let pending: number;
      try {
        pending = (await this.withinPeriod(this.info(), 'consumer info')).num_pending ?? 0;
      } catch (error) {
        this.giveUp(errorMessage(error));
        return;
      }
      if (pending === 0 && this.streamAhead !== undefined) {
        pending = await this.withinPeriod(this.streamAhead(), 'stream probe').catch(() => 0);
      }
      const stalled = pending > 0 && this.lastDeliveryMs === deliveredBefore;
      this.stalledChecks = stalled ? this.stalledChecks + 1 : 0;
      if (this.stalledChecks >= 2) this.giveUp(`${pending} messages pending, none delivered`);
    } finally {
      this.checking = false;
    }
  }

  /** `answer`, or a rejection once a check period passed without it. */
  private async withinPeriod<T>(answer: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no ${what} within ${this.checkMs} ms`)),
        this.checkMs,
      );
    });
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private giveUp(reason: string): void {
    if (this.unreachable !== undefined) return;
    this.unreachable = reason;
    this.stopMessages();
  }
}
