// The load generator of one (workload, contender, connections, round), in its own process:
// `node --import tsx worker.ts <request json>`. It starts the server under test as a second
// process, preloads it if needed, warms it up, then runs autocannon in this process for the
// measured window and reports req/s, latencies, errors and the CPU both processes used.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { AutocannonRequest } from 'autocannon';
import { quantile } from '../runner/stats.js';
import { monotonicMicros, numberParam, runWorker } from '../runner/worker-protocol.js';
import type { WorkerOutput, WorkerRequest } from '../runner/types.js';
import { keyOf, makeValues, xorshift32 } from './data.js';
import { SERVER_CPU_PROF_ENV, serverProfileDir, startServer } from './server-process.js';

interface LoadResult {
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly elapsedSec: number;
  readonly latenciesMs: number[];
}

/** Runs autocannon for `durationSec` and collects every response's latency (sub-ms precision). */
function load(
  url: string,
  connections: number,
  durationSec: number,
  request: AutocannonRequest,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    let ok = 0;
    const startUs = monotonicMicros();
    const instance = autocannon(
      { url, connections, duration: durationSec, timeout: 30, requests: [request] },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        resolve({
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          elapsedSec: (monotonicMicros() - startUs) / 1e6,
          latenciesMs,
        });
      },
    );
    // autocannon's own histogram keeps whole milliseconds; this keeps the exact times.
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) {
        ok++;
        latenciesMs.push(ms);
      }
    });
  });
}

/** Writes `count` keys `k…` through `POST /v1/batch`, 1,000 per batch, one batch at a time. */
async function preload(url: string, count: number): Promise<void> {
  const values = makeValues(1024, 7);
  for (let start = 0; start < count; start += 1_000) {
    const ops = [];
    for (let index = start; index < Math.min(count, start + 1_000); index++) {
      ops.push({ type: 'put', key: keyOf('k', index), value: values[index % values.length] });
    }
    const response = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ops }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`preload batch failed: ${response.status} ${text}`);
  }
  // Check one key made it, so that GETs of existing keys are what is measured.
  const check = await fetch(`${url}/v1/kv/${keyOf('k', count - 1)}`);
  await check.arrayBuffer();
  if (check.status !== 200) throw new Error(`preloaded key not found: ${check.status}`);
}

/** PUTs of 100-byte values, every request to a new key (one counter shared by all connections). */
function putRequest(): AutocannonRequest {
  const values = makeValues(1024).map((value) => Buffer.from(value));
  let next = 0;
  return {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    setupRequest: (request) => {
      const index = next++;
      request.path = `/v1/kv/${keyOf('p', index)}`;
      request.body = values[index & 1023];
      return request;
    },
  };
}

/** GETs of random keys among the `keys` preloaded ones. */
function getRequest(keys: number): AutocannonRequest {
  const paths = Array.from({ length: keys }, (_, index) => `/v1/kv/${keyOf('k', index)}`);
  const random = xorshift32(1234);
  return {
    method: 'GET',
    setupRequest: (request) => {
      request.path = paths[random() % keys];
      return request;
    },
  };
}

async function measure(request: WorkerRequest): Promise<WorkerOutput> {
  const { contender, workload, params, round } = request;
  const connections = numberParam(params, 'connections');
  const durationSec = numberParam(params, 'durationSec');
  const warmupSec = numberParam(params, 'warmupSec');
  const preloadKeys = numberParam(params, 'preloadKeys');
  if (workload !== 'put' && workload !== 'get') throw new Error(`unknown workload ${workload}`);
  const profileDir = process.env[SERVER_CPU_PROF_ENV];
  const nodeFlags =
    profileDir === undefined
      ? []
      : [
          '--cpu-prof',
          `--cpu-prof-dir=${path.join(profileDir, serverProfileDir(workload, connections, contender, round))}`,
        ];
  const dataDirectory = await mkdtemp(path.join(os.tmpdir(), `strata-bench-http-${contender}-`));
  try {
    const server = await startServer(contender, { dataDirectory, nodeFlags });
    let result: LoadResult;
    let serverCpuMs: number;
    let clientCpuMs: number;
    let startUs: number;
    let endUs: number;
    try {
      // The ceiling serves a constant whatever the key: it has nothing to preload.
      if (workload === 'get' && contender === 'strata') await preload(server.url, preloadKeys);
      const loadRequest = workload === 'put' ? putRequest() : getRequest(preloadKeys);
      if (warmupSec > 0) await load(server.url, connections, warmupSec, loadRequest);
      const serverCpuBefore = server.cpuTimeMs();
      const clientCpuBefore = process.cpuUsage();
      startUs = monotonicMicros();
      result = await load(server.url, connections, durationSec, loadRequest);
      endUs = monotonicMicros();
      serverCpuMs = server.cpuTimeMs() - serverCpuBefore;
      const clientCpu = process.cpuUsage(clientCpuBefore);
      clientCpuMs = (clientCpu.user + clientCpu.system) / 1000;
    } finally {
      await server.stop();
    }
    const elapsedMs = (endUs - startUs) / 1000;
    const metrics: Record<string, number> = {
      reqPerSec: result.ok / result.elapsedSec,
      p50Ms: quantile(result.latenciesMs, 0.5),
      p99Ms: quantile(result.latenciesMs, 0.99),
      // Every failed request: socket errors, timeouts and non-2xx answers. 0 in a valid cell.
      failed: result.errors + result.timeouts + result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      requests: result.ok,
      serverCpuPct: (100 * serverCpuMs) / elapsedMs,
      clientCpuPct: (100 * clientCpuMs) / elapsedMs,
    };
    if (profileDir !== undefined) {
      // Only in profiling runs (which write no results): the window to summarize the profile over.
      metrics.measureStartUs = startUs;
      metrics.measureEndUs = endUs;
    }
    return { metrics, phases: { measure: { startUs, endUs } } };
  } finally {
    await rm(dataDirectory, { recursive: true, force: true });
  }
}

await runWorker(measure);
