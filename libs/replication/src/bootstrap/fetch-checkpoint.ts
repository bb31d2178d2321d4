import { StrataError, isStrataError } from '@strata/core';
import type { StrataErrorCode } from '@strata/core';
import { DEFAULT_CHECKPOINT_FETCH_TIMEOUT_MS } from '../settings.js';
import { receivedErrorCode, unknownCodeNote } from '../wire/wire-error.js';
import type { ReceivedErrorCode } from '../wire/wire-error.js';

/** The leader's route that streams a checkpoint archive (mounted by the node app). */
export const CHECKPOINT_ROUTE = '/v1/internal/checkpoint';

/** Options of {@link fetchCheckpoint}. */
export interface FetchCheckpointOptions {
  /** Sent as `authorization: Bearer <token>` when given. */
  readonly token?: string;
  /** Aborts the request or the download (`CLOSED`). */
  readonly signal?: AbortSignal;
  /**
   * Longest wait for the response headers, and then for each next piece of the body (an idle
   * timeout, not a total: a large checkpoint may take long, a stalled one may not). Only time
   * spent waiting on the network counts, not the consumer's. `TIMEOUT` when exceeded. Default
   * 30 000 ms.
   */
  readonly timeoutMs?: number;
}

/** How much of an error response is read for its message: enough for the JSON, bounded. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Requests a checkpoint archive from the leader at `leaderUrl` (`GET <leaderUrl>/v1/internal/checkpoint`
 * with Node's global fetch) and resolves, once the leader answered 200, with the body as an
 * async iterable of byte pieces, to hand to {@link installCheckpoint}. Iterate it to the end or
 * stop it (`return()`, as `for await ... break` and `installCheckpoint` do) so the connection is
 * released.
 *
 * Errors (at the request, or later while iterating): a non-200 answer becomes a StrataError with
 * the leader's `{"error":{"code","message"}}` code when it is one of `STRATA_ERROR_CODES`
 * (`NOT_LEADER`, `LOCKED`...), else `IO_ERROR`, with `details.status`; a network failure is `IO_ERROR` with the cause; the idle
 * timeout is `TIMEOUT`; an abort through `signal` is `CLOSED`.
 *
 * @example
 * ```ts
 * const archive = await fetchCheckpoint('http://10.0.0.5:7070', { token, timeoutMs: 10_000 });
 * const installed = await installCheckpoint(archive, './data');
 * ```
 */
