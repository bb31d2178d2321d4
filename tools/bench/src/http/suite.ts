import { fileURLToPath } from 'node:url';
import type { BenchGroup, BenchSuite, MetricSpec } from '../runner/types.js';
import { HTTP_CONTENDERS } from './server-process.js';

/** Sizes of one run: the full run, or a quick smoke run. */
export interface HttpSuiteSizes {
  /** Measured seconds per cell. */
  readonly durationSec: number;
  /** Unmeasured load before it, same connections and requests. */
  readonly warmupSec: number;
  /** Keys written before the GET cells (Strata only). */
  readonly preloadKeys: number;
}

/** Sizes of the committed results. */
export const FULL_SIZES: HttpSuiteSizes = { durationSec: 5, warmupSec: 1, preloadKeys: 100_000 };

/** Sizes of `--quick`: checks that everything runs, in about a minute. */
export const QUICK_SIZES: HttpSuiteSizes = { durationSec: 1, warmupSec: 1, preloadKeys: 10_000 };

/** Connection counts of each workload. */
export const CONNECTIONS = [1, 16, 64] as const;

const metrics: MetricSpec[] = [
  { key: 'reqPerSec', label: 'req/s', better: 'higher' },
  { key: 'p50Ms', label: 'p50 ms', better: 'lower', digits: 2 },
  { key: 'p99Ms', label: 'p99 ms', better: 'lower', digits: 2 },
  { key: 'failed', label: 'failed', better: 'lower' },
  { key: 'serverCpuPct', label: 'server CPU %', better: 'lower' },
  { key: 'clientCpuPct', label: 'client CPU %', better: 'lower' },
];

/** The HTTP suite: PUT and GET at 1, 16 and 64 connections, Strata vs the fastify ceiling. */
export function httpSuite(sizes: HttpSuiteSizes): BenchSuite {
  const group = (workload: 'put' | 'get', connections: number): BenchGroup => ({
    id: `${workload}/c${connections}`,
    label:
      workload === 'put'
        ? `PUT 100 B, new keys, ${connections} conn`
        : `GET existing keys, ${connections} conn`,
    workload,
    params: { connections, ...sizes },
    contenders: HTTP_CONTENDERS,
    metrics,
    // Issue 5: GET at least 70% of the in-memory ceiling; PUT (sync always) at least 50% at 64.
    ...(workload === 'get' ? { target: { kind: 'ratio-vs-best-peer', value: 0.7 } as const } : {}),
    ...(workload === 'put' && connections === 64
      ? { target: { kind: 'ratio-vs-best-peer', value: 0.5 } as const }
      : {}),
  });
  return {
    name: 'http',
    title: 'HTTP API: the strata node vs a fastify server answering from memory',
    description:
      'Loopback HTTP/1.1 load from autocannon (keep-alive, no pipelining) in its own process, ' +
      'against the server under test in another. `strata`: the bundled node ' +
      '(`node apps/node/dist/strata.js serve`) with its defaults, so `--sync always`: every PUT ' +
      'is acknowledged after fsync (group commit). `fastify-constant`: a fastify 5 server that ' +
      'answers GET with a constant 100-byte body and PUT by reading the body and answering a small ' +
      'JSON, storing nothing: the in-memory ceiling. PUT: 100-byte values, every request a new ' +
      '16-byte key. GET: random keys among ' +
      `${sizes.preloadKeys.toLocaleString('en-US')} preloaded through \`POST /v1/batch\`. ` +
      `${sizes.warmupSec} s warm-up, then ${sizes.durationSec} s measured per cell. ` +
      'Latencies are per request as the client sees them; "vs best peer" is strata / ceiling.',
    workerPath: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    subject: 'strata',
    packages: [
      '@strata/node',
      '@strata/store',
      '@strata/wal',
      'fastify',
      'pino',
      'autocannon',
      'esbuild',
      'tsx',
    ],
    groups: [
      ...CONNECTIONS.map((connections) => group('put', connections)),
      ...CONNECTIONS.map((connections) => group('get', connections)),
    ],
  };
}
