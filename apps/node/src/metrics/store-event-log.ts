import type { Logger } from 'pino';
import type { Store } from '@strata/store';

/**
 * Logs the store's background work from its events: each flush and each compaction step at info
 * (with bytes and durations), each write stall at debug (one line per waiting write; `strata_write_stall_duration_seconds` counts them). Returns a function that stops (a cluster
 * node follows the store it reopens instead).
 */
export function logStoreEvents(store: Store, logger: Logger): () => void {
  const log = logger.child({ component: 'store' });
  const stops = [
    store.events.on('flush', (flush) =>
      log.info(
        { event: 'flush', segmentBytes: flush.segmentBytes, durationMs: round(flush.durationMs) },
        `flush wrote a ${flush.segmentBytes}-byte segment in ${round(flush.durationMs)} ms`,
      ),
    ),
    store.events.on('compaction', (step) =>
      log.info(
        {
          event: 'compaction',
          kind: step.kind,
          inputSegments: step.inputSegments,
          inputBytes: step.inputBytes,
          outputSegments: step.outputSegments,
          outputBytes: step.outputBytes,
          durationMs: round(step.durationMs),
        },
        `compaction ${step.kind}: ${step.inputSegments} segments (${step.inputBytes} bytes) in, ${step.outputSegments} (${step.outputBytes} bytes) out, ${round(step.durationMs)} ms`,
      ),
    ),
    store.events.on('stall', (stall) =>
      log.debug(
        { event: 'stall', cause: stall.cause, durationMs: round(stall.durationMs) },
        `a write waited ${round(stall.durationMs)} ms for background work (${stall.cause})`,
      ),
    ),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}

/** Milliseconds to a tenth. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
