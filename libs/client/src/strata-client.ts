import { StrataClientError, isStrataClientError } from './client-error.js';
import { normalizeNodeUrl, resolveOptions } from './client-options.js';
import type { ResolvedOptions, StrataClientOptions } from './client-options.js';
import { fromBase64, keyPathSegment, toBase64, toBuffer } from './bytes.js';
import type { BytesInput } from './bytes.js';
import { EventWatch } from './event-watch.js';
import { Transport, parseJson } from './transport.js';
import type { Answer, RequestSpec } from './transport.js';
import type {
  BatchOperation,
  BatchOptions,
  BatchResult,
  Entry,
  GetOptions,
  HistoryOptions,
  HistoryPage,
  KeyRange,
  KeyWriteOptions,
  NodeStatus,
  RangeOptions,
  RangePage,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from './types.js';

/**
 * A client of a Strata node or cluster over its HTTP API (Node's own `fetch`, no dependency).
 *
 * - Writes go to the leader: found by asking the nodes' `/v1/status`, and by following a
 *   `NOT_LEADER` answer's `Location`. Reads go to the first node that answers, in the order given.
 * - Failed calls are retried with exponential backoff and full jitter within `retry.deadlineMs`,
 *   when that is safe: reads always; a write only if no node could have made it (the connection
 *   was refused, a `NOT_LEADER` that names the leader, `REPLICATION_BACKLOG`), or if the call says
 *   it is `idempotent`. Otherwise it throws `OUTCOME_UNKNOWN` and never writes twice.
 * - Reads your writes: every read waits, on whichever node serves it, until that node has applied
 *   the last seqno this client wrote.
 * - Failures are {@link StrataClientError}s carrying the server's code (`CONFLICT`, `NOT_FOUND`...).
 *
 * @example
 * ```ts
 * const client = new StrataClient({ nodes: ['http://10.0.0.1:7070', 'http://10.0.0.2:7070'] });
 * const { seqno } = await client.put('user/1', 'ada');
 * const entry = await client.get('user/1'); // { value: <Buffer 61 64 61>, seqno }
 * await client.put('user/1', 'ada lovelace', { ifSeqno: seqno }); // CONFLICT if it changed
 * for await (const page of client.range({ prefix: 'user/' })) console.log(page.items.length);
 * for await (const event of client.watch({ from: 1, prefix: 'user/' })) console.log(event.seqno);
 * ```
 */
export class StrataClient {
  private readonly options: ResolvedOptions;
  private readonly transport: Transport;
  private writtenSeqno = 0;

  constructor(options: StrataClientOptions) {
    this.options = resolveOptions(options);
    this.transport = new Transport(this.options);
  }

  /** The leader's URL as this client knows it (undefined until a write or a redirect named it). */
  get leader(): string | undefined {
    return this.transport.pool.leader;
  }

  /** The highest seqno this client wrote (0 before its first write): what its reads wait for. */
  get lastWrittenSeqno(): number {
    return this.writtenSeqno;
  }

  /** Sets `key` to `value` (`ifSeqno` makes it conditional: `CONFLICT` when the version differs). */
  async put(
    key: BytesInput,
    value: BytesInput,
    options: KeyWriteOptions = {},
  ): Promise<WriteResult> {
    const answer = await this.write(options, {
      method: 'PUT',
      path: `/v1/kv/${keyPathSegment(key)}`,
      query: { ifSeqno: options.ifSeqno, acks: options.acks },
      body: toBuffer(value),
      headers: { 'content-type': 'application/octet-stream' },
    });
    return this.wrote(writeResult(answer));
  }

  /** Deletes `key` (an event too; `ifSeqno` makes it conditional). */
  async delete(key: BytesInput, options: KeyWriteOptions = {}): Promise<WriteResult> {
    const answer = await this.write(options, {
      method: 'DELETE',
      path: `/v1/kv/${keyPathSegment(key)}`,
      query: { ifSeqno: options.ifSeqno, acks: options.acks },
    });
    return this.wrote(writeResult(answer));
  }

  /** Deletes every key under a prefix, or from `start` (inclusive) to `end` (exclusive): one seqno. */
  async deleteRange(range: KeyRange, options: WriteOptions = {}): Promise<WriteResult> {
    const bounds =
      'prefix' in range
        ? { prefix: toBase64(range.prefix) }
        : { start: toBase64(range.start), end: toBase64(range.end) };
    const answer = await this.write(options, {
      method: 'DELETE',
      path: '/v1/kv',
      query: { ...bounds, encoding: 'base64', acks: options.acks },
    });
    return this.wrote(writeResult(answer));
  }

  /**
   * Writes `ops` atomically (one seqno each, visible together). An op's `ifSeqno` and the
   * `checks` make it conditional: if any fails, nothing is written and the call throws
   * `CONFLICT` listing every failed check in `error.conflicts`.
   */
  async batch(ops: readonly BatchOperation[], options: BatchOptions = {}): Promise<BatchResult> {
    const body = {
      encoding: 'base64',
      ops: ops.map(batchOperationBody),
      ...(options.checks === undefined
        ? {}
        : {
            checks: options.checks.map((check) => ({
              prefix: toBase64(check.prefix),
              noWritesAfter: check.noWritesAfter,
            })),
          }),
    };
    const answer = await this.write(options, {
      method: 'POST',
      path: '/v1/batch',
      query: { acks: options.acks },
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    const result = parseJson(answer.body, answer.node) as BatchResult;
    this.noteWritten(result.lastSeqno);
    return { firstSeqno: result.firstSeqno, lastSeqno: result.lastSeqno, epoch: result.epoch };
  }

  /** `key`'s value and version, or undefined when it is absent (`at`: as of that seqno). */
  async get(key: BytesInput, options: GetOptions = {}): Promise<Entry | undefined> {
    // A read at a seqno reads a fixed state: only the caller's own minSeqno applies.
    const minSeqno =
      options.at === undefined ? this.minSeqno(options.minSeqno) : (options.minSeqno ?? 0);
    try {
      const answer = await this.transport.request({
        method: 'GET',
        path: `/v1/kv/${keyPathSegment(key)}`,
        query: {
          at: options.at,
          ...(minSeqno === 0 ? {} : { minSeqno }),
        },
        kind: 'read',
        signal: options.signal,
      });
      this.transport.pool.noteApplied(answer.node, minSeqno);
      return { value: answer.body, seqno: Number(answer.headers.get('x-seqno')) };
    } catch (error) {
      if (isStrataClientError(error, 'NOT_FOUND') && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * The keys of a range, page by page, in key order (`reverse` for descending): under `prefix`,
   * or from `start` (inclusive) to `end` (exclusive). Every page is read at the first page's
   * seqno (`page.at`), whichever node serves it.
   *
   * @example
   * ```ts
   * for await (const page of client.range({ prefix: 'user/', pageSize: 500 })) {
   *   for (const item of page.items) console.log(item.key.toString(), item.value.toString());
   * }
   * ```
   */
  async *range(options: RangeOptions = {}): AsyncGenerator<RangePage, void, undefined> {
    let cursor = options.cursor;
    let at = cursor === undefined ? options.at : undefined;
    const minSeqno = this.minSeqno(options.minSeqno);
    for (;;) {
      const answer = await this.transport.request({
        method: 'GET',
        path: '/v1/kv',
        query: {
          encoding: 'base64',
          prefix: options.prefix === undefined ? undefined : toBase64(options.prefix),
          start: options.start === undefined ? undefined : toBase64(options.start),
          end: options.end === undefined ? undefined : toBase64(options.end),
          reverse: options.reverse ? true : undefined,
          limit: options.pageSize,
          at,
          cursor,
        },
        kind: 'read',
        // Later pages are read at the first page's seqno; a node that has not applied it
        // answers FUTURE_SEQNO and the transport waits for it there.
        waitSeqno: at === undefined && cursor === undefined ? minSeqno : 0,
        signal: options.signal,
      });
      const page = parseJson(answer.body, answer.node) as {
        items: { key: string; value: string; seqno: number }[];
        cursor: string | null;
        at: number;
      };
      this.transport.pool.noteApplied(answer.node, page.at);
      yield {
        items: page.items.map((item) => ({
          key: fromBase64(item.key, 'key'),
          value: fromBase64(item.value, 'value'),
          seqno: item.seqno,
        })),
        cursor: page.cursor,
        at: page.at,
      };
      if (page.cursor === null) return;
      cursor = page.cursor;
      at = undefined;
    }
  }

  /**
   * One page of `key`'s versions, newest first, from the history the node keeps: `limit`
   * versions (default 100) below `before` (pass a page's `cursor` for the next one).
   */
  async history(key: BytesInput, options: HistoryOptions = {}): Promise<HistoryPage> {
    const answer = await this.transport.request({
      method: 'GET',
      path: `/v1/history/${keyPathSegment(key)}`,
      query: { encoding: 'base64', limit: options.limit, before: options.before },
      kind: 'read',
      waitSeqno: this.minSeqno(options.minSeqno),
      signal: options.signal,
    });
    const page = parseJson(answer.body, answer.node) as {
      key: string;
      versions: {
        seqno: number;
        type: 'put' | 'delete';
        value: string | null;
        timestamp: number | null;
      }[];
      cursor: number | null;
      truncated: boolean;
      oldestReadableSeqno: number;
    };
    return {
      key: fromBase64(page.key, 'key'),
      versions: page.versions.map((version) => ({
        seqno: version.seqno,
        type: version.type,
        value: version.value === null ? null : fromBase64(version.value, 'value'),
        timestampMs: version.timestamp,
      })),
      cursor: page.cursor,
      truncated: page.truncated,
      oldestReadableSeqno: page.oldestReadableSeqno,
    };
  }

  /**
   * The event log from `from` on (optionally under `prefix`), live: an async iterable of events
   * in seqno order that reconnects across node failures and leader changes, resuming after the
   * last event it delivered (none missed, none repeated). See {@link EventWatch}.
   *
   * @example
   * ```ts
   * const watch = client.watch({ from: 1, prefix: 'order/' });
   * for await (const event of watch) {
   *   console.log(event.seqno, event.type, event.key.toString());
   *   if (event.seqno >= 100) break; // ends the stream
   * }
   * ```
   */
  watch(options: WatchOptions = {}): EventWatch {
    return new EventWatch(this.transport, this.options, options);
  }

  /** `/v1/status` of `node` (one of the client's nodes, or any node URL), else of the read node. */
  async status(node?: string, options: { signal?: AbortSignal } = {}): Promise<NodeStatus> {
    const spec: RequestSpec = {
      method: 'GET',
      path: '/v1/status',
      kind: 'read',
      signal: options.signal,
    };
    const answer = await this.transport.request(
      node === undefined ? spec : { ...spec, node: normalizeNodeUrl(node) },
    );
    const status = parseJson(answer.body, answer.node) as NodeStatus;
    if (typeof status.lastSeqno === 'number')
      this.transport.pool.noteApplied(answer.node, status.lastSeqno);
    return status;
  }

  private write(
    options: WriteOptions,
    spec: Omit<RequestSpec, 'kind' | 'idempotent' | 'signal'>,
  ): Promise<Answer> {
    return this.transport.request({
      ...spec,
      kind: 'write',
      idempotent: options.idempotent ?? false,
      signal: options.signal,
    });
  }

  private wrote(result: WriteResult): WriteResult {
    this.noteWritten(result.seqno);
    return result;
  }

  private noteWritten(seqno: number): void {
    if (!Number.isSafeInteger(seqno)) return;
    if (seqno > this.writtenSeqno) this.writtenSeqno = seqno;
    const leader = this.transport.pool.leader;
    if (leader !== undefined) this.transport.pool.noteApplied(leader, seqno);
  }

  /** The seqno a read must wait for: the caller's, and this client's last write. */
  private minSeqno(requested: number | undefined): number {
    return Math.max(requested ?? 0, this.options.readYourWrites ? this.writtenSeqno : 0);
  }
}

function writeResult(answer: Answer): WriteResult {
  const result = parseJson(answer.body, answer.node) as Partial<WriteResult>;
  if (typeof result.seqno !== 'number' || typeof result.epoch !== 'number') {
    throw new StrataClientError('BAD_RESPONSE', `${answer.node} answered a write without seqno`, {
      node: answer.node,
    });
  }
  return { seqno: result.seqno, epoch: result.epoch };
}

function batchOperationBody(op: BatchOperation): Record<string, unknown> {
  const condition = 'ifSeqno' in op && op.ifSeqno !== undefined ? { ifSeqno: op.ifSeqno } : {};
  switch (op.type) {
    case 'put':
      return { type: 'put', key: toBase64(op.key), value: toBase64(op.value), ...condition };
    case 'delete':
      return { type: 'delete', key: toBase64(op.key), ...condition };
    case 'deleteRange':
      return 'prefix' in op
        ? { type: 'deleteRange', prefix: toBase64(op.prefix) }
        : { type: 'deleteRange', start: toBase64(op.start), end: toBase64(op.end) };
  }
}
