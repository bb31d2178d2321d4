import { connect } from 'node:net';
import { seededRandom } from '@strata/core';

const BATCH = '{"ops":[{"type":"put","key":"fuzz/b","value":"v"}]}';

/** Well-formed requests the mutations start from (keys under `fuzz/`). */
const TEMPLATES: readonly string[] = [
  'GET /v1/kv/fuzz%2Fa HTTP/1.1\r\nHost: x\r\n\r\n',
  'PUT /v1/kv/fuzz%2Fa HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  `POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BATCH.length}\r\n\r\n${BATCH}`,
  'GET /v1/kv?prefix=fuzz/&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/events?from=1&to=2 HTTP/1.1\r\nHost: x\r\n\r\n',
  'DELETE /v1/kv/fuzz%2Fa?ifSeqno=3 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/history/fuzz%2Fa?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n',
  'PUT /v1/kv/fuzz%2Fc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
];

const NASTY = [
  '\r\n',
  '\n',
  '\0',
  ' ',
  '%',
  '%zz',
  '?',
  '&',
  '\u00ff',
  'Content-Length: 9999\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: abc\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip\r\n',
  'Expect: 100-continue\r\n',
  'Expect: teapot\r\n',
  'Host: y\r\n',
  'X-A\u0001: b\r\n',
  ': novalue\r\n',
  'zz\r\n',
  '{"ops":',
  '"__proto__":{}',
  '?limit=0x10',
  '?limit=1&limit=2',
  '?colour=red',
  '?from=-1',
  ' HTTP/1.0',
  ' HTTP/2.0',
  ' HTTP/1.1 extra',
];

type Mutation = (text: string, random: () => number) => string;

const pick = <T>(items: readonly T[], random: () => number): T =>
  items[Math.floor(random() * items.length)] as T;
const at = (text: string, random: () => number): number => Math.floor(random() * (text.length + 1));

const MUTATIONS: readonly Mutation[] = [
  // Flip one byte.
  (text, random) => {
    const index = Math.floor(random() * text.length);
    return (
      text.slice(0, index) + String.fromCharCode(Math.floor(random() * 256)) + text.slice(index + 1)
    );
  },
  // Insert a nasty fragment anywhere.
  (text, random) => {
    const index = at(text, random);
    return text.slice(0, index) + pick(NASTY, random) + text.slice(index);
  },
  // Delete a span.
  (text, random) => {
    const start = at(text, random);
    return text.slice(0, start) + text.slice(start + 1 + Math.floor(random() * 12));
  },
  // Cut the request short (the server's timeouts must answer it).
  (text, random) => text.slice(0, Math.max(1, at(text, random))),
  // Replace the method with a random token.
  (text, random) =>
    pick(
      ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'BREW', 'get', 'G\u0000T', ''],
      random,
    ) + text.slice(text.indexOf(' ')),
  // Drop the Host header.
  (text) => text.replace('Host: x\r\n', ''),
  // Add a header line after the request line.
  (text, random) => {
    const end = text.indexOf('\r\n') + 2;
    return (
      text.slice(0, end) +
      pick(
        NASTY.filter((item) => item.endsWith('\r\n')),
        random,
      ) +
      text.slice(end)
    );
  },
  // Repeat a header line.
  (text) => {
    const end = text.indexOf('\r\n') + 2;
    const next = text.indexOf('\r\n', end) + 2;
    return text.slice(0, next) + text.slice(end, next) + text.slice(next);
  },
];

/** `count` malformed requests, each one to three mutations of a well-formed one. */
export function malformedRequests(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const requests: string[] = [];
  for (let index = 0; index < count; index++) {
    let text = pick(TEMPLATES, random);
    const mutations = 1 + Math.floor(random() * 3);
    for (let step = 0; step < mutations; step++) text = pick(MUTATIONS, random)(text, random);
    requests.push(text);
  }
  return requests;
}

/** The first answer a server gave on a connection, as far as it arrived. */
export interface RawAnswer {
  /** 0 when no status line arrived. */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The whole answer (headers and a body of the announced length) arrived. */
  readonly complete: boolean;
}

/**
 * Sends `request` (latin1 bytes) on a new connection and reads the first answer: until it is
 * complete, the server closes, or `timeoutMs` passes.
 */
export function exchange(port: number, request: string, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const head = request.startsWith('HEAD ');
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(request, 'latin1')));
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(received, head));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (parseAnswer(received, head).complete) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

/**
 * Parses the first final HTTP/1.1 answer in `bytes` (Content-Length or chunked body; none for an
 * answer to HEAD), after any `100 Continue`.
 */
export function parseAnswer(received: Buffer, head = false): RawAnswer {
  let bytes = received;
  while (/^HTTP\/1\.[01] 1\d\d /.test(bytes.toString('latin1', 0, 16))) {
    const interimEnd = bytes.indexOf('\r\n\r\n');
    if (interimEnd < 0) return { status: 0, headers: {}, body: '', complete: false };
    bytes = bytes.subarray(interimEnd + 4);
  }
  const text = bytes.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const status = statusMatch ? Number(statusMatch[1]) : 0;
  if (headEnd < 0) return { status, headers: {}, body: '', complete: false };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, headEnd).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (head) return { status, headers, body: '', complete: true };
  const rest = bytes.subarray(headEnd + 4);
  const length = headers['content-length'];
  if (length !== undefined) {
    const bodyBytes = Number(length);
    return {
      status,
      headers,
      body: rest.subarray(0, bodyBytes).toString('utf8'),
      complete: rest.length >= bodyBytes,
    };
  }
  if (headers['transfer-encoding'] === 'chunked') {
    let body = '';
    let cursor = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', cursor);
      if (lineEnd < 0) return { status, headers, body, complete: false };
      const size = parseInt(rest.subarray(cursor, lineEnd).toString('latin1'), 16);
      if (size === 0) return { status, headers, body, complete: true };
      if (rest.length < lineEnd + 2 + size + 2) return { status, headers, body, complete: false };
      body += rest.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8');
      cursor = lineEnd + 2 + size + 2;
    }
  }
  return { status, headers, body: '', complete: true };
}
