import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { StrataError } from '@strata/core';
import { connectToNats } from '@strata/replication';

/** How long `strata serve` retries an unreachable NATS at startup by default (`--nats-wait-ms`). */
export const DEFAULT_NATS_WAIT_MS = 30_000;
/** The first pause between two attempts; each failure doubles it, up to {@link MAX_RETRY_DELAY_MS}. */
const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

/** Options of {@link connectToNatsAtStartup}. */
export interface NatsStartupOptions {
  /** How long to go on trying; 0 tries once. */
  readonly waitMs: number;
  /** Warned at each failed attempt. */
  readonly logger: Logger;
  /** Stops the retries (the node is being closed). */
  readonly signal?: AbortSignal;
}

/**
 * Connects to NATS for a node that is starting, retrying with exponential backoff (250 ms
 * doubling to 5 s) for up to `waitMs`: a node started together with its NATS servers (a reboot,
 * a `systemctl start` of both) waits for them instead of exiting. Each failed attempt is a
 * warning with the URL and the cause; the last one ends in `IO_ERROR` naming the URL, the cause
 * (connection refused, host not found, no greeting in time) and how long it tried.
 *
 * @throws StrataError `IO_ERROR` once `waitMs` has passed without a connection.
 */
export async function connectToNatsAtStartup(
  natsUrl: string,
  clientName: string,
  options: NatsStartupOptions,
): Promise<NatsConnection> {
  const started = performance.now();
  let delayMs = FIRST_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectToNats(natsUrl, clientName);
    } catch (error) {
      const cause = describeNatsFailure(error);
      const elapsedMs = performance.now() - started;
      const leftMs = options.waitMs - elapsedMs;
      if (leftMs <= 0 || options.signal?.aborted === true) {
        throw new StrataError(
          'IO_ERROR',
          `cannot reach NATS at ${natsUrl}: ${cause} (${attempt} attempt${attempt === 1 ? '' : 's'} in ${(elapsedMs / 1000).toFixed(1)} s; --nats-wait-ms sets how long to try)`,
          { cause: error, details: { natsUrl, attempts: attempt } },
        );
      }
      const waitMs = Math.min(delayMs, leftMs);
      options.logger.warn(
        { natsUrl, attempt, cause, retryInMs: Math.round(waitMs) },
        `NATS at ${natsUrl} is not reachable (${cause}); retrying in ${Math.round(waitMs)} ms`,
      );
      await pause(waitMs, options.signal);
      delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
    }
  }
}

/** What went wrong, in words: nats.js says `CONNECTION_REFUSED` and keeps the socket error apart. */
export function describeNatsFailure(error: unknown): string {
  const failure = error as { code?: unknown; message?: unknown; chainedError?: unknown };
  const chained = failure.chainedError as { code?: unknown; message?: unknown } | undefined;
  const code = typeof failure.code === 'string' ? failure.code : undefined;
  if (code === 'CONNECTION_REFUSED') {
    const detail = typeof chained?.message === 'string' ? `: ${chained.message}` : '';
    return `connection refused${detail}`;
  }
  if (code === 'TIMEOUT') return 'no NATS greeting in time (is it a NATS server?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `host not found (${typeof failure.message === 'string' ? failure.message : code})`;
  }
  if (typeof failure.message === 'string' && failure.message !== '') {
    return code !== undefined && !failure.message.includes(code)
      ? `${code}: ${failure.message}`
      : failure.message;
  }
  return String(error);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
