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

/** How long a test waits for a node to start listening before it calls the start failed. */
const NODE_START_DEADLINE_MS = 90_000;

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
  // The poll stops once the race is decided: left running after a failed start, it kept the
  // test process alive forever.
  let decided = false;
  const startedAtMs = Date.now();
  const ready = await Promise.race([
    (async () => {
      while (!decided && !stdout.includes('listening on')) await sleep(25);
      return !decided;
    })(),
    exited.then(() => false),
    // Only a deadline for a node that never starts: on a loaded 2-core machine loading the
    // TypeScript sources alone took over 20 s (a start that then failed a CI run).
    sleep(NODE_START_DEADLINE_MS).then(() => false),
  ]);
  decided = true;
  if (!ready) {
    child.kill('SIGKILL');
    const how =
      child.exitCode !== null || child.signalCode !== null
        ? `it exited (${child.exitCode ?? child.signalCode})`
        : `it printed no "listening on" within ${Date.now() - startedAtMs} ms`;
    throw new Error(`the node did not start: ${how}\n${stdout}\n${stderr}`);
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

/**
 * Polls the node's `/v1/status` until its tree holds at least `count` segments, i.e. a flush has
 * finished: a node stopped earlier cancels its running flush (its writes stay in the log).
 */
export async function waitForSegments(url: string, count = 1, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await (await fetch(`${url}/v1/status`)).json()) as { segmentCount: number };
    if (status.segmentCount >= count) return;
    if (Date.now() > deadline) {
      throw new Error(`no ${count} segment(s) after ${timeoutMs} ms: ${JSON.stringify(status)}`);
    }
    await sleep(50);
  }
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

/** How a {@link rawUpload} went, as its client saw it. */
export interface RawUploadResult {
  /** Status of the first final response (0 if none arrived). */
  readonly status: number;
  /** Every informational (1xx) status that came before it. */
  readonly informational: number[];
  readonly headers: Record<string, string>;
  /** The response body, parsed as JSON. */
  readonly body: unknown;
  /** Body bytes the client handed to its socket. */
  readonly writtenBytes: number;
  /** Body bytes it had handed to its socket when the whole answer had arrived. */
  readonly writtenAtAnswerBytes: number;
  /** In order: `answer` (a whole response arrived), `end` (the server's FIN), `error <code>`. */
  readonly events: string[];
}

/** Options of {@link rawUpload}. */
export interface RawUploadOptions {
  /** Body bytes to send after the head (zeros). */
  readonly bodyBytes: number;
  /** Frame the body as `Transfer-Encoding: chunked` (the head must say so). */
  readonly chunked?: boolean;
  /**
   * Like a client that reads while it sends (undici, curl): stop sending and close once a whole
   * final response arrived. Otherwise the client sends the whole body whatever comes back, even
   * after the server's FIN, and ends its side only then.
   */
  readonly stopOnAnswer?: boolean;
  /** Send one piece per this many milliseconds instead of as fast as the socket takes them. */
  readonly paceMs?: number;
  /** Bytes per write (default 256 KiB). */
  readonly pieceBytes?: number;
  /** Send only the head until a `100 Continue` arrives (for `Expect: 100-continue`). */
  readonly waitForContinue?: boolean;
  /**
   * Hold the body after this many bytes until a whole final answer has arrived, then go on (or
   * stop, with `stopOnAnswer`). Makes "the answer came while the client still had body to send"
   * certain: at full speed, a loaded machine can let the client write the whole body before it
   * reads an answer that was sent long before.
   */
  readonly pauseAtBytes?: number;
}

/**
 * Sends `head` and a body of zeros over a plain socket, with backpressure, and reads what comes
 * back meanwhile. Resolves once the socket has closed. No timers decide anything here but
 * `paceMs`, which only spaces the writes.
 */
