import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpErrorAnswer } from './errors.js';

const MIB = 1024 * 1024;

/**
 * The least a lingering close reads and discards after its answer, in bytes (the bound is the
 * larger of this and the route's own body limit). Reading the rest of a refused body is what lets
 * the client see the answer: a socket closed with unread bytes in its receive buffer sends a TCP
 * reset, and the client's kernel then drops the answer the client had not read yet (the client
 * sees EPIPE or ECONNRESET instead of a 413). Clients do not stop at once: undici sending a 70 MiB
 * buffer pushed up to 30 MiB past the answer here before it read it, and under heavy load once
 * more than 64 MiB (it was reset). 128 MiB, twice the default batch limit, covers a whole body of
 * that size from a client that reads only after sending, and is about a second at 1 Gbit/s; a
 * client that keeps sending past it is reset.
 */
export const LINGER_MIN_DRAIN_BYTES = 128 * MIB;

/**
 * The longest a lingering close keeps a connection after its answer, in milliseconds. A client
 * needs one round trip to see the answer and stop sending, and a few seconds cover that on any
 * link; a client that keeps sending slowly (or never closes) holds the socket no longer than this.
 */
export const LINGER_TIMEOUT_MS = 5_000;

/**
 * How a lingering close ended: `body-complete` (the refused body arrived in full and was
 * discarded), `client-closed` (the client closed its side first), `byte-bound` (the client sent
 * more than the drain bound) or `time-bound` (it was still sending at the time bound). After the
 * last two the socket is destroyed with unread bytes, which resets the connection: the bounds are
 * what a client that ignores the answer gets.
 */
export type LingerOutcome = 'body-complete' | 'client-closed' | 'byte-bound' | 'time-bound';

/** What a lingering close did, once its socket has closed. */
export interface LingerResult {
  readonly outcome: LingerOutcome;
  /** Bytes the socket read after the answer (the part of the body that was discarded). */
  readonly drainedBytes: number;
}

/** One connection that is closing in stages. */
interface Linger {
  /** Ends the linger (once); what happens to the socket depends on `outcome`. */
  stop(outcome: LingerOutcome): void;
  /** Stops at the byte bound if the socket has read more than the bound since the answer. */
  checkBytes(): void;
}

/**
 * Closes connections in stages (RFC 9112 section 9.6) after an answer that ends them while the
 * client may still be sending, so that the answer is read instead of lost to a TCP reset:
 *
 * 1. the answer goes out with `Connection: close`, followed by a half-close (FIN): the client sees
 *    a whole response and the end of the stream, and may still send;
 * 2. the server keeps reading and discards what arrives, until the refused body is complete, the
 *    client closes its side, {@link LINGER_TIMEOUT_MS} pass, or more than the drain bound arrives;
 * 3. then it closes the socket. Only after a bound is hit can unread bytes remain (a reset).
 *
 * A socket is lingering from its answer until it closes; {@link isLingering} tells the server's
 * `clientError` handler to leave such a socket alone (its timeouts do not apply any more).
 *
 * @example
 * ```ts
 * const lingering = new LingeringClose();
 * // in an error handler, after reply.hijack():
 * await lingering.answerRequest(request.raw, reply.raw, answer, 64 * 1024 * 1024);
 * ```
 */
export class LingeringClose {
  readonly #lingers = new WeakMap<Socket, Linger>();

  /** @param timeoutMs the time bound of each linger (default {@link LINGER_TIMEOUT_MS}). */
  constructor(readonly timeoutMs: number = LINGER_TIMEOUT_MS) {}

  /** True from an answer given here until its socket closes. */
  isLingering(socket: Socket): boolean {
    return this.#lingers.has(socket);
  }

  /**
   * Notes that a lingering socket read more bytes than its parser could take (after a parse
   * error Node reports each further chunk as a client error): enforces the byte bound.
   */
  noteBytesRead(socket: Socket): void {
    this.#lingers.get(socket)?.checkBytes();
  }

