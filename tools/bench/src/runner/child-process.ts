import { spawn } from 'node:child_process';
import { RESULT_LINE_PREFIX } from './types.js';
import type { PhaseSpan, WorkerOutput, WorkerRequest } from './types.js';

/** How to start one worker process. */
export interface WorkerProcessOptions {
  /** Absolute path of the worker module. */
  readonly workerPath: string;
  readonly request: WorkerRequest;
  /** Working directory; `tsx` must resolve from it. */
  readonly cwd: string;
  /** Extra Node.js flags placed before the worker path (for example `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
  /** The child is killed (SIGKILL, by its pid) after this long. */
  readonly timeoutMs: number;
}

/**
 * Starts `node --import tsx <worker> <request json>` and resolves with the result line it prints.
 * Rejects with the tail of its stderr if it exits non-zero, prints no result, or times out.
 */
export function runWorkerProcess(options: WorkerProcessOptions): Promise<WorkerOutput> {
  const args = [
    '--import',
    'tsx',
    ...(options.nodeFlags ?? []),
    options.workerPath,
    JSON.stringify(options.request),
  ];
  return new Promise<WorkerOutput>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const what = `${options.request.workload} on ${options.request.contender}`;
      if (timedOut) {
        reject(new Error(`${what} timed out after ${options.timeoutMs} ms\n${tail(stderr)}`));
        return;
      }
      if (code !== 0) {
        reject(new Error(`${what} exited with ${code ?? signal}\n${tail(stderr)}`));
        return;
      }
      try {
        resolve(parseResultLine(stdout));
      } catch (error) {
        reject(new Error(`${what}: ${String(error)}\n${tail(stderr)}`));
      }
    });
  });
}

/** Finds and checks the last result line in a worker's stdout. */
export function parseResultLine(stdout: string): WorkerOutput {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(RESULT_LINE_PREFIX));
  if (line === undefined) throw new Error('the worker printed no result line');
  const parsed: unknown = JSON.parse(line.slice(RESULT_LINE_PREFIX.length));
  if (parsed === null || typeof parsed !== 'object') throw new Error('result is not an object');
  const { metrics, phases } = parsed as { metrics?: unknown; phases?: unknown };
  if (metrics === null || typeof metrics !== 'object') throw new Error('result has no metrics');
  const checked: Record<string, number> = {};
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value !== 'number') throw new Error(`metric ${key} is not a number`);
    checked[key] = value;
  }
  return phases !== null && typeof phases === 'object'
    ? { metrics: checked, phases: phases as Record<string, PhaseSpan> }
    : { metrics: checked };
}

function tail(text: string): string {
  return text.split('\n').slice(-30).join('\n');
}