export async function fetchCheckpoint(
  leaderUrl: string,
  options: FetchCheckpointOptions = {},
): Promise<AsyncIterable<Uint8Array>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECKPOINT_FETCH_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new StrataError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`);
  }
  const url = `${leaderUrl.replace(/\/+$/, '')}${CHECKPOINT_ROUTE}`;
  const session = new DownloadSession(url, timeoutMs, options.signal);
  const headers: Record<string, string> = { accept: 'application/octet-stream' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  session.arm();
  let response: Response;
  try {
    response = await fetch(url, { method: 'GET', headers, signal: session.signal });
  } catch (error) {
    session.end();
    throw session.failure(error, 'the checkpoint request failed');
  }
  session.disarm();
  if (response.status !== 200) {
    let text = '';
    try {
      session.arm();
      text = await readBounded(response, MAX_ERROR_BODY_BYTES);
    } catch {
      // The status alone still tells what happened; the message is a nicety.
    } finally {
      session.end();
    }
    throw errorFromResponse(url, response.status, text);
  }
  if (response.body === null) {
    session.end();
    return emptyBody();
  }
  return new ResponseBody(response.body.getReader() as BodyReader, session);
}

/** The part of a web stream reader this module uses. */
interface BodyReader {
  read(): Promise<{ done: boolean; value?: unknown }>;
  cancel(reason?: unknown): Promise<void>;
}

/**
 * The timer and abort wiring of one download: a fetch-level controller aborted by the caller's
 * signal or by the idle timer, and the mapping of the resulting errors to codes.
 */
class DownloadSession {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private readonly onAbort = (): void => this.controller.abort(this.external?.reason);

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly external: AbortSignal | undefined,
  ) {
    if (external?.aborted) this.controller.abort(external.reason);
    else external?.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts (or restarts) the idle timer: we are waiting on the network. */
  arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new StrataError('TIMEOUT', 'checkpoint download timed out'));
    }, this.timeoutMs);
  }

  /** Stops the idle timer: the consumer has the bytes, its time is not ours to limit. */
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Releases the timer and the listener on the caller's signal. */
  end(): void {
    this.disarm();
    this.external?.removeEventListener('abort', this.onAbort);
  }

  /** The StrataError for `error`, thrown by fetch or by the body stream. */
  failure(error: unknown, what: string): StrataError {
    if (this.timedOut) {
      return new StrataError(
        'TIMEOUT',
        `${what}: no data from ${this.url} for ${this.timeoutMs} ms`,
        { cause: error, details: { url: this.url, timeoutMs: this.timeoutMs } },
      );
    }
    if (this.external?.aborted) {
      return new StrataError('CLOSED', `${what}: aborted`, {
        cause: error,
        details: { url: this.url },
      });
    }
    if (isStrataError(error)) return error;
    const reason = error instanceof Error ? describe(error) : String(error);
    return new StrataError('IO_ERROR', `${what}: ${reason}`, {
      cause: error,
      details: { url: this.url },
    });
  }
}

/** The body as an async iterable whose `return()` cancels the download, even before the first read. */
class ResponseBody implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  private finished = false;

  constructor(
    private readonly reader: BodyReader,
    private readonly session: DownloadSession,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.finished) return { done: true, value: undefined };
    this.session.arm();
    let result: { done: boolean; value?: unknown };
    try {
      result = await this.reader.read();
    } catch (error) {
      this.finish();
      throw this.session.failure(error, 'the checkpoint download failed');
    }
    this.session.disarm();
    if (result.done) {
      this.finish();
      return { done: true, value: undefined };
    }
    const value = result.value;
    if (!(value instanceof Uint8Array)) {
      this.finish();
      await this.reader.cancel().catch(() => undefined);
      throw new StrataError('INTERNAL', 'the response body yielded something other than bytes');
    }
    return { done: false, value };
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.finished) {
      this.finish();
      await this.reader.cancel().catch(() => undefined);
    }
    return { done: true, value: undefined };
  }

  private finish(): void {
    this.finished = true;
    this.session.end();
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array, void, undefined> {
  // A 200 without a body: the installer reports the archive as truncated.
}

async function readBounded(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader() as BodyReader;
  const pieces: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done || !(value instanceof Uint8Array)) break;
      pieces.push(value);
      total += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(pieces).subarray(0, maxBytes).toString('utf8');
}

/**
 * The leader's error answer as a StrataError: its code when it sent one of ours, else IO_ERROR
 * (a code this build does not know is quoted in the message and `details.sentCode`).
 */
function errorFromResponse(url: string, status: number, text: string): StrataError {
  let code: StrataErrorCode = 'IO_ERROR';
  let message: string | undefined;
  let leaderDetails: unknown;
  let received: ReceivedErrorCode | undefined;
  try {
    const parsed = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: unknown };
    };
    const sent = parsed?.error;
    // The leader runs Strata too, but maybe another version: only a code of ours is taken.
    received = receivedErrorCode(sent?.code, 'IO_ERROR');
    code = received.code;
    if (typeof sent?.message === 'string') message = sent.message;
    leaderDetails = sent?.details;
  } catch {
    // Not JSON (a proxy's error page, say): keep IO_ERROR and quote the text.
  }
  const said = message ?? (text.trim().slice(0, 200) || 'no message');
  const note = received === undefined ? '' : unknownCodeNote(received);
  return new StrataError(code, `leader ${url} answered ${status}: ${said}${note}`, {
    details: {
      url,
      status,
      ...(received?.unknownCode !== undefined ? { sentCode: received.unknownCode } : {}),
      ...(leaderDetails && typeof leaderDetails === 'object' ? { leader: leaderDetails } : {}),
    },
  });
}

/** An error's message with its cause's (fetch says only "fetch failed"; the cause says why). */
function describe(error: Error): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${error.message} (${cause.message})`;
  return error.message;
}
