import { abortedError, fullJitterDelayMs, pause } from './backoff.js';
import { StrataClientError, errorFromAnswer } from './client-error.js';
import type { ResolvedOptions } from './client-options.js';
import { fromBase64, toBase64 } from './bytes.js';
import { ndjsonLines } from './ndjson-lines.js';
import type { Transport } from './transport.js';
import { parseJson } from './transport.js';
import type { WatchEvent, WatchOptions } from './types.js';

/** Errors in the stream (or as its answer) that no other node or later attempt would change. */
const FINAL_CODES = new Set(['HISTORY_TRUNCATED', 'INVALID_ARGUMENT', 'UNAUTHENTICATED']);

/**
 * A live view of the event log (`GET /v1/events?follow=true`), as an async iterable of
 * {@link WatchEvent}s in seqno order. When the connection breaks or its node goes away, it
 * reconnects (to a follower when one answers, else any node) and resumes after the last event it
 * delivered: none is missed, none repeated. Before resuming it checks that the new node's log
 * holds the same last event; if not (the delivered event was a leader's write that never
 * reached the cluster), it ends with `DIVERGED` rather than deliver a history that differs.
 *
 * It connects to followers by preference because a follower's log only holds what the cluster
 * agreed on; a leader's holds its own writes as soon as they are made. It gives up with
 * `UNAVAILABLE` when no node could be reached for the client's retry deadline.
 *
 * Iterate it once. Breaking out of the loop (or the `signal`, or {@link close}) ends the stream.
 */
export class EventWatch implements AsyncIterable<WatchEvent> {
  private current: string | undefined;
  private reconnectCount = 0;
  private last: WatchEvent | undefined;
  private readonly controller = new AbortController();
  private started = false;

  /** @internal Made by {@link StrataClient.watch}. */
  constructor(
    private readonly transport: Transport,
    private readonly options: ResolvedOptions,
    private readonly watch: WatchOptions,
  ) {
    watch.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The node the watch reads from now (undefined while it connects). */
  get node(): string | undefined {
    return this.current;
  }

  /** Times the watch connected again after its stream ended or failed. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** The seqno of the last event delivered (0 before the first). */
  get lastSeqno(): number {
    return this.last?.seqno ?? 0;
  }

  /** Ends the watch: the loop over it finishes without an error. */
  close(): void {
    this.controller.abort();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    if (this.started) {
      throw new StrataClientError('INVALID_ARGUMENT', 'a watch is iterated once; start another');
    }
    this.started = true;
    return this.events();
  }

  private async *events(): AsyncGenerator<WatchEvent> {
    const signal = this.controller.signal;
    let failedNode: string | undefined;
    let retries = 0;
    let outageSince = Date.now();
    let lastError: unknown;
    try {
      while (!signal.aborted) {
        let progressed = false;
        try {
          const node = await this.chooseNode(failedNode, signal);
          this.current = node;
          for await (const event of this.stream(node, signal)) {
            progressed = true;
            retries = 0;
            yield event;
          }
          lastError = new StrataClientError('CLOSED', `${node} ended the event stream`, { node });
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof StrataClientError && FINAL_CODES.has(error.code)) throw error;
          if (error instanceof StrataClientError && error.code === 'DIVERGED') throw error;
          lastError = error;
        }
        failedNode = this.current;
        this.current = undefined;
        if (progressed) outageSince = Date.now();
        const delayMs = fullJitterDelayMs(
          retries++,
          this.options.baseDelayMs,
          this.options.maxDelayMs,
        );
        if (Date.now() + delayMs - outageSince > this.options.deadlineMs) {
          throw new StrataClientError(
            'UNAVAILABLE',
            `the watch could not read events from any node for ${this.options.deadlineMs} ms`,
            { cause: lastError, details: { lastSeqno: this.lastSeqno } },
          );
        }
        await pause(delayMs, signal).catch(() => undefined);
        this.reconnectCount++;
      }
    } finally {
      this.controller.abort();
    }
  }

