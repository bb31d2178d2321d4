import { StrataError } from '@strata/core';

/**
 * Spreads work out to at most `bytesPerSecond` on average: {@link take} resolves once the bytes
 * taken so far fit the rate (a token bucket holding at most one second's worth, so an idle spell
 * never allows a burst larger than that). A `take(0)` is a yield to the event loop. Stopping
 * (`signal`) rejects a waiting `take` with `CLOSED`.
 */
export class RatePacer {
  private allowedAtMs = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Waits until `bytes` more may be read. */
  async take(bytes: number): Promise<void> {
    if (this.signal.aborted) throw new StrataError('CLOSED', 'the scrub was stopped');
    const now = performance.now();
    // No credit beyond one second of idleness.
    this.allowedAtMs =
      Math.max(this.allowedAtMs, now - 1000) + (bytes * 1000) / this.bytesPerSecond;
    await sleep(Math.max(0, this.allowedAtMs - now), this.signal);
  }
}

/** Waits `ms` (at least one turn of the event loop); rejects with `CLOSED` when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(new StrataError('CLOSED', 'the scrub was stopped'));
      return;
    }
    const stop = (): void => {
      clearTimeout(timer);
      clearImmediate(immediate);
      reject(new StrataError('CLOSED', 'the scrub was stopped'));
    };
    const done = (): void => {
      signal.removeEventListener('abort', stop);
      resolve();
    };
    let immediate: NodeJS.Immediate | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (ms < 1) immediate = setImmediate(done);
    else timer = setTimeout(done, ms);
    signal.addEventListener('abort', stop, { once: true });
  });
}
