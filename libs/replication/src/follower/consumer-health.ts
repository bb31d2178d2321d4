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
      (late) => late.stop(),
      () => undefined,
    );
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
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
 * - the consumer says messages are pending, yet none arrived for two periods in a row: seen in a
 *   partition test, where a follower's consumer answered its info but delivered nothing after a
 *   cluster route stalled, and the follower, behind the stream, never caught up to campaign.
 * An idle stream costs one info request per period.
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
    private readonly messages: Pick<ConsumerMessages, 'stop'>,
    private readonly checkMs: number = FOLLOWER_CONSUMER_CHECK_MS,
  ) {
    this.timer = setInterval(() => this.check(), checkMs);
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

  private check(): void {
    if (this.checking || this.unreachable !== undefined) return;
    if (performance.now() - this.lastDeliveryMs < this.checkMs) return;
    this.checking = true;
    const deliveredBefore = this.lastDeliveryMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no consumer info within ${this.checkMs} ms`)),
        this.checkMs,
      );
    });
    Promise.race([this.info(), late])
      .then(
        (progress) => {
          const stalled =
            (progress.num_pending ?? 0) > 0 && this.lastDeliveryMs === deliveredBefore;
          this.stalledChecks = stalled ? this.stalledChecks + 1 : 0;
          if (this.stalledChecks >= 2) {
            this.giveUp(`${progress.num_pending} messages pending, none delivered`);
          }
        },
        (error: unknown) => this.giveUp(errorMessage(error)),
      )
      .finally(() => {
        clearTimeout(timer);
        this.checking = false;
      });
  }

  private giveUp(reason: string): void {
    if (this.unreachable !== undefined) return;
    this.unreachable = reason;
    this.messages.stop();
  }
}