  /**
   * One connection: yields the events after the last delivered one. On a reconnect it asks from
   * the last delivered seqno and checks that event first (`DIVERGED` when it differs).
   */
  private async *stream(node: string, signal: AbortSignal): AsyncGenerator<WatchEvent> {
    const last = this.last;
    const query = {
      follow: true,
      encoding: 'base64',
      from: last?.seqno ?? this.watch.from,
      prefix: this.watch.prefix === undefined ? undefined : toBase64(this.watch.prefix),
    };
    const spec = { method: 'GET', path: '/v1/events', query, kind: 'read', signal } as const;
    const response = await this.transport.open(node, spec, this.options.timeoutMs);
    if (response.status !== 200) {
      throw errorFromAnswer(response.status, Buffer.from(await response.arrayBuffer()), node);
    }
    let checking = last !== undefined;
    for await (const line of ndjsonLines(response.body ?? emptyBody())) {
      const record = parseJson(Buffer.from(line), node) as Record<string, unknown>;
      if (record.error !== undefined) {
        throw errorFromAnswer(0, Buffer.from(line), node);
      }
      const event = parseEvent(record, node);
      if (checking) {
        checking = false;
        if (!sameEvent(event, last!)) throw diverged(node, last!, event);
        continue;
      }
      if (event.seqno <= this.lastSeqno) continue;
      this.last = event;
      yield event;
    }
    if (signal.aborted) throw abortedError(signal);
  }

  /**
   * The node to read from: a follower that answers `/v1/status` (other than the one that just
   * failed, when another answers), else any node that answers, in the client's node order.
   */
  private async chooseNode(failed: string | undefined, signal: AbortSignal): Promise<string> {
    const nodes = this.transport.pool.nodes;
    const deadline = Date.now() + this.options.timeoutMs;
    const roles = await Promise.all(
      nodes.map(async (node) => {
        try {
          const spec = { method: 'GET', path: '/v1/status', kind: 'read', signal } as const;
          const answer = await this.transport.attempt(node, spec, deadline);
          if (answer.status !== 200) return undefined;
          return (parseJson(answer.body, node) as { role?: unknown }).role;
        } catch {
          return undefined;
        }
      }),
    );
    const rank = (index: number): number =>
      (roles[index] === undefined ? 4 : 0) +
      (roles[index] === 'follower' ? 0 : 1) +
      (nodes[index] === failed ? 2 : 0);
    const order = nodes.map((_, index) => index).sort((a, b) => rank(a) - rank(b) || a - b);
    const best = order[0]!;
    if (roles[best] === undefined) {
      throw new StrataClientError('UNAVAILABLE', 'no node answered /v1/status');
    }
    return nodes[best]!;
  }
}

function emptyBody(): AsyncIterable<Uint8Array> {
  return (async function* () {})();
}

/** A line of `/v1/events` (base64 encoding) as a {@link WatchEvent}. */
function parseEvent(record: Record<string, unknown>, node: string): WatchEvent {
  const { seqno, epoch, type, timestamp } = record;
  if (typeof seqno !== 'number' || typeof epoch !== 'number' || typeof type !== 'string') {
    throw new StrataClientError(
      'BAD_RESPONSE',
      `${node} sent an event without seqno, epoch or type`,
    );
  }
  return {
    seqno,
    epoch,
    type: type as WatchEvent['type'],
    key: fromBase64(record.key, 'key'),
    value: record.value === null ? null : fromBase64(record.value, 'value'),
    timestampMs: typeof timestamp === 'number' ? timestamp : 0,
  };
}

function sameEvent(a: WatchEvent, b: WatchEvent): boolean {
  return (
    a.seqno === b.seqno &&
    a.epoch === b.epoch &&
    a.type === b.type &&
    a.timestampMs === b.timestampMs &&
    a.key.equals(b.key) &&
    (a.value === null ? b.value === null : b.value !== null && a.value.equals(b.value))
  );
}

function diverged(node: string, delivered: WatchEvent, found: WatchEvent): StrataClientError {
  return new StrataClientError(
    'DIVERGED',
    `${node} holds another event at or after seqno ${delivered.seqno} than the one this watch delivered (epoch ${delivered.epoch}); the delivered events are not the cluster's history`,
    {
      node,
      details: {
        seqno: delivered.seqno,
        deliveredEpoch: delivered.epoch,
        foundSeqno: found.seqno,
        foundEpoch: found.epoch,
      },
    },
  );
}
