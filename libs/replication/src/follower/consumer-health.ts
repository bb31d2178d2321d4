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

/**
 * Notices an ordered consumer that is gone for good and ends its messages so that the follower
 * makes a new one. nats.js recreates an ordered consumer that the server reports deleted or not
 * found, but in a JetStream cluster the consumer (one replica, in memory) lives on one server:
 * when that server dies, a consumer info request goes unanswered instead, and nats.js retries
 * it forever while nothing arrives. So after {@link FOLLOWER_CONSUMER_CHECK_MS} without a
 * message the watchdog asks for the consumer's info itself; a failed answer (a timeout, no
 * responders, not found) stops the messages. An idle stream costs one info request per period.
 */
export class ConsumerWatchdog {
  /** Why the consumer was given up, once it was. */
  unreachable: string | undefined;
  private lastDeliveryMs = performance.now();
  private checking = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly info: () => Promise<unknown>,
    private readonly messages: ConsumerMessages,
  ) {
    this.timer = setInterval(() => this.check(), FOLLOWER_CONSUMER_CHECK_MS);
  }

  /** A message arrived: the consumer is alive. */
  delivered(): void {
    this.lastDeliveryMs = performance.now();
  }

  /** Ends the checks (the consumer's messages ended). */
  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.checking || this.unreachable !== undefined) return;
    if (performance.now() - this.lastDeliveryMs < FOLLOWER_CONSUMER_CHECK_MS) return;
    this.checking = true;
    this.info().then(
      () => {
        this.checking = false;
      },
      (error: unknown) => {
        this.checking = false;
        this.unreachable = errorMessage(error);
        this.messages.stop();
      },
    );
  }
}
