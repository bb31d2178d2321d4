import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FileSystem, StrataErrorCode, StrataErrorDetails } from '@strata/core';
import { NodeFileSystem, StrataError, nodeFileSystem } from '@strata/core';
import type { TreeConfig } from '../config.js';
import type { SegmentMetadataJson } from '../segment/metadata.js';
import type { EngineJob } from './merge-job.js';
import { runJob } from './merge-job.js';

/**
 * Where flush and compaction jobs run. The seam exists because a simulated file system lives in
 * the main thread's memory: with it jobs run inline; with the real file system they run in worker
 * threads so the event loop keeps serving reads and writes.
 */
export interface JobRunner {
  run(job: EngineJob): Promise<SegmentMetadataJson[]>;
}

/** Runs jobs on the calling thread. */
export class InlineJobRunner implements JobRunner {
  constructor(private readonly fileSystem: FileSystem) {}

  run(job: EngineJob): Promise<SegmentMetadataJson[]> {
    return runJob(job, this.fileSystem);
  }
}

/** Error data that crosses the worker boundary. */
export interface SerializedError {
  readonly code?: StrataErrorCode;
  readonly message: string;
  readonly details?: StrataErrorDetails;
}

interface WorkerReply {
  readonly id: number;
  readonly result?: SegmentMetadataJson[];
  readonly error?: SerializedError;
}

interface QueuedJob {
  readonly id: number;
  readonly job: EngineJob;
  readonly resolve: (metas: SegmentMetadataJson[]) => void;
  readonly reject: (error: unknown) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  current: QueuedJob | undefined;
}

/** Bound on queued jobs: flushes and compactions are few; more means a caller is not awaiting. */
const MAX_QUEUED_JOBS = 1024;

/**
 * A small pool of worker threads running engine jobs (real file system only). Idle workers are
 * unref'd so they never keep the process alive.
 */
export class WorkerPool implements JobRunner {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: QueuedJob[] = [];
  private nextJobId = 1;

  constructor(private readonly size: number) {}

  run(job: EngineJob): Promise<SegmentMetadataJson[]> {
    if (this.queue.length >= MAX_QUEUED_JOBS) {
      return Promise.reject(new StrataError('INTERNAL', 'engine job queue is full'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextJobId++, job, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker (pending jobs fail). */
  async terminate(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let idle = this.workers.find((w) => w.current === undefined);
      if (!idle && this.workers.length < this.size) idle = this.spawn();
      if (!idle) return;
      const job = this.queue.shift()!;
      idle.current = job;
      idle.worker.ref();
      idle.worker.postMessage({ id: job.id, job: job.job });
    }
  }

  private spawn(): PoolWorker {
    const worker = startJobWorker();
    const entry: PoolWorker = { worker, current: undefined };
    worker.on('message', (reply: WorkerReply) => {
      const job = entry.current;
      if (!job || job.id !== reply.id) return;
      entry.current = undefined;
      worker.unref();
      if (reply.error) job.reject(deserializeError(reply.error));
      else job.resolve(reply.result ?? []);
      this.dispatch();
    });
    const fail = (error: unknown): void => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      const job = entry.current;
      entry.current = undefined;
      job?.reject(
        new StrataError('INTERNAL', `engine worker failed: ${String(error)}`, { cause: error }),
      );
      this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (entry.current) fail(new Error(`worker exited with code ${code}`));
    });
    worker.unref();
    this.workers.push(entry);
    return entry;
  }
}

/** Turns any thrown value into data for postMessage. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof StrataError) {
    return { code: error.code, message: error.message, details: { ...error.details } };
  }
  return { message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}

function deserializeError(error: SerializedError): Error {
  if (error.code)
    return new StrataError(error.code, error.message, { details: error.details ?? {} });
  return new StrataError('INTERNAL', `engine worker: ${error.message}`);
}

/**
 * Heap limits of a job worker. A job allocates few JavaScript objects (its bytes live in buffers,
 * outside the heap), so a 2 MiB young generation costs it nothing, where the default (up to
 * 16 MiB per semi-space) left tens of MiB of young-generation pages resident in each worker:
 * peak RSS of a 1M-key random fill went from about 410 to about 367 MiB. The old generation
 * keeps V8's default, so no job can run out of heap because of this.
 */
const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 2 };

/**
 * Starts a worker on job-worker. From TypeScript sources (tests, tsx) the worker first registers
 * tsx's loader and then imports the entry: `execArgv: ['--import', 'tsx']` does not apply the
 * loader to a worker's entry module on Node 20.
 */
function startJobWorker(): Worker {
  const isTypeScript = import.meta.url.endsWith('.ts');
  const entry = new URL(isTypeScript ? './job-worker.ts' : './job-worker.js', import.meta.url);
  const options = { resourceLimits: WORKER_RESOURCE_LIMITS };
  if (!isTypeScript) return new Worker(entry, options);
  // Resolved through require (import.meta.resolve is missing when tests run as CommonJS); the
  // require condition names the .cjs build, whose ESM twin sits beside it.
  const tsxApiCjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const tsxApi = pathToFileURL(tsxApiCjs.replace(/\.cjs$/, '.mjs')).href;
  const bootstrap =
    `const { register } = await import(${JSON.stringify(tsxApi)});\n` +
    `register();\n` +
    `await import(${JSON.stringify(entry.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), options);
}

let sharedPool: WorkerPool | undefined;

/** The process-wide worker pool (two workers: one can flush while another compacts). */
export function sharedWorkerPool(): WorkerPool {
  sharedPool ??= new WorkerPool(2);
  return sharedPool;
}

/**
 * Where the jobs of a tree with `config` run: worker threads with the real file system (unless
 * the config says inline), on the calling thread with any other (a simulated file system lives
 * in the main thread's memory).
 */
export function jobRunnerFor(config: TreeConfig): JobRunner {
  const useWorker =
    config.jobExecution === 'worker' ||
    (config.jobExecution === 'auto' &&
      (config.fileSystem === nodeFileSystem || config.fileSystem instanceof NodeFileSystem));
  return useWorker ? sharedWorkerPool() : new InlineJobRunner(config.fileSystem);
}
