/**
 * Entry point of an engine worker thread: runs flush and compaction jobs with the real file
 * system and answers with the metadata of the segments written.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { nodeFileSystem } from '@strata/core';
import type { EngineJob } from './merge-job.js';
import { runJob } from './merge-job.js';
import { serializeError } from './job-runner.js';

/**
 * A full garbage collection of this worker's heap, or `undefined` where V8 refuses to expose it.
 * A flush job reads a sealed memtable through views of its SharedArrayBuffers, and that memory is
 * freed only once every thread has dropped its views. The main thread drops its own when the
 * segment is registered, but this worker's small heap rarely runs a full collection, so every
 * flushed memtable stayed allocated: after a 1M-entry fill (4 flushes of 64 MiB memtables) the
 * process held about 190 MiB of them, peak RSS 364 MiB against 258 MiB with the jobs inline.
 * Collecting after each flush costs a few milliseconds of this thread, not of the event loop.
 */
function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const collectGarbage = exposeGc();

const port = parentPort;
if (port) {
  port.on('message', (message: { id: number; job: EngineJob }) => {
    const isFlush = message.job.kind === 'flush';
    runJob(message.job, nodeFileSystem)
      .then(
        (result) => port.postMessage({ id: message.id, result }),
        (error: unknown) => port.postMessage({ id: message.id, error: serializeError(error) }),
      )
      .finally(() => {
        // On the next turn, once this handler and its promise chain no longer hold the message
        // (and through it the memtable's buffers).
        if (isFlush && collectGarbage !== undefined) setImmediate(collectGarbage);
      });
  });
}