export function rawUpload(
  port: number,
  head: string,
  options: RawUploadOptions,
): Promise<RawUploadResult> {
  const pieceBytes = options.pieceBytes ?? 256 * 1024;
  const zeros = Buffer.alloc(pieceBytes);
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const events: string[] = [];
    const informational: number[] = [];
    let received = Buffer.alloc(0);
    let final: { status: number; headers: Record<string, string>; body: unknown } | undefined;
    let writtenBytes = 0;
    let writtenAtAnswerBytes = 0;
    let stopped = false;
    let finished = false;
    let pacer: NodeJS.Timeout | undefined;

    const pausedForAnswer = (): boolean =>
      options.pauseAtBytes !== undefined && !final && writtenBytes >= options.pauseAtBytes;
    const nextPiece = (): Buffer | undefined => {
      if (writtenBytes >= options.bodyBytes) {
        if (finished) return undefined;
        finished = true;
        return options.chunked ? Buffer.from('0\r\n\r\n') : undefined;
      }
      const until = pausedAt();
      const size = Math.min(pieceBytes, until - writtenBytes);
      writtenBytes += size;
      const data = size === pieceBytes ? zeros : zeros.subarray(0, size);
      if (!options.chunked) return data;
      return Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    };
    const canWrite = (): boolean => !stopped && !socket.destroyed && socket.writable;
    // Where the next piece must end: the body's end, or the pause point while no answer came.
    const pausedAt = (): number =>
      options.pauseAtBytes !== undefined && !final && writtenBytes < options.pauseAtBytes
        ? Math.min(options.pauseAtBytes, options.bodyBytes)
        : options.bodyBytes;
    let waitingForDrain = false;
    const pump = (): void => {
      while (canWrite() && !pausedForAnswer()) {
        const piece = nextPiece();
        if (piece === undefined) return endIfAnswered();
        if (!socket.write(piece)) {
          waitingForDrain = true;
          socket.once('drain', () => {
            waitingForDrain = false;
            pump();
          });
          return;
        }
      }
    };
    // A client that sent everything closes its side once it has the answer and the server's FIN.
    const endIfAnswered = (): void => {
      if (final && events.includes('end') && finished && !socket.destroyed) socket.end();
    };
    const startBody = (): void => {
      if (options.paceMs === undefined) return pump();
      pacer = setInterval(() => {
        if (pausedForAnswer()) return;
        const piece = canWrite() ? nextPiece() : undefined;
        if (piece === undefined) clearInterval(pacer);
        else socket.write(piece);
      }, options.paceMs);
    };

    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      while (!final) {
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const lines = received.subarray(0, headEnd).toString('latin1').split('\r\n');
        const status = Number((lines[0] ?? '').split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        if (status >= 100 && status < 200) {
          informational.push(status);
          received = received.subarray(headEnd + 4);
          if (status === 100 && options.waitForContinue) startBody();
          continue;
        }
        const length = Number(headers['content-length'] ?? 0);
        if (received.length < headEnd + 4 + length) return;
        const text = received.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
        final = { status, headers, body: text.length === 0 ? undefined : JSON.parse(text) };
        events.push('answer');
        writtenAtAnswerBytes = writtenBytes;
        // A client that held its body back for a 100 Continue never sends it after a final answer.
        const heldBack = options.waitForContinue === true && !informational.includes(100);
        if (options.stopOnAnswer || heldBack) {
          stopped = true;
          clearInterval(pacer);
          socket.end();
        } else if (options.pauseAtBytes !== undefined && options.paceMs === undefined) {
          if (!waitingForDrain) pump();
        }
      }
    });
    socket.on('end', () => {
      events.push('end');
      endIfAnswered();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`));
    socket.on('close', () => {
      clearInterval(pacer);
      resolve({
        status: final?.status ?? 0,
        informational,
        headers: final?.headers ?? {},
        body: final?.body,
        writtenBytes,
        writtenAtAnswerBytes,
        events,
      });
    });
    socket.once('connect', () => {
      socket.write(head);
      if (!options.waitForContinue) startBody();
    });
  });
}
