import { StrataClientError } from './client-error.js';

/**
 * The pause before retry number `attempt` (0 for the first retry): full jitter, uniform in
 * `[0, min(maxDelayMs, baseDelayMs * 2^attempt)]`, so clients that failed together do not retry
 * together. `random` returns a number in `[0, 1)` (tests pass their own).
 */
export function fullJitterDelayMs(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with `ABORTED` as soon as `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The `ABORTED` error for a call the caller's `signal` ended. */
export function abortedError(signal: AbortSignal): StrataClientError {
  return new StrataClientError('ABORTED', 'the call was aborted by its signal', {
    cause: signal.reason,
  });
}
