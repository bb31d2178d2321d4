/**
 * Entry point of an engine worker thread: runs flush and compaction jobs with the real file
 * system and answers with the metadata of the segments written.
 */
import { parentPort } from 'node:worker_threads';
import { nodeFileSystem } from '@strata/core';
import type { EngineJob } from './merge-job.js';
import { runJob } from './merge-job.js';
import { serializeError } from './job-runner.js';

const port = parentPort;
if (port) {
  port.on('message', (message: { id: number; job: EngineJob }) => {
    runJob(message.job, nodeFileSystem).then(
      (result) => port.postMessage({ id: message.id, result }),
      (error: unknown) => port.postMessage({ id: message.id, error: serializeError(error) }),
    );
  });
}
