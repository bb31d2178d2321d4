import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@strata/testing';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

/** A `strata serve` child process. */
export interface NodeProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  output(): string;
  errors(): string;
  /** Sends `signal` and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `strata serve --data <data> --listen 127.0.0.1:<free port> ...args` and waits for it. */
export async function startNodeProcess(
  data: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<NodeProcess> {
  const port = await findFreePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      BIN,
      'serve',
      '--data',
      data,
      '--listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...args,
    ],
    { cwd: CWD, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const ready = await Promise.race([
    (async () => {
      while (!stdout.includes('listening on')) await sleep(25);
      return true;
    })(),
    exited.then(() => false),
    sleep(20_000).then(() => false),
  ]);
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`the node did not start:\n${stdout}\n${stderr}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => stdout,
    errors: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `strata ...args` to completion. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args], {
    cwd: CWD,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The error body of a response. */
export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return body.error;
}

/** A raw HTTP request whose path is sent exactly as given (no URL normalization). */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends `head` (and optionally part of a body) over a plain socket, then stalls. Resolves with
 * what the server answered and how long until it closed the connection.
 */
export function stallingRequest(
  port: number,
  head: string,
  partialBody = '',
): Promise<{ answer: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head + partialBody));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ answer, closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server never closed a stalled request'));
    }, 15_000).unref();
  });
}

/** Reads NDJSON lines from a streaming response until `count` lines arrived. */
export async function readLines(response: Response, count: number): Promise<unknown[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const lines: unknown[] = [];
  while (lines.length < count) {
    const chunk = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
    let newline: number;
    while ((newline = text.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(text.slice(0, newline)));
      text = text.slice(newline + 1);
    }
  }
  await reader.cancel();
  return lines;
}

/** Parses an NDJSON body. */
export function parseNdjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