  /**
   * Answers `request` with `answer` as JSON and `Connection: close` while its body is still
   * arriving, then drains that body (at most `maxDrainBytes` more bytes, at most
   * {@link timeoutMs}) before the socket closes. The response finishes (and the server's
   * `onResponse` hooks run) when the linger ends. Resolves with how it ended, once the socket
   * has closed.
   */
  answerRequest(
    request: IncomingMessage,
    response: ServerResponse,
    answer: HttpErrorAnswer,
    maxDrainBytes: number,
  ): Promise<LingerResult> {
    const socket = request.socket;
    const payload = Buffer.from(JSON.stringify(answer.body));
    response.writeHead(answer.statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': payload.length,
      connection: 'close',
    });
    if (request.complete) {
      // Nothing left to drain: an ordinary close cannot reset the connection.
      response.end(payload);
      return Promise.resolve({ outcome: 'body-complete', drainedBytes: 0 });
    }
    // The half-close goes after the answer has reached the socket (a pipelined answer before it
    // may still be queued), so the FIN can never overtake it.
    response.write(payload, (error) => {
      if (!error && !socket.destroyed) socket.end();
    });
    const { linger, done } = this.#start(socket, maxDrainBytes, (outcome) => {
      // Finishing the response lets Node close the socket (its write side is already ended);
      // at a bound the socket is destroyed at once, unread bytes and all.
      if (!response.writableEnded) response.end();
      if (outcome === 'byte-bound' || outcome === 'time-bound') socket.destroy();
    });
    request.on('data', () => linger.checkBytes());
    request.once('end', () => linger.stop('body-complete'));
    // An aborted upload errors the request; the socket's own events end the linger.
    request.on('error', () => undefined);
    request.resume();
    return done;
  }

  /**
   * Writes `answerBytes` (a whole HTTP response with `Connection: close`) straight to `socket`,
   * for errors raised by the HTTP parser where no response object exists (headers over the size
   * limit, a malformed request line), then half-closes and discards whatever the client still
   * sends, within `maxDrainBytes` and {@link timeoutMs}. Resolves once the socket has closed.
   */
  answerConnection(
    socket: Socket,
    answerBytes: Buffer,
    maxDrainBytes: number,
  ): Promise<LingerResult> {
    socket.end(answerBytes);
    return this.#start(socket, maxDrainBytes, (outcome) => {
      if (outcome === 'byte-bound' || outcome === 'time-bound' || socket.writableFinished) {
        socket.destroy();
      } else {
        socket.once('finish', () => socket.destroy());
      }
    }).done;
  }

  /** Tracks `socket` from now until it closes; `onStop` runs once, when a condition ends it. */
  #start(
    socket: Socket,
    maxDrainBytes: number,
    onStop: (outcome: LingerOutcome) => void,
  ): { linger: Linger; done: Promise<LingerResult> } {
    const startBytes = socket.bytesRead;
    let outcome: LingerOutcome | undefined;
    const linger: Linger = {
      stop(reason) {
        if (outcome !== undefined) return;
        outcome = reason;
        onStop(reason);
      },
      checkBytes() {
        if (socket.bytesRead - startBytes > maxDrainBytes) linger.stop('byte-bound');
      },
    };
    this.#lingers.set(socket, linger);
    // The time bound also covers what follows a stop: a socket that is still open then (its
    // answer not flushed to a client that does not read) is destroyed.
    const timer = setTimeout(() => {
      linger.stop('time-bound');
      socket.destroy();
    }, this.timeoutMs);
    timer.unref();
    socket.once('end', () => linger.stop('client-closed'));
    const done = new Promise<LingerResult>((resolve) => {
      const closed = (): void => {
        clearTimeout(timer);
        this.#lingers.delete(socket);
        resolve({
          outcome: outcome ?? 'client-closed',
          drainedBytes: socket.bytesRead - startBytes,
        });
      };
      if (socket.closed) closed();
      else socket.once('close', closed);
    });
    return { linger, done };
  }
}
