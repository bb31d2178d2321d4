import { RESULT_LINE_PREFIX } from './types.js';
import type { JsonValue, PhaseSpan, WorkerOutput, WorkerRequest, WorkloadParams } from './types.js';

/** Microseconds of the monotonic clock, the clock V8's CPU profiles are stamped with. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Runs `body` and returns its result with its span on the monotonic clock, for
 * {@link WorkerOutput.phases}.
 */
export async function measurePhase<T>(
  body: () => Promise<T>,
): Promise<{ value: T; span: PhaseSpan }> {
  const startUs = monotonicMicros();
  const value = await body();
  return { value, span: { startUs, endUs: monotonicMicros() } };
}

/** Parses and checks the request a runner passed as the first command-line argument. */
export function parseWorkerRequest(argument: string | undefined): WorkerRequest {
  if (argument === undefined) throw new Error('usage: worker <request json>');
  const parsed: unknown = JSON.parse(argument);
  if (parsed === null || typeof parsed !== 'object') throw new Error('request must be an object');
  const record = parsed as Record<string, unknown>;
  const { contender, workload, params, round } = record;
  if (typeof contender !== 'string' || typeof workload !== 'string' || typeof round !== 'number') {
    throw new Error('request needs contender, workload and round');
  }
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new Error('request params must be an object');
  }
  return { contender, workload, round, params: params as WorkloadParams };
}

/** Reads a numeric parameter, failing loudly when it is missing or not a number. */
export function numberParam(params: WorkloadParams, name: string): number {
  const value: JsonValue | undefined = params[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`workload parameter ${name} must be a number`);
  }
  return value;
}

/**
 * The body of a worker process: parses the request from `process.argv[2]`, runs `handler`, adds
 * the process's peak RSS (`peakRssMiB`) and prints the one result line. On failure it prints
 * the error to stderr and sets a non-zero exit code.
 */
export async function runWorker(
  handler: (request: WorkerRequest) => Promise<WorkerOutput>,
): Promise<void> {
  try {
    const request = parseWorkerRequest(process.argv[2]);
    const output = await handler(request);
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    const line: WorkerOutput = { ...output, metrics: { ...output.metrics, peakRssMiB } };
    process.stdout.write(`${RESULT_LINE_PREFIX}${JSON.stringify(line)}\n`);
  } catch (error) {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}
